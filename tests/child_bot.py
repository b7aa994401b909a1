"""`paotui run` as a child process for the tests that need the real command: started with an
environment, its log read line by line as it comes, waited for a line, stopped with SIGTERM or
killed with SIGKILL."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class ChildBot:
    """One `paotui run` process; ``lines`` is its log so far (stderr)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.lines: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._seen = asyncio.Event()
        self._wanted = ""

    async def __aenter__(self) -> ChildBot:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli",
            "run",
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip())
            if self._wanted and self._wanted in self.lines[-1]:
                self._seen.set()

    async def wait_line(self, text: str, timeout: float = 90) -> None:
        """Until a log line contains ``text``; fails (with the log's end) if the process
        exits first or it takes longer than ``timeout``."""
        assert self._reader is not None
        self._wanted = text
        if any(text in line for line in self.lines):
            return
        self._seen.clear()
        seen = asyncio.create_task(self._seen.wait())
        await asyncio.wait({seen, self._reader}, timeout=timeout, return_when="FIRST_COMPLETED")
        seen.cancel()
        assert self._seen.is_set(), self.lines[-20:]

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def kill(self) -> None:
        """SIGKILL (``kill -9``): the process ends at once, as after a power cut; nothing of it
        runs after this (no clean-up, no release of what it held)."""
        assert self.proc is not None and self._reader is not None
        self.proc.kill()
        await asyncio.wait_for(self.proc.wait(), 30)
        await self._reader

    async def stop(self) -> int:
        """SIGTERM (if still running); its exit status."""
        assert self.proc is not None and self._reader is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), 30)
        await self._reader
        return code
