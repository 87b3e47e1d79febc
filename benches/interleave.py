#!/usr/bin/env python3
"""Commands measured in alternation, for CPU time on a shared machine.

    python3 benches/interleave.py ROUNDS PREPARE -- NAME=ENV::COMMAND ...

Each round runs every command once (in reverse order every other round),
each after the shell command PREPARE (untimed; "" for none), so that a
busy minute on a shared machine falls on every command alike. A command
runs with the variables of ENV ("X=1" for none; "MIMALLOC_ALLOW_THP=0"
for an allocator option). Printed per command: the medians of wall time
and of user, system and user + system CPU time (the child's, from
`wait4`), and the smallest CPU time. The first round is a warm-up and not
counted. Example, a fresh build of two binaries against `cp -r`:

    python3 benches/interleave.py 6 "rm -rf /dev/shm/o; sync" -- \\
        "base=X=1::/tmp/meshc.base build /tmp/t10k.kdl -o /dev/shm/o" \\
        "now=X=1::target/release/meshc build /tmp/t10k.kdl -o /dev/shm/o" \\
        "cp=X=1::cp -r /dev/shm/tree /dev/shm/o"
"""

import os
import shlex
import statistics
import subprocess
import sys
import time


def run(spec, prepare):
    env_text, command = spec.split("=", 1)[1].split("::", 1)
    env = dict(os.environ)
    for pair in env_text.split():
        key, value = pair.split("=", 1)
        env[key] = value
    if prepare:
        subprocess.run(prepare, shell=True, check=True)
    start = time.perf_counter()
    child = subprocess.Popen(shlex.split(command), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        sys.exit(f"failed ({status}): {command}")
    return time.perf_counter() - start, usage.ru_utime, usage.ru_stime


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(__doc__)
    rounds, prepare, specs = int(sys.argv[1]), sys.argv[2], sys.argv[4:]
    results = {spec: [] for spec in specs}
    for i in range(rounds + 1):
        for spec in specs if i % 2 == 0 else specs[::-1]:
            measured = run(spec, prepare)
            if i > 0:
                results[spec].append(measured)
    ms = lambda values: f"{statistics.median(values) * 1000:6.0f}"
    for spec, runs in results.items():
        wall, user, system = zip(*runs)
        cpu = [u + s for u, s in zip(user, system)]
        print(
            f"{spec.split('=', 1)[0]:12} wall {ms(wall)} ms  user {ms(user)}  sys {ms(system)}"
            f"  cpu {ms(cpu)} (min {min(cpu) * 1000:.0f})"
        )


if __name__ == "__main__":
    main()
