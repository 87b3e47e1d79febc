#!/bin/sh
# Seeds the fuzz corpora from the examples and the test fixtures (good and
# bad), so that libFuzzer starts from real topologies instead of from
# nothing. Run from anywhere; the corpora are not committed (.gitignore).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
for target in kdl compile; do
    mkdir -p "$here/corpus/$target"
    find "$root/examples" "$root/tests/ok" "$root/tests/fail" -name '*.kdl' -size -64k \
        -exec cp {} "$here/corpus/$target/" \;
done
mkdir -p "$here/corpus/toml"
find "$root/examples" "$root/tests/ok" "$root/tests/fail" -name '*.toml' -size -64k \
    -exec sh -c 'for f; do cp "$f" "'"$here"'/corpus/toml/$(echo "$f" | tr / _)"; done' sh {} +
