"""Busy neighbours for the benchmarks: K processes spinning the CPU (``--burn K``), each
ending by itself after a bounded time and killed by the benchmark when it ends."""

from __future__ import annotations

import subprocess
import sys

BURN = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end:\n    pass\n"


def burners(k: int, seconds: float) -> list[subprocess.Popen[bytes]]:
    """K processes spinning the CPU, each ending by itself after ``seconds`` at the latest."""
    code = BURN.format(s=seconds)
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(k)]


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.kill()
        proc.wait()
