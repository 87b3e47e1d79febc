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
# real disk (ext4 here) to measure there as well: run it on both. Every run
# that writes a tree is prepared by deleting the previous one and `sync`,
# so no run competes with the previous run's writeback (meshc flushes its
# tree with `syncfs` before the swap; `cp -r` does not flush). Every median
# comes from hyperfine runs taken in this one invocation, so the ratios
# compare like with like. Takes about five minutes on tmpfs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
t10k=$(realpath "$1")
t20k=$(realpath "$2")
work=${3:-/dev/shm/meshc-targets-$$}
M=${MESHC:-$root/target/release/meshc}
H="hyperfine -N --style none"
mkdir -p "$work"
cd "$work"

median() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$1"; }

$H --warmup 3 --runs 15 --export-json check10.json "$M check $t10k"
$H --warmup 2 --runs 10 --export-json check20.json "$M check $t20k"

$H --warmup 1 --runs 7 --prepare "sh -c 'rm -rf out && sync'" --export-json build10.json "$M build $t10k -o out"
$M build "$t10k" -o out > /dev/null
$H --warmup 1 --runs 7 --prepare "sh -c 'rm -rf copy && sync'" --export-json cp10.json "cp -r out copy"
rm -rf copy
sync
$H --warmup 1 --runs 7 --export-json noop10.json "$M build $t10k -o out"
# GNU tar skips reading file contents when its archive is /dev/null itself;
# the target is stated with that command, and the piped form, which reads
# every byte, is shown beside it.
$H --warmup 1 --runs 7 --export-json tar10.json "bash -c 'tar cf - out > /dev/null'"
$H --warmup 1 --runs 7 --export-json tarpipe10.json "bash -c 'tar cf - out | cat > /dev/null'"
files=$(find out -type f | wc -l)
bytes=$(du -s --apparent-size --block-size=1 out | cut -f1)
rm -rf out rss
sync
rss10=$(/usr/bin/time -f %M "$M" build "$t10k" -o rss 2>&1 >/dev/null | tail -1)
rss10noop=$(/usr/bin/time -f %M "$M" build "$t10k" -o rss 2>&1 >/dev/null | tail -1)
rm -rf rss

$H --warmup 1 --runs 5 --prepare "sh -c 'rm -rf out20 && sync'" --export-json build20.json "$M build $t20k -o out20"
rm -rf out20 rss
sync
rss20=$(/usr/bin/time -f %M "$M" build "$t20k" -o rss 2>&1 >/dev/null | tail -1)
rm -rf rss

python3 - "$files" "$bytes" "$rss10" "$rss10noop" "$rss20" "$(df -T . | awk 'NR == 2 { print $2 }')" <<'EOF'
import json, sys
files, size, rss10, rss10noop, rss20, fs = sys.argv[1:]
m = lambda name: json.load(open(name + ".json"))["results"][0]["median"]
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
    ("  (with tar piped, reading every byte)",
     f"{ms(noop10)} / 2 x ({ms(tarpipe10)} + {ms(check10)}) = {noop10 / (2 * (tarpipe10 + check10)):.2f} of the budget",
     noop10 <= 2 * (tarpipe10 + check10)),
    ("peak RSS 10k build < 256 MB",
     f"fresh {int(rss10) / 1024:.0f} MB, no-op {int(rss10noop) / 1024:.0f} MB",
     max(int(rss10), int(rss10noop)) < 256 * 1024),
    ("check 20k <= 2.1 x 10k", f"{ms(check20)} = {check20 / check10:.2f} x", check20 <= 2.1 * check10),
    ("fresh build 20k <= 2.1 x 10k", f"{ms(build20)} = {build20 / build10:.2f} x", build20 <= 2.1 * build10),
]
print(f"on {fs}; 10k output: {files} files, {int(size) / 1e6:.1f} MB; 20k build peak RSS {int(rss20) / 1024:.0f} MB")
print("| target | measured (medians) | met? |")
print("|---|---|---|")
for name, value, ok in rows:
    print(f"| {name} | {value} | {'yes' if ok else 'no'} |")
EOF
cd / && rm -rf "$work"
