#!/usr/bin/env bash
# `meshc import` of a 10k-service mesh's output: the budget is under 1 s of
# CPU time (user + sys, which a loaded machine does not inflate the way it
# does wall time), release build.
#
#   cargo build --release --bin meshc --example synth
#   bash benches/import.sh [MESHC] [WORKDIR]   # default target/release/meshc, /tmp/meshc-import
#
# It builds synth's 10k topology into WORKDIR/out, then imports that tree
# (every YAML, VM file and the runbook) five times, printing each run's
# CPU seconds and peak RSS, and checks that the imported topology builds
# the same Kubernetes files.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
M=${1:-$root/target/release/meshc}
work=${2:-/tmp/meshc-import}
S=${SYNTH:-$root/target/release/examples/synth}
rm -rf "$work"
mkdir -p "$work"
cd "$work"
"$S" --services 10000 --vms 2000 --clusters 20 > topology.kdl
"$M" build topology.kdl -o out > /dev/null
echo "files: $(find out -type f | wc -l), bytes: $(du -sb out | cut -f1)"
uptime
for i in 1 2 3 4 5; do
    rm -f imported.kdl
    /usr/bin/time -f "run $i: %U user %S sys (CPU s), %M KiB peak RSS, %e s wall" \
        "$M" import out -o imported.kdl 2> "time-$i.txt" > /dev/null || true
    tail -1 "time-$i.txt"
done
uptime
"$M" build imported.kdl -o again > /dev/null || true
if diff -rq -x RUNBOOK.md -x .meshc-manifest <(cd out && find kubernetes -type f | sort) <(cd again && find kubernetes -type f | sort) > /dev/null; then
    echo "round trip: the same Kubernetes file list"
else
    echo "round trip: the Kubernetes file lists differ (see tests/import.rs for the synthetic mesh's status)"
fi
