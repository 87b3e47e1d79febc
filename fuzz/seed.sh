#!/bin/sh
# Seeds the fuzz corpora from the examples and the test fixtures (good and
# bad), so that libFuzzer starts from real topologies instead of from
# nothing. Run from anywhere; the corpora are not committed (.gitignore).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
for target in kdl compile fmt import_files; do
    mkdir -p "$here/corpus/$target"
    find "$root/examples" "$root/tests/ok" "$root/tests/fail" -name '*.kdl' -size -64k \
        -exec cp {} "$here/corpus/$target/" \;
done
# import_files: the VM files meshc writes (insta snapshots, header and all).
find "$root/snapshots/vm" -name '*.env.snap' -o -name '*hosts.snap' -o -name '*dnsmasq.conf.snap' |
    while read -r f; do cp "$f" "$here/corpus/import_files/$(echo "$f" | tr / _)"; done
mkdir -p "$here/corpus/toml"
find "$root/examples" "$root/tests/ok" "$root/tests/fail" -name '*.toml' -size -64k \
    -exec sh -c 'for f; do cp "$f" "'"$here"'/corpus/toml/$(echo "$f" | tr / _)"; done' sh {} +
# iptables: argument vectors, NUL-separated, one per file.
mkdir -p "$here/corpus/iptables"
i=0
for argv in '' '-p\00015001\000-z\00015006\000-u\0001337\000-m\000REDIRECT\000-i\000*\000-b\000*' \
    '--istio-version\0001.7\000-m\000TPROXY\000-x\00010.0.0.0/8' \
    '--istio-version\0001.23.6\000-b\0009080,9090\000-d\00015090,15021\000-o\00022' \
    '--istio-version\000master\000--ipv6\000--dns-server\000::1\000-q\0001.2.3.4/32' ; do
    i=$((i + 1))
    printf -- "$argv" > "$here/corpus/iptables/seed-$i"
done
# import: the YAML and VM-file fixtures of the importer, one file per seed
# (it lands in the first slot, a cluster's YAML).
mkdir -p "$here/corpus/import"
find "$root/tests/import" -type f -size -64k |
    while read -r f; do cp "$f" "$here/corpus/import/$(echo "$f" | tr / _)"; done
