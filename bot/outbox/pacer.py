"""Telegram's rate limits, kept on this side: ``Limits`` (the configured rates and retry
budget) and the ``Pacer``, which spaces requests overall, per private chat and per group per
minute, and backs off after a 429. Shared by the dispatcher and the direct replies, so that
together they stay within the overall limit. In memory, per process; monotonic seconds."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta


@dataclass
class Limits:
    global_per_second: float = 29.8
    private_interval: float = 1.0
    group_per_minute: int = 20
    # Transient failures are retried until the message is this old; back-off doubles up to
    # max_backoff seconds. Final answers (400, 403) fail at once.
    give_up_after: timedelta = timedelta(hours=24)
    max_backoff: float = 300.0
    max_in_flight: int = 16
    poll_seconds: float = 0.5


@dataclass
class Flight:
    """One request against the overall budget: when it left, and when its answer came back."""

    sent: float
    done: float | None = None


# A request still unanswered after this long has timed out (httpx's timeouts are shorter).
LONGEST_FLIGHT = 60.0
# How often a slot held only by requests still in flight is looked at again.
FLIGHT_POLL = 0.005


class Pacer:
    """Keeps the sending rate within Telegram's limits: overall per second, per private chat,
    per group per minute. Times are monotonic seconds."""

    def __init__(self, limits: Limits, now: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._now = now
        self._global: deque[Flight] = deque()
        self._private_next: dict[int, float] = {}
        self._group: dict[int, deque[float]] = {}
        self._chat_blocked: dict[int, float] = {}  # after a 429 for that chat
        self._global_blocked = 0.0  # after 429s for several chats at once
        self._recent_429: deque[tuple[float, int]] = deque()

    def _global_interval(self) -> float:
        return 1.0 / self.limits.global_per_second

    def chat_wait(self, chat_id: int, is_group: bool) -> float:
        """Seconds until this chat's own budget allows a message (0 = now)."""
        now = self._now()
        blocked = self._chat_blocked.get(chat_id, 0.0) - now
        if is_group:
            q = self._group.get(chat_id)
            if q:
                while q and q[0] <= now - 60.0:
                    q.popleft()
                if len(q) >= self.limits.group_per_minute:
                    return max(0.0, blocked, q[0] + 60.0 - now)
            return max(0.0, blocked)
        return max(0.0, blocked, self._private_next.get(chat_id, 0.0) - now)

    def global_wait(self) -> float:
        """Seconds until the next overall slot. Slots are evenly spaced (no burst at start),
        and no second can receive more than the limit (see ``_window_wait``)."""
        now = self._now()
        blocked = self._global_blocked - now
        if not self._global:
            return max(0.0, blocked)
        spaced = self._global[-1].sent + self._global_interval() - now
        return max(0.0, blocked, spaced, self._window_wait(now))

    def _window_wait(self, now: float) -> float:
        """Telegram counts a request when it arrives, which is somewhere between its leaving
        here and its answer coming back: later than it left after an event-loop stall or a slow
        connection, while the requests after it are on time. Only a request answered more than
        a second ago cannot share a second with the next one; so at most ceil(rate) - 1 others
        may be live when one leaves, and no second ever holds more than ceil(rate), whatever
        the delays. (Spacing alone tolerated a request 7 ms late at 29.8/s.)"""
        cap = math.ceil(self.limits.global_per_second)
        if len(self._global) < cap:
            return 0.0
        ends = sorted(
            f.done
            if f.done is not None
            else (f.sent + LONGEST_FLIGHT if now - f.sent > LONGEST_FLIGHT else math.inf)
            for f in self._global
        )
        live = [end for end in ends if end > now - 1.0]
        excess = len(live) - (cap - 1)
        if excess <= 0:
            return 0.0
        free_at = live[excess - 1] + 1.0
        return FLIGHT_POLL if math.isinf(free_at) else max(free_at - now, 0.0)

    def wait_for(self, chat_id: int, is_group: bool) -> float:
        return max(self.chat_wait(chat_id, is_group), self.global_wait())

    def reserve_chat(self, chat_id: int, is_group: bool) -> None:
        now = self._now()
        if is_group:
            self._group.setdefault(chat_id, deque()).append(now)
        else:
            self._private_next[chat_id] = max(
                self._private_next.get(chat_id, 0.0), now + self.limits.private_interval
            )

    async def take_global(self) -> Flight:
        """Wait for and take the next overall slot, right before a request leaves; call
        ``landed`` with what it returns once the answer is back."""
        while (wait := self.global_wait()) > 0:  # noqa: ASYNC110 - a timed wait, no event
            await asyncio.sleep(wait)
        return self._take()

    def _take(self) -> Flight:
        flight = Flight(self._now())
        self._global.append(flight)
        while len(self._global) > 64:
            self._global.popleft()
        return flight

    def landed(self, flight: Flight) -> None:
        """The request's answer came back (or it failed): it can no longer arrive later."""
        if flight.done is None:
            flight.done = self._now()

    async def acquire(self, chat_id: int | None, is_group: bool) -> Flight:
        """A direct reply: the next overall slot; it counts toward the chat's budget but does
        not wait for it (answering a user's own press at once is allowed)."""
        flight = await self.take_global()
        if chat_id is not None:
            self.reserve_chat(chat_id, is_group)
        return flight

    def record(self, chat_id: int, is_group: bool) -> Flight:
        """Count a send now (both budgets), without waiting; ``landed`` when answered."""
        flight = self._take()
        self.reserve_chat(chat_id, is_group)
        return flight

    def back_off(self, chat_id: int, is_group: bool, seconds: float) -> None:
        """The server said 429 for this chat. When several chats hear it within a second, the
        overall limit is the cause: everyone waits, rather than hammering the server."""
        now = self._now()
        if len(self._chat_blocked) > 10_000:
            self._chat_blocked = {c: t for c, t in self._chat_blocked.items() if t > now}
        self._chat_blocked[chat_id] = max(self._chat_blocked.get(chat_id, 0.0), now + seconds)
        self._recent_429.append((now, chat_id))
        while self._recent_429 and self._recent_429[0][0] < now - 1.0:
            self._recent_429.popleft()
        if len({c for _, c in self._recent_429}) >= 3:
            self._global_blocked = max(self._global_blocked, now + seconds)
