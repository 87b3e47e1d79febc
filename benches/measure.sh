#!/usr/bin/env bash
# Whole-process measurements behind PERFORMANCE.md: `meshc check` and
# `meshc build` (fresh and no-op) on Bookinfo and on synthetic topologies,
# the I/O floor (cp -r, tar) on the tree they produce, and peak RSS.
#
#   apt-get install -y hyperfine time
#   cargo build --release --bin meshc --example synth
#   bash benches/measure.sh [WORKDIR]        # default /tmp/meshc-perf
#
# BIG and HUGE override the synthetic sizes ("SERVICES VMS CLUSTERS"), e.g.
# BIG="500 100 5" HUGE="1000 200 5" for a quick try. hyperfine writes one
# JSON file per measurement into WORKDIR. With the default sizes the run
# takes about half an hour and needs about 2 GB of disk in WORKDIR and, for
# the tmpfs series, about 600 MB in /dev/shm.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/meshc-perf}
big=(${BIG:-10000 2000 20})
huge=(${HUGE:-20000 4000 20})
M=$root/target/release/meshc
S=$root/target/release/examples/synth
H="hyperfine -N --style basic"
mkdir -p "$work"
cd "$work"

cp "$root/examples/bookinfo-vm/topology.kdl" bookinfo.kdl
$S --services "${big[0]}" --vms "${big[1]}" --clusters "${big[2]}" > big.kdl
$S --services "${big[0]}" --vms "${big[1]}" --clusters "${big[2]}" --syntax toml > big.toml
$S --services "${huge[0]}" --vms "${huge[1]}" --clusters "${huge[2]}" > huge.kdl
$S --services "${huge[0]}" --vms "${huge[1]}" --clusters "${huge[2]}" --syntax toml > huge.toml
ls -l bookinfo.kdl big.* huge.*

# Bookinfo: check, fresh build, no-op build.
$H --warmup 5 --runs 50 --export-json bi-check.json "$M check bookinfo.kdl"
$H --warmup 3 --runs 30 --prepare "rm -rf bi-out" --export-json bi-build.json "$M build bookinfo.kdl -o bi-out"
$M build bookinfo.kdl -o bi-out
$H --warmup 3 --runs 30 --export-json bi-noop.json "$M build bookinfo.kdl -o bi-out"

# check, in both syntaxes.
for n in big huge; do
    $H --warmup 1 --runs 5 --export-json "check-$n-kdl.json" "$M check $n.kdl"
    $H --warmup 1 --runs 5 --export-json "check-$n-toml.json" "$M check $n.toml"
done

# The big build on disk: fresh, no-op, and the I/O floor on its tree.
# GNU tar does not read file contents when the archive is /dev/null itself,
# so the piped form is measured too: that one reads every byte.
rm -rf out-big
$H --runs 3 --prepare "rm -rf out-big" --export-json build-big.json "$M build big.kdl -o out-big"
$M build big.kdl -o out-big
$H --runs 3 --export-json noop-big.json "$M build big.kdl -o out-big"
$H --runs 3 --prepare "rm -rf copy-big" --export-json cp-big.json "cp -r out-big copy-big"
rm -rf copy-big
$H --warmup 1 --runs 5 --export-json tar-big.json \
    "bash -c 'tar cf - out-big > /dev/null'" "bash -c 'tar cf - out-big | cat > /dev/null'"
echo "files: $(find out-big -type f | wc -l), bytes: $(du -s --apparent-size --block-size=1 out-big | cut -f1)"

# The huge build, for the scaling ratio.
rm -rf out-huge
$H --runs 2 --prepare "rm -rf out-huge" --export-json build-huge.json "$M build huge.kdl -o out-huge"
$M build huge.kdl -o out-huge
$H --runs 2 --export-json noop-huge.json "$M build huge.kdl -o out-huge"
echo "files: $(find out-huge -type f | wc -l), bytes: $(du -s --apparent-size --block-size=1 out-huge | cut -f1)"

# Peak RSS.
for f in bookinfo.kdl big.kdl big.toml huge.kdl; do
    /usr/bin/time -v "$M" check "$f" 2>&1 | grep -E "Maximum resident" | sed "s|^|check $f: |"
done
rm -rf rss-out
/usr/bin/time -v "$M" build big.kdl -o rss-out 2>&1 | grep -E "Maximum resident" | sed "s|^|build big fresh: |"
/usr/bin/time -v "$M" build big.kdl -o rss-out 2>&1 | grep -E "Maximum resident" | sed "s|^|build big no-op: |"
/usr/bin/time -v "$M" build huge.kdl -o out-huge 2>&1 | grep -E "Maximum resident" | sed "s|^|build huge no-op: |"
rm -rf rss-out out-huge

# The big build on tmpfs: no disk, so the CPU cost of meshc and cp alone.
shm=/dev/shm/meshc-perf-$$
mkdir -p "$shm"
$H --runs 3 --prepare "rm -rf $shm/out" --export-json shm-build-big.json "$M build big.kdl -o $shm/out"
$M build big.kdl -o "$shm/out"
$H --runs 3 --export-json shm-noop-big.json "$M build big.kdl -o $shm/out"
$H --runs 5 --prepare "rm -rf $shm/copy" --export-json shm-cp-big.json "cp -r $shm/out $shm/copy"
$H --warmup 1 --runs 5 --export-json shm-tar-big.json \
    "bash -c 'tar cf - $shm/out > /dev/null'" "bash -c 'tar cf - $shm/out | cat > /dev/null'"
rm -rf "$shm" out-big

# Medians, from the JSON files.
python3 - <<'EOF'
import glob, json, statistics
for f in sorted(glob.glob("*.json")):
    for r in json.load(open(f))["results"]:
        t = r["times"]
        print(f"{f:22} median {statistics.median(t):9.4f} s  min {min(t):9.4f}  max {max(t):9.4f}"
              f"  user {r['user']:8.3f}  sys {r['system']:7.3f}  runs {len(t)}  {r['command']}")
EOF
