#!/usr/bin/env bash
# The performance targets, measured whole-process on any pair of topologies
# (a 10k-service one and a 20k-service one, from `synth` or from any other
# generator), in one working directory, and printed as a table of measured
# vs target.
#
#   apt-get install -y hyperfine time python3
#   cargo build --release --bin meshc --example synth
#   target/release/examples/synth --services 10000 --vms 2000 --clusters 20 > /tmp/t10k.kdl
#   target/release/examples/synth --services 20000 --vms 4000 --clusters 20 > /tmp/t20k.kdl
#   bash benches/targets.sh /tmp/t10k.kdl /tmp/t20k.kdl [WORKDIR]
#   MESHC=path/to/meshc bash benches/targets.sh ...   # another binary
#
# WORKDIR defaults to a fresh directory in /dev/shm (tmpfs); give one on a
# real disk (ext4 here) to measure there as well, or run
# `bash benches/targets-both.sh T10K T20K`, which does both. Every run that
# writes a tree is prepared by `sync`, so no run competes with the previous
# run's writeback (meshc flushes its tree with `syncfs` before the swap;
# `cp -r` does not flush). The previous tree is deleted first on tmpfs, but
# on a disk only moved aside (into WORKDIR/trash, deleted at the end): ext4
# without a journal (this machine's) passes over every inode freed in the
# last 60 s, one by one, each time it allocates one, so a run that follows
# the deletion of a 56,000-inode tree spends seconds of system time in that
# scan (PERFORMANCE.md, "A real disk"), whichever program it is. Every
# median comes from hyperfine runs taken in this one invocation, so the
# ratios compare like with like; the CPU time (user + system, hyperfine's
# means) is printed beside them: on a shared machine it is the figure load
# distorts least. Takes about five minutes on tmpfs; on a disk it needs
# about 30 times the 10k tree's size free (about 8 GB).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
t10k=$(realpath "$1")
t20k=$(realpath "$2")
work=${3:-/dev/shm/meshc-targets-$$}
M=${MESHC:-$root/target/release/meshc}
H="hyperfine -N --style none"
mkdir -p "$work/trash"
cd "$work"
fs=$(df --output=fstype . | tail -1)
# `sh aside.sh TREE`: clears the way for a run that writes TREE (see above).
cat > aside.sh <<END
if [ -e "\$1" ]; then
    if [ "$fs" = tmpfs ]; then rm -rf "\$1"; else mv "\$1" "trash/\$1.\$(date +%s%N)"; fi
fi
sync
END
load() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(load)

median() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$1"; }

$H --warmup 3 --runs 15 --export-json check10.json "$M check $t10k"
$H --warmup 2 --runs 10 --export-json check20.json "$M check $t20k"

$H --warmup 1 --runs 7 --prepare "sh aside.sh out" --export-json build10.json "$M build $t10k -o out"
sh aside.sh out
$M build "$t10k" -o out > /dev/null
$H --warmup 1 --runs 7 --prepare "sh aside.sh copy" --export-json cp10.json "cp -r out copy"
sh aside.sh copy
$H --warmup 1 --runs 7 --export-json noop10.json "$M build $t10k -o out"
# GNU tar skips reading file contents when its archive is /dev/null itself;
# the target is stated with that command, and the piped form, which reads
# every byte, is shown beside it.
$H --warmup 1 --runs 7 --export-json tar10.json "bash -c 'tar cf - out > /dev/null'"
$H --warmup 1 --runs 7 --export-json tarpipe10.json "bash -c 'tar cf - out | cat > /dev/null'"
files=$(find out -type f | wc -l)
bytes=$(du -s --apparent-size --block-size=1 out | cut -f1)
sh aside.sh out
sh aside.sh rss
rss10=$(/usr/bin/time -f %M "$M" build "$t10k" -o rss 2>&1 >/dev/null | tail -1)
rss10noop=$(/usr/bin/time -f %M "$M" build "$t10k" -o rss 2>&1 >/dev/null | tail -1)
sh aside.sh rss

$H --warmup 1 --runs 5 --prepare "sh aside.sh out20" --export-json build20.json "$M build $t20k -o out20"
sh aside.sh out20
rss20=$(/usr/bin/time -f %M "$M" build "$t20k" -o rss 2>&1 >/dev/null | tail -1)

# ext4 keeps a journal when the kernel lists one for the device in /proc/fs/jbd2.
dev=$(basename "$(df --output=source . | tail -1)")
case $fs in
tmpfs) kind=tmpfs ;;
*) if compgen -G "/proc/fs/jbd2/$dev-*" > /dev/null; then kind="$fs on $dev, with a journal"; else kind="$fs on $dev, no journal"; fi ;;
esac

python3 - "$files" "$bytes" "$rss10" "$rss10noop" "$rss20" "$kind" "$load_before" "$(load)" <<'EOF'
import json, sys
files, size, rss10, rss10noop, rss20, fs, load_before, load_after = sys.argv[1:]
m = lambda name: json.load(open(name + ".json"))["results"][0]["median"]
def cpu(name):
    r = json.load(open(name + ".json"))["results"][0]
    return f"{r['user'] * 1000:.0f} + {r['system'] * 1000:.0f} ms"
check10, check20 = m("check10"), m("check20")
build10, build20, cp10, noop10 = m("build10"), m("build20"), m("cp10"), m("noop10")
tar10, tarpipe10 = m("tar10"), m("tarpipe10")
ms = lambda s: f"{s * 1000:.0f} ms"
rows = [
    ("check 10k < 150 ms", ms(check10), check10 < 0.150),
    ("fresh build 10k <= 1.0 x cp -r",
     f"{ms(build10)} / {ms(cp10)} = {build10 / cp10:.2f} x", build10 <= 1.0 * cp10),
    ("no-op build 10k <= 2 x (tar + check)",
     f"{ms(noop10)} / 2 x ({ms(tar10)} + {ms(check10)}) = {noop10 / (2 * (tar10 + check10)):.2f} of the budget",
     noop10 <= 2 * (tar10 + check10)),
    ("  (with tar piped, reading every byte; not the target)",
     f"{ms(noop10)} / 2 x ({ms(tarpipe10)} + {ms(check10)}) = {noop10 / (2 * (tarpipe10 + check10)):.2f} of the budget",
     None),
    ("peak RSS 10k build < 256 MB",
     f"fresh {int(rss10) / 1024:.0f} MB, no-op {int(rss10noop) / 1024:.0f} MB",
     max(int(rss10), int(rss10noop)) < 256 * 1024),
    ("check 20k <= 2.1 x 10k", f"{ms(check20)} = {check20 / check10:.2f} x", check20 <= 2.1 * check10),
    ("fresh build 20k <= 2.1 x 10k", f"{ms(build20)} = {build20 / build10:.2f} x", build20 <= 2.1 * build10),
]
print(f"on {fs}; 10k output: {files} files, {int(size) / 1e6:.1f} MB; 20k build peak RSS {int(rss20) / 1024:.0f} MB")
print(f"load average {load_before} before, {load_after} after (above about 1.5 the wall-clock medians measure the queue)")
print("| target | measured (medians) | met? |")
print("|---|---|---|")
for name, value, ok in rows:
    print(f"| {name} | {value} | {'-' if ok is None else 'yes' if ok else 'NO'} |")
targets = [ok for _, _, ok in rows if ok is not None]
missed = [name for name, _, ok in rows if ok is False]
print()
print(f"{sum(targets)} of {len(targets)} targets met" + (f"; missed: {'; '.join(missed)}" if missed else ""))
print()
print("| CPU time, user + system (means) | 10k | 20k |")
print("|---|---|---|")
print(f"| check | {cpu('check10')} | {cpu('check20')} |")
print(f"| fresh build | {cpu('build10')} | {cpu('build20')} |")
print(f"| cp -r | {cpu('cp10')} | |")
print(f"| no-op build | {cpu('noop10')} | |")
print(f"| tar cf - DIR > /dev/null | {cpu('tar10')} | |")
EOF
cd / && rm -rf "$work"
