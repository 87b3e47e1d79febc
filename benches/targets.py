#!/usr/bin/env python3
"""The performance targets, each ratio measured with its sides alternating.

    python3 benches/targets.py MESHC T10K T20K [WORKDIR]

(`benches/targets.sh` and `benches/targets-both.sh` call this; see them
for the inputs.) WORKDIR defaults to a fresh directory in /dev/shm (tmpfs);
give one on a real disk to measure there.

Why alternation: every target but one is a ratio of two commands' times
(20k against 10k, a build against `cp -r`, a no-op against tar + check).
On a shared virtual machine the speed of the same command drifts by a
quarter from one minute to the next. Measured one command after the other
(all runs of A, then all runs of B, as hyperfine does), a slow minute lands
on one side of a ratio only and moves it by that much; measured in rounds,
each round running every command of the ratio once, in a rotated order, a
slow minute falls on both sides alike. So each group of commands below is
measured round by round; printed are the medians of each command with
their spread (min-max), and the ratio of each round, with its median,
quartiles and spread, which shows how far the machine moved the ratio. A
target is met when the ratio of the medians is (the definition the targets
have always had).

Preparation, per command, untimed: a command that writes a tree gets a
clear path and `sync`, so that no run competes with an earlier run's
writeback (meshc flushes its tree with `syncfs` before its swap; `cp -r`
does not flush). On tmpfs the earlier tree is deleted; on a disk it is only
moved aside, into WORKDIR/trash, deleted at the end: ext4 without a journal
(this machine's) passes over every inode freed in the last 60 s, one by one,
each time it allocates one, so a run that followed the deletion of a
56,000-inode tree would measure that scan (PERFORMANCE.md, "A real disk").
Peak RSS is wait4's `ru_maxrss` of every run (the largest is printed).

MESHC_TARGET_ROUNDS=N sets the rounds of the build groups (7; the others
scale with it), for a quick trial on small inputs. On a disk the work
directory needs about 12 GB free at 10k/20k.
"""

import os
import shutil
import statistics
import subprocess
import sys
import time


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Command:
    def __init__(self, name, argv, writes=None, shell=False):
        self.name, self.argv, self.writes, self.shell = name, argv, writes, shell
        self.runs = []  # (wall, user, system, maxrss KiB)


class Bench:
    def __init__(self, work):
        self.work = work
        os.makedirs(f"{work}/trash", exist_ok=True)
        self.fs = subprocess.run(
            ["df", "--output=fstype", work], capture_output=True, text=True, check=True
        ).stdout.split()[-1]

    def aside(self, tree):
        path = f"{self.work}/{tree}"
        if os.path.lexists(path):
            if self.fs == "tmpfs":
                shutil.rmtree(path)
            else:
                os.rename(path, f"{self.work}/trash/{tree}.{time.monotonic_ns()}")

    def run(self, command, keep):
        if command.writes:
            self.aside(command.writes)
            os.sync()
        start = time.perf_counter()
        child = subprocess.Popen(
            command.argv,
            cwd=self.work,
            shell=command.shell,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        if status != 0:
            sys.exit(f"failed ({status}): {command.argv}")
        if keep:
            command.runs.append((wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss))

    def rounds(self, commands, warmup, rounds):
        """Every command once per round, the order rotated from round to
        round, so each command takes each place in a round equally often."""
        os.sync()
        for i in range(warmup + rounds):
            shift = i % len(commands)
            for command in commands[shift:] + commands[:shift]:
                self.run(command, keep=i >= warmup)


def wall(command):
    return [run[0] for run in command.runs]


def median(values):
    return statistics.median(values)


def ms(seconds):
    return f"{seconds * 1000:,.0f} ms"


def side(command):
    values = wall(command)
    return f"{ms(median(values))} ({min(values) * 1000:,.0f}-{max(values) * 1000:,.0f})"


def spread(ratios):
    q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    return (
        f"{median(ratios):.2f} [{q1:.2f}-{q3:.2f}] ({min(ratios):.2f}-{max(ratios):.2f})"
    )


def cpu(command):
    user = median([run[1] for run in command.runs])
    system = median([run[2] for run in command.runs])
    return f"{user * 1000:,.0f} + {system * 1000:,.0f} ms"


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    meshc, t10k, t20k = (os.path.realpath(arg) for arg in sys.argv[1:4])
    work = sys.argv[4] if len(sys.argv) == 5 else f"/dev/shm/meshc-targets-{os.getpid()}"
    build_rounds = int(os.environ.get("MESHC_TARGET_ROUNDS", "7"))
    os.makedirs(work, exist_ok=True)
    work = os.path.realpath(work)
    bench = Bench(work)
    load_before = load()
    try:
        # The tree that `cp -r`, the no-op and tar read.
        bench.aside("out")
        subprocess.run(
            [meshc, "build", t10k, "-o", "out"], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
        )

        # The cheapest pair and the noisiest: at about 0.1 s a run, one
        # descheduling moves a round's ratio by a tenth (per-round ratios
        # spread 1.35-3.44 in the 2026-12-07 quiet runs), so its median
        # gets five times the build groups' rounds, for about 15 s.
        check10 = Command("check 10k", [meshc, "check", t10k])
        check20 = Command("check 20k", [meshc, "check", t20k])
        bench.rounds([check10, check20], warmup=3, rounds=5 * build_rounds)

        build10 = Command("build 10k", [meshc, "build", t10k, "-o", "b10"], writes="b10")
        build20 = Command("build 20k", [meshc, "build", t20k, "-o", "b20"], writes="b20")
        copy = Command("cp -r", ["cp", "-r", "out", "copy"], writes="copy")
        bench.rounds([build10, copy, build20], warmup=1, rounds=build_rounds)

        # The no-op's budget, 2 x (tar + check), from the same rounds.
        # GNU tar skips reading file contents when its archive is /dev/null
        # itself; the target is stated with that command, and the piped
        # form, which reads every byte, is shown beside it.
        noop = Command("no-op build 10k", [meshc, "build", t10k, "-o", "out"])
        tar = Command("tar", "tar cf - out > /dev/null", shell=True)
        tarpipe = Command("tar piped", "tar cf - out | cat > /dev/null", shell=True)
        check = Command("check 10k (budget)", [meshc, "check", t10k])
        bench.rounds([noop, tar, check, tarpipe], warmup=1, rounds=build_rounds + 4)

        files = sum(len(names) for _, _, names in os.walk(f"{work}/out"))
        size = sum(
            os.path.getsize(os.path.join(top, name)) for top, _, names in os.walk(f"{work}/out") for name in names
        )
        dev = os.path.basename(
            subprocess.run(["df", "--output=source", work], capture_output=True, text=True, check=True).stdout.split()[-1]
        )
    finally:
        load_after = load()
        shutil.rmtree(work, ignore_errors=True)

    if bench.fs == "tmpfs":
        kind = "tmpfs"
    else:
        journal = any(name.startswith(f"{dev}-") for name in os.listdir("/proc/fs/jbd2")) if os.path.isdir("/proc/fs/jbd2") else False
        kind = f"{bench.fs} on {dev}, {'with a' if journal else 'no'} journal"

    per_round = lambda top, bottom: [a / b for a, b in zip(top, bottom)]
    budget = [2 * (t + c) for t, c in zip(wall(tar), wall(check))]
    budget_piped = [2 * (t + c) for t, c in zip(wall(tarpipe), wall(check))]
    m = lambda command: median(wall(command))
    rss = lambda command: max(run[3] for run in command.runs) / 1024
    rows = [
        ("check 10k < 150 ms", side(check10), "", m(check10) < 0.150),
        (
            "check 20k <= 2.1 x 10k",
            f"{side(check20)} / {side(check10)} = {m(check20) / m(check10):.2f} x",
            spread(per_round(wall(check20), wall(check10))),
            m(check20) <= 2.1 * m(check10),
        ),
        (
            "fresh build 10k <= 1.0 x cp -r",
            f"{side(build10)} / {side(copy)} = {m(build10) / m(copy):.2f} x",
            spread(per_round(wall(build10), wall(copy))),
            m(build10) <= 1.0 * m(copy),
        ),
        (
            "fresh build 20k <= 2.1 x 10k",
            f"{side(build20)} / {side(build10)} = {m(build20) / m(build10):.2f} x",
            spread(per_round(wall(build20), wall(build10))),
            m(build20) <= 2.1 * m(build10),
        ),
        (
            "no-op build 10k <= 2 x (tar + check)",
            f"{side(noop)} / 2 x ({ms(m(tar))} + {ms(m(check))}) = {m(noop) / (2 * (m(tar) + m(check))):.2f} of the budget",
            spread(per_round(wall(noop), budget)),
            m(noop) <= 2 * (m(tar) + m(check)),
        ),
        (
            "  (with tar piped, reading every byte; not the target)",
            f"{ms(m(noop))} / 2 x ({ms(m(tarpipe))} + {ms(m(check))}) = {m(noop) / (2 * (m(tarpipe) + m(check))):.2f} of the budget",
            spread(per_round(wall(noop), budget_piped)),
            None,
        ),
        (
            "peak RSS 10k build < 256 MB",
            f"fresh {rss(build10):.0f} MB, no-op {rss(noop):.0f} MB (largest of {len(noop.runs) + len(build10.runs)} runs)",
            "",
            max(rss(build10), rss(noop)) < 256,
        ),
    ]
    print(f"on {kind}; 10k output: {files} files, {size / 1e6:.1f} MB; 20k build peak RSS {rss(build20):.0f} MB")
    print(
        f"load average {load_before} before, {load_after} after (above about 1.5 the wall-clock medians measure the queue)"
    )
    print(
        f"rounds: {len(check10.runs)} check, {len(build10.runs)} build, {len(noop.runs)} no-op"
        " (after warm-up; each round runs every command of its group once, order rotated)"
    )
    print()
    print("| target | medians (min-max) | per-round ratio: median [quartiles] (min-max) | met? |")
    print("|---|---|---|---|")
    for name, value, rounds, ok in rows:
        print(f"| {name} | {value} | {rounds} | {'-' if ok is None else 'yes' if ok else 'NO'} |")
    targets = [ok for *_, ok in rows if ok is not None]
    missed = [name for name, *_, ok in rows if ok is False]
    print()
    print(f"{sum(targets)} of {len(targets)} targets met" + (f"; missed: {'; '.join(missed)}" if missed else ""))
    print()
    print("| CPU time, user + system (medians) | 10k | 20k |")
    print("|---|---|---|")
    print(f"| check | {cpu(check10)} | {cpu(check20)} |")
    print(f"| fresh build | {cpu(build10)} | {cpu(build20)} |")
    print(f"| cp -r | {cpu(copy)} | |")
    print(f"| no-op build | {cpu(noop)} | |")
    print(f"| tar cf - DIR > /dev/null | {cpu(tar)} | |")


if __name__ == "__main__":
    main()
