"""Run a command and write its own resource use as JSON: exit code, CPU
seconds, peak RSS (standard library only; started as a fresh interpreter).

Why a launcher: a child's peak RSS as the kernel reports it (wait4's
ru_maxrss) starts at the peak of the process it was spawned from. Spawned
from pytest, whose peak depends on every test run before, a 60 MiB
configsync read as pytest's 300. Spawned from this small process, it is the
command's own.

    python rusage_launch.py OUT.json WALL_LIMIT_SECONDS ARGV...

stdin, stdout and stderr are the command's; past WALL_LIMIT_SECONDS it is
killed (a runaway) and its exit code is -9.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main() -> None:
    out, limit, argv = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    began = time.monotonic()
    proc = subprocess.Popen(argv)
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - began > limit:
            proc.kill()
        time.sleep(0.005)
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"exit_code": os.waitstatus_to_exitcode(status), "seconds": time.monotonic() - began,
                   "cpu_seconds": usage.ru_utime + usage.ru_stime, "rss_kib": usage.ru_maxrss}, handle)


if __name__ == "__main__":
    main()
