#!/usr/bin/env bash
# What showing diagnostics costs: `meshc check` of a 10k-service topology
# with about 450 warnings, in every format. Human output shows the first 50
# per file and the machine formats up to 1000, so the human report must not
# cost more than the JSON one (PERFORMANCE.md, "Diagnostics cost only what
# is shown").
#
#   cargo build --release --bin meshc --example synth
#   bash benches/diagnostics.sh [MESHC] [WORKDIR]   # default target/release/meshc, /tmp/meshc-diag
#
# The topology: synth's 10k with --cycles (48 W901), then 5 in 6 of its
# `entry-point #true` lines dropped, which makes ~400 services nothing calls
# (W904) spread through the file: 447 warnings with seed 1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
M=${1:-$root/target/release/meshc}
work=${2:-/tmp/meshc-diag}
S=${SYNTH:-$root/target/release/examples/synth}
mkdir -p "$work"
cd "$work"
"$S" --services 10000 --vms 2000 --clusters 20 --cycles > cycles.kdl
awk '/entry-point #true/ && ++n % 6 {next} 1' cycles.kdl > warn.kdl
echo "warnings: $("$M" check --format json warn.kdl | grep -c '"code"')"
uptime
hyperfine -N --style basic --warmup 3 --runs 30 --export-json diagnostics.json \
    "$M check warn.kdl" \
    "$M check --format json warn.kdl" \
    "$M check --format sarif warn.kdl" \
    "$M check --format github warn.kdl"
uptime
