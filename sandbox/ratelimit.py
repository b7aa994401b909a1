"""Telegram's documented flood limits, per bot.

* global: at most ``global_rate`` messages in any sliding ``global_window`` seconds;
* private chat: a token bucket (``private_burst`` capacity, refilled ``private_rate``/s), because
  Telegram tolerates short bursts in one chat but not a sustained rate above 1 message/s;
* groups: at most ``group_rate`` messages per chat in any sliding ``group_window`` seconds.

Windows use real monotonic time (never the emulator's fake clock) so tests cannot fake their way
around them. A check never consumes anything: a refused (429) request has no effect.

Time may run faster than real time (``time_scale``, see :func:`scaled_monotonic`): the limits are
then enforced in emulated seconds (a private chat's 1 message a second is 20 a real second at
scale 20) and ``retry_after`` is given in emulated seconds too. The emulator and the bot read the
same clock (monotonic seconds times the same factor), each side told the factor by its owner;
nothing else changes: the limits hold exactly as strictly, only sooner. Real Telegram is 1.

In ``strict`` mode the limits are judged the way Telegram judges them: at the time each request
*arrived* (stamped by the HTTP route with :func:`arrived` before the emulator reads, queues or
stalls it), in any order the requests are then handled, and with no burst in a private chat
(two messages to one private chat must arrive at least ``1 / private_rate`` apart).
"""

from __future__ import annotations

import bisect
import math
import time
from collections import Counter, deque
from collections.abc import Callable
from contextvars import ContextVar
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
    strict: bool = False

    def update(self, **changes: float | None) -> None:
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown limit(s): {', '.join(sorted(unknown))}")
        for key, value in changes.items():
            setattr(self, key, value)

    def as_dict(self) -> dict:
        return asdict(self)


# Limits judged where requests arrive, unless a caller asks for the lenient emulator.
STRICT_DEFAULT = False

# When the request being handled reached the server (monotonic seconds), set by the route.
_ARRIVED: ContextVar[float | None] = ContextVar("sandbox_arrived", default=None)


def arrived(stamp: float) -> None:
    """Stamp the request being handled (this task and what it awaits) as arrived at ``stamp``."""
    _ARRIVED.set(stamp)


class _Arrivals:
    """Strict mode's log: accepted arrival times, kept sorted (requests may be handled in another
    order than they arrived), judged in any window around a new arrival."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def prune(self, now: float, keep: float) -> None:
        cut = bisect.bisect_right(self.times, now - keep)
        if cut:
            del self.times[:cut]

    def window_wait(self, rate: float | None, window: float, t: float) -> float:
        """Seconds to wait if an arrival at ``t`` would put more than ``rate`` arrivals in some
        ``window`` seconds (any half-open window containing ``t``)."""
        if not rate:
            return 0.0
        allowed = max(int(rate), 1)
        lo = bisect.bisect_right(self.times, t - window)
        hi = bisect.bisect_left(self.times, t + window)
        near = self.times[lo:hi]
        before = [e for e in near if e <= t]
        after = [e for e in near if e > t]
        # Windows starting at t - window + ε up to t: slide over the arrivals around t.
        for i in range(len(before) + 1):
            start = before[i] if i < len(before) else t
            inside = len(before) - i + 1 + bisect.bisect_left(after, start + window)
            if inside > allowed:
                oldest = before[len(before) - allowed] if len(before) >= allowed else t
                return max(oldest + window - t, 1e-3)
        return 0.0

    def gap_wait(self, interval: float, t: float) -> float:
        """Seconds to wait if an arrival at ``t`` comes within ``interval`` of another."""
        lo = bisect.bisect_right(self.times, t - interval)
        hi = bisect.bisect_left(self.times, t + interval)
        if lo == hi:
            return 0.0
        return max(self.times[hi - 1] + interval - t, 1e-3)

    def add(self, t: float) -> None:
        bisect.insort(self.times, t)


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


def scaled_monotonic(time_scale: float = 1.0) -> Callable[[], float]:
    """Monotonic seconds running ``time_scale`` times faster than real time (1 = real time): the
    clock the limits are judged in. The bot's pacer under test reads the same clock (its own
    copy of this one line: the sandbox and the bot share no code)."""
    if time_scale <= 0:
        raise ValueError(f"time_scale must be positive, not {time_scale}")
    if time_scale == 1:
        return time.monotonic
    return lambda: time.monotonic() * time_scale


class BotLimiter:
    """Flood-control state of one bot; shares the emulator's mutable :class:`Limits`."""

    def __init__(self, limits: Limits, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._monotonic = monotonic
        self._global = _Window()
        self._groups: dict[int, _Window] = {}
        self._private: dict[int, _Bucket] = {}
        self._strict_global = _Arrivals()
        self._strict_chats: dict[int, _Arrivals] = {}
        # Refusals by the limit that caused them: "global", "private" or "group" (since the last
        # reset), and all of them ever, resets included (the test harness's zero-429 check).
        self.refused: Counter[str] = Counter()
        self.refused_ever: Counter[str] = Counter()

    def _refusal(self, waits: list[float], private: bool) -> int | None:
        longest = max(waits)
        if longest <= 0:
            return None
        kind = "global" if waits[0] > 0 else "private" if private else "group"
        self.refused[kind] += 1
        self.refused_ever[kind] += 1
        return max(1, math.ceil(longest))

    def _now(self) -> float:
        return self._monotonic()

    def clock(self) -> float:
        """The limiter's time now, the scale :func:`arrived` stamps are given in."""
        return self._now()

    def check(self, chat_id: int, private: bool) -> int | None:
        """Seconds (ceil, ≥1) to wait if a message to ``chat_id`` now would exceed a limit."""
        if self.limits.strict:
            return self._strict_check(chat_id, private)
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
        return self._refusal(waits, private)

    def _arrival(self) -> float:
        stamp = _ARRIVED.get()
        return self._now() if stamp is None else stamp

    def _strict_check(self, chat_id: int, private: bool) -> int | None:
        lim, t = self.limits, self._arrival()
        self._strict_global.prune(self._now(), 2 * lim.global_window + 5)
        waits = [self._strict_global.window_wait(lim.global_rate, lim.global_window, t)]
        log = self._strict_chats.get(chat_id)
        if log is not None:
            if private:
                log.prune(self._now(), 10.0)
                if lim.private_rate:
                    waits.append(log.gap_wait(1.0 / lim.private_rate, t))
            else:
                log.prune(self._now(), 2 * lim.group_window + 5)
                waits.append(log.window_wait(lim.group_rate, lim.group_window, t))
        return self._refusal(waits, private)

    def consume(self, chat_id: int, private: bool) -> None:
        lim = self.limits
        if lim.strict:
            t = self._arrival()
            if lim.global_rate:
                self._strict_global.add(t)
            if lim.private_rate if private else lim.group_rate:
                self._strict_chats.setdefault(chat_id, _Arrivals()).add(t)
            return
        now = self._now()
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
        self._strict_global = _Arrivals()
        self._strict_chats.clear()
        self.refused.clear()
