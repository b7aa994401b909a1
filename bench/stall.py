"""How long the event loop was held: a ticker that wakes every 10 ms and keeps the longest gap
beyond that. Used by the benchmarks and by the tests that prove nothing blocks the bot."""

from __future__ import annotations

import asyncio
from types import TracebackType


class LongestStall:
    """``async with LongestStall() as meter: ...`` then ``meter.seconds``."""

    TICK = 0.01

    def __init__(self) -> None:
        self.seconds = 0.0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not self._stop.is_set():
            await asyncio.sleep(self.TICK)
            now = loop.time()
            self.seconds = max(self.seconds, now - last - self.TICK)
            last = now

    async def __aenter__(self) -> LongestStall:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0.05)  # the ticker is running before the work starts
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
