#!/usr/bin/env bash
# The performance targets, measured whole-process on any pair of topologies
# (a 10k-service one and a 20k-service one, from `synth` or from any other
# generator), in one working directory, and printed as a table of measured
# vs target.
#
#   apt-get install -y time python3
#   cargo build --release --bin meshc --example synth
#   target/release/examples/synth --services 10000 --vms 2000 --clusters 20 > /tmp/t10k.kdl
#   target/release/examples/synth --services 20000 --vms 4000 --clusters 20 > /tmp/t20k.kdl
#   bash benches/targets.sh /tmp/t10k.kdl /tmp/t20k.kdl [WORKDIR]
#   MESHC=path/to/meshc bash benches/targets.sh ...   # another binary
#
# WORKDIR defaults to a fresh directory in /dev/shm (tmpfs); give one on a
# real disk (ext4 here) to measure there as well, or run
# `bash benches/targets-both.sh T10K T20K`, which does both.
#
# The measuring is `targets.py`: each ratio's two sides are run in
# alternation, round by round (its header says why that is the fair design
# on a shared machine), every run that writes a tree is prepared by `sync`,
# and on a disk earlier trees are moved aside rather than deleted (ext4
# without a journal makes the next writer pay for freed inodes). Printed:
# medians with their spread, each ratio per round, CPU time, peak RSS.
# About ten minutes per filesystem on a quiet machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exec python3 "$root/benches/targets.py" "${MESHC:-$root/target/release/meshc}" "$1" "$2" \
    "${3:-/dev/shm/meshc-targets-$$}"
