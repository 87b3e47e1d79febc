#!/usr/bin/env python3
"""The 20k/10k scaling target, measured with alternating runs.

    python3 benches/ratio.py [--runs N] [--work DIR] MESHC T10K T20K

`targets.sh` takes all of hyperfine's 10k runs and then all of its 20k
runs, so a slow minute on a shared virtual machine lands on one side of the
ratio. Here the two sizes alternate, run by run, so drift falls on both
alike; the medians and their ratio are printed for `check` and for a
`build` into an empty directory (removed between runs, outside the timing,
on tmpfs by default). The first two rounds are warm-up and not counted.
"""

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time


def timed(command):
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--work", default="/dev/shm")
    parser.add_argument("meshc")
    parser.add_argument("t10k")
    parser.add_argument("t20k")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="meshc-ratio-", dir=args.work)
    out = f"{work}/out"
    sizes = {"10k": args.t10k, "20k": args.t20k}
    times = {(job, size): [] for job in ("check", "build") for size in sizes}
    try:
        for round_ in range(args.runs + 2):
            for size, topology in sizes.items():
                check = timed([args.meshc, "check", topology])
                shutil.rmtree(out, ignore_errors=True)
                build = timed([args.meshc, "build", topology, "-o", out])
                if round_ >= 2:
                    times[("check", size)].append(check)
                    times[("build", size)].append(build)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"{args.runs} alternating runs per size, medians")
    print("| | 10k | 20k | 20k / 10k |")
    print("|---|---|---|---|")
    for job in ("check", "build"):
        small = statistics.median(times[(job, "10k")])
        large = statistics.median(times[(job, "20k")])
        print(f"| {job} | {small * 1000:.0f} ms | {large * 1000:.0f} ms | {large / small:.2f} x |")


if __name__ == "__main__":
    main()
