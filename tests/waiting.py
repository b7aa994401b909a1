"""Waiting for an event in tests: :func:`until` polls a condition until it holds (bounded by a
generous timeout, a failure only when the event never comes), in place of a fixed sleep that
guesses how long the event takes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Return as soon as ``condition()`` holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout:g} s for {what}")
        await asyncio.sleep(0.01)
