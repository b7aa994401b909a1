"""Telegram's documented flood limits, per bot.

* global: at most ``global_rate`` messages in any sliding ``global_window`` seconds;
* private chat: a token bucket (``private_burst`` capacity, refilled ``private_rate``/s), because
  Telegram tolerates short bursts in one chat but not a sustained rate above 1 message/s;
* groups: at most ``group_rate`` messages per chat in any sliding ``group_window`` seconds.

Windows use real monotonic time (never the emulator's fake clock) so tests cannot fake their way
around them. A check never consumes anything: a refused (429) request has no effect.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields


@dataclass
class Limits:
    """Current limits; a rate of ``None`` or ``0`` disables that limit."""

    global_rate: float | None = 30
    global_window: float = 1.0
    private_rate: float | None = 1.0
    private_burst: float = 5
    group_rate: float | None = 20
    group_window: float = 60.0

    def update(self, **changes: float | None) -> None:
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown limit(s): {', '.join(sorted(unknown))}")
        for key, value in changes.items():
            setattr(self, key, value)

    def as_dict(self) -> dict:
        return asdict(self)


class _Window:
    """Sliding window log: timestamps of accepted events."""

    def __init__(self) -> None:
        self.events: deque[float] = deque()

    def wait(self, rate: float | None, window: float, now: float) -> float:
        if not rate:
            return 0.0
        while self.events and self.events[0] <= now - window:
            self.events.popleft()
        allowed = max(int(rate), 1)
        if len(self.events) < allowed:
            return 0.0
        # The slot frees when the event that keeps us at the cap leaves the window.
        return self.events[len(self.events) - allowed] + window - now

    def add(self, now: float) -> None:
        self.events.append(now)


class _Bucket:
    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.stamp = now

    def refill(self, rate: float, burst: float, now: float) -> None:
        self.tokens = min(burst, self.tokens + (now - self.stamp) * rate)
        self.stamp = now

    def wait(self, rate: float | None, burst: float, now: float) -> float:
        if not rate:
            return 0.0
        self.refill(rate, burst, now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / rate


class BotLimiter:
    """Flood-control state of one bot; shares the emulator's mutable :class:`Limits`."""

    def __init__(self, limits: Limits, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._monotonic = monotonic
        self._global = _Window()
        self._groups: dict[int, _Window] = {}
        self._private: dict[int, _Bucket] = {}

    def _now(self) -> float:
        return self._monotonic()

    def check(self, chat_id: int, private: bool) -> int | None:
        """Seconds (ceil, ≥1) to wait if a message to ``chat_id`` now would exceed a limit."""
        lim, now = self.limits, self._now()
        waits = [self._global.wait(lim.global_rate, lim.global_window, now)]
        if private:
            bucket = self._private.get(chat_id)
            if bucket is not None:
                waits.append(bucket.wait(lim.private_rate, lim.private_burst, now))
        else:
            window = self._groups.get(chat_id)
            if window is not None:
                waits.append(window.wait(lim.group_rate, lim.group_window, now))
        longest = max(waits)
        return max(1, math.ceil(longest)) if longest > 0 else None

    def consume(self, chat_id: int, private: bool) -> None:
        lim, now = self.limits, self._now()
        if lim.global_rate:
            self._global.add(now)
        if private:
            if lim.private_rate:
                bucket = self._private.setdefault(chat_id, _Bucket(lim.private_burst, now))
                bucket.refill(lim.private_rate, lim.private_burst, now)
                bucket.tokens -= 1
        elif lim.group_rate:
            self._groups.setdefault(chat_id, _Window()).add(now)

    def reset(self) -> None:
        self._global = _Window()
        self._groups.clear()
        self._private.clear()
