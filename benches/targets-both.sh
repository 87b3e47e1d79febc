#!/usr/bin/env bash
# The performance targets on both filesystems in one command: `targets.sh`
# first on tmpfs (/dev/shm), then in a directory on the disk that holds the
# repository's parent directory, each table under its heading.
#
#   cargo build --release --bin meshc --example synth
#   target/release/examples/synth --services 10000 --vms 2000 --clusters 20 > /tmp/t10k.kdl
#   target/release/examples/synth --services 20000 --vms 4000 --clusters 20 > /tmp/t20k.kdl
#   bash benches/targets-both.sh /tmp/t10k.kdl /tmp/t20k.kdl
#   MESHC=path/to/meshc bash benches/targets-both.sh ...   # another binary
#
# About twenty minutes on a quiet machine. The disk run needs about 12 GB
# free there (see targets.py). On ext4 without a journal, let a minute pass
# after deleting a large tree (another run's, say) before starting: the
# disk run's first builds would otherwise pay for those freed inodes.
#
# Every target but one is a ratio of two commands' times, and on a shared
# virtual machine a command's speed drifts by a quarter from one minute to
# the next. So each ratio's sides are measured in alternation, round by
# round (each round runs every command of the ratio once, in rotated
# order): a slow minute then falls on both sides alike instead of on one
# side only, as it did when all runs of one command came before the next's.
# The per-round ratios are printed with their spread, to show how far the
# machine moved them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
disk=$(cd "$here/../.." && pwd)/meshc-targets-$$
if [ "$(df --output=fstype "$(dirname "$disk")" | tail -1)" = tmpfs ]; then
    echo "$(dirname "$disk") is on tmpfs: no disk to measure" >&2
    exit 2
fi
echo "## tmpfs (/dev/shm)"
echo
bash "$here/targets.sh" "$1" "$2" "/dev/shm/meshc-targets-$$"
echo
echo "## disk ($disk)"
echo
bash "$here/targets.sh" "$1" "$2" "$disk"
