"""Telegram's rate limits, kept on this side: ``Limits`` (the configured rates and retry
budget) and the ``Pacer``, which spaces requests overall, per private chat and per group per
minute, and backs off after a 429. Shared by the dispatcher and the direct replies, so that
together they stay within the overall limit and, in the order they are sent, within each
chat's. Telegram counts a request where it *arrives*, somewhere between its leaving here and
its answer coming back (later than it left after an event-loop stall): so a chat's next message
leaves only a full interval after the previous one's answer, and the overall window counts a
request until a second after its answer. The overall slots keep a schedule, so that slots lost
to a late wake-up or a short stall are caught up. In memory, per process; monotonic seconds, or
(under test, ``PaceClock(scale)``) monotonic seconds running ``scale`` times faster, the same
clock the emulator then judges Telegram's limits in."""

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
# The same for one chat's budget (its messages are a second apart anyway).
CHAT_POLL = 0.05
# Flights kept for the overall window beyond the live ones (older answered ones are dropped).
KEEP_FLIGHTS = 64
# How late (seconds) a send may be and keep the overall schedule: the next slot is still due
# one interval after the late one's *due* time, so a sleeper woken a little late, or an event
# loop stalled for a moment, does not push back every later slot (the slots missed are caught
# up, see CATCH_UP_GAP, as the window allows: see ``_window_wait``). A send later than this
# (the bot was idle) starts the schedule afresh: no burst after a pause.
SLOT_SLACK = 0.5
# Slots missed are caught up at most twice as fast as the rate (a send leaves at least this
# fraction of an interval after the previous one), not in a burst: requests sent at once
# lengthen each other's round trip, and so the time the window counts each of them.
CATCH_UP_GAP = 0.5


@dataclass(frozen=True)
class PaceClock:
    """The time the pacer counts in: monotonic seconds times ``scale``. 1 (the default) is real
    time, the only choice against real Telegram. Under test, the emulator enforces Telegram's
    limits in time running ``scale`` times faster (``Emulator(time_scale=20)``, whose limiter
    reads monotonic seconds times the same factor): the pacer then counts, sleeps and reads
    ``retry_after`` in those emulated seconds, and the limits hold exactly, only sooner."""

    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError(f"time scale must be positive, not {self.scale}")

    def now(self) -> float:
        return time.monotonic() * self.scale

    def real(self, seconds: float) -> float:
        """Real seconds that ``seconds`` of this clock take."""
        return seconds / self.scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.scale)


class Pacer:
    """Keeps the sending rate within Telegram's limits: overall per second, per private chat,
    per group per minute. Times are the ``clock``'s seconds (real monotonic ones by default);
    ``now`` replaces its reading (unit tests)."""

    # When the last overall slot was due (see SLOT_SLACK); none yet.
    _slot_due: float = -math.inf
    # The overall window changes only when a flight leaves or lands (counted here): when it
    # frees a slot is worked out once per change, not at every look (see _window_wait).
    _flights_changed: int = 0
    _window_free: tuple[int, float] = (-1, 0.0)

    def __init__(
        self,
        limits: Limits,
        now: Callable[[], float] | None = None,
        *,
        clock: PaceClock | None = None,
    ) -> None:
        self.limits = limits
        self.clock = clock or PaceClock()
        self._now = now or self.clock.now
        self._global: deque[Flight] = deque()
        self._private: dict[int, Flight] = {}  # the last message to each private chat
        self._group: dict[int, deque[Flight]] = {}
        # Senders to one chat take turns, in order: the lock and how many hold or await it.
        self._chat_turns: dict[int, tuple[asyncio.Lock, list[int]]] = {}
        self._chat_blocked: dict[int, float] = {}  # after a 429 for that chat
        self._global_blocked = 0.0  # after 429s for several chats at once
        # Urgent senders (a reply, an order's message) waiting for an overall slot: the others
        # (a broadcast's) let them take the next one.
        self._urgent = 0
        self._recent_429: deque[tuple[float, int]] = deque()

    def _global_interval(self) -> float:
        return 1.0 / self.limits.global_per_second

    def chat_wait(self, chat_id: int, is_group: bool) -> float:
        """Seconds until this chat's own budget allows a message (0 = now). While the chat's
        last message is in flight it may still arrive: the wait is a lower bound, asked again."""
        now = self._now()
        blocked = max(0.0, self._chat_blocked.get(chat_id, 0.0) - now)
        if is_group:
            return max(blocked, self._group_wait(chat_id, now))
        last = self._private.get(chat_id)
        if last is None:
            return blocked
        interval = self.limits.private_interval
        spaced = last.sent + interval - now
        if last.done is None:
            return max(blocked, spaced, CHAT_POLL)
        return max(blocked, spaced, last.done + interval - now)

    def _group_wait(self, chat_id: int, now: float) -> float:
        """At most group_per_minute messages a minute, counted from when they may arrive: sent
        ones spaced by their leaving, and none of the live ones answered under a minute ago."""
        q = self._group.get(chat_id)
        if not q:
            return 0.0
        cap = self.limits.group_per_minute
        while q and q[0].done is not None and q[0].done <= now - 60.0:
            q.popleft()
        while len(q) > cap and q[0].sent <= now - 60.0 - LONGEST_FLIGHT:
            q.popleft()
        if len(q) < cap:
            return 0.0
        recent = [f.sent for f in q if f.sent > now - 60.0]
        if len(recent) >= cap:
            return recent[len(recent) - cap] + 60.0 - now
        ends = sorted(math.inf if f.done is None else f.done for f in q)
        free_at = ends[len(ends) - cap] + 60.0
        return CHAT_POLL if math.isinf(free_at) else max(free_at - now, 0.0)

    def global_wait(self) -> float:
        """Seconds until the next overall slot. Slots are evenly spaced on a schedule (no burst
        at start; a send woken a little late does not push back all the later ones, see
        ``SLOT_SLACK``), and no second can receive more than the limit (see ``_window_wait``)."""
        now = self._now()
        blocked = self._global_blocked - now
        if not self._global:
            return max(0.0, blocked)
        interval = self._global_interval()
        last = self._global[-1].sent
        spaced = max(self._slot_due + interval, last + interval * CATCH_UP_GAP) - now
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
        changed, free_at = self._window_free
        if changed != self._flights_changed:
            # A second after the cap-th latest end: before it, cap flights (this one and
            # cap - 1 others) may still share a second with the next one, whatever ended.
            ends = sorted(
                f.done
                if f.done is not None
                else (f.sent + LONGEST_FLIGHT if now - f.sent > LONGEST_FLIGHT else math.inf)
                for f in self._global
            )
            free_at = ends[len(ends) - cap] + 1.0
            if not math.isinf(free_at):  # (one in flight is looked at again: it may land)
                self._window_free = (self._flights_changed, free_at)
        if free_at <= now:
            return 0.0
        return FLIGHT_POLL if math.isinf(free_at) else free_at - now

    def wait_for(self, chat_id: int, is_group: bool) -> float:
        return max(self.chat_wait(chat_id, is_group), self.global_wait())

    def reserve_chat(self, chat_id: int, is_group: bool, flight: Flight) -> None:
        """Count ``flight`` toward the chat's budget (it left now, or is about to)."""
        if is_group:
            self._group.setdefault(chat_id, deque()).append(flight)
            return
        if len(self._private) > 10_000:
            self._prune_private()
        self._private[chat_id] = flight

    def _prune_private(self) -> None:
        cut = self._now() - self.limits.private_interval
        self._private = {c: f for c, f in self._private.items() if f.done is None or f.done > cut}

    async def take_global(self) -> Flight:
        """Wait for and take the next overall slot, right before a request leaves; call
        ``landed`` with what it returns once the answer is back."""
        while (wait := self.global_wait()) > 0:
            await self.clock.sleep(wait)
        return self._take()

    def _take(self, flight: Flight | None = None) -> Flight:
        now = self._now()
        if flight is None:
            flight = Flight(now)
        flight.sent = now
        interval = self._global_interval()
        due = self._slot_due + interval
        self._slot_due = due if now - due <= SLOT_SLACK else now
        self._global.append(flight)
        self._flights_changed += 1
        # Forget only what can no longer share a second with a new request.
        while len(self._global) > KEEP_FLIGHTS:
            first = self._global[0]
            end = first.done if first.done is not None else first.sent + LONGEST_FLIGHT
            if end > now - 1.0:
                break
            self._global.popleft()
        return flight

    def landed(self, flight: Flight) -> None:
        """The request's answer came back (or it failed): it can no longer arrive later."""
        if flight.done is None:
            flight.done = self._now()
            self._flights_changed += 1

    async def _global_turn(self, urgent: bool) -> None:
        """Wait until the next overall slot is free for this sender: an urgent one takes it
        as soon as it is; another also lets every urgent one waiting go first."""
        if urgent:
            self._urgent += 1
            try:
                while (wait := self.global_wait()) > 0:
                    await self.clock.sleep(wait)
            finally:
                self._urgent -= 1
            return
        while (wait := self.global_wait()) > 0 or self._urgent:
            await self.clock.sleep(wait or self._global_interval() / 2)

    async def acquire(self, chat_id: int | None, is_group: bool, urgent: bool = False) -> Flight:
        """Wait for the chat's budget and then the next overall slot, in the order callers
        arrive for that chat; call ``landed`` with what it returns once the answer is back.
        The chat counts as busy while its message waits for the overall slot. ``urgent``
        (someone waits for it): it takes the next overall slot before those that are not."""
        if chat_id is None:
            await self._global_turn(urgent)
            return self._take()
        turn, users = self._chat_turns.setdefault(chat_id, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with turn:
                while (wait := self.chat_wait(chat_id, is_group)) > 0:
                    await self.clock.sleep(wait)
                flight = Flight(self._now())
                self.reserve_chat(chat_id, is_group, flight)
                try:
                    await self._global_turn(urgent)
                except BaseException:
                    flight.done = self._now()  # never left
                    raise
                return self._take(flight)
        finally:
            users[0] -= 1
            if not users[0]:
                del self._chat_turns[chat_id]

    def record(self, chat_id: int, is_group: bool) -> Flight:
        """Count a send now (both budgets), without waiting; ``landed`` when answered."""
        flight = self._take()
        self.reserve_chat(chat_id, is_group, flight)
        return flight

    def hold(self, seconds: float) -> None:
        """No overall slot for ``seconds``: what another sender for this bot sent just before
        (a leader that stepped down, or died) may still be counted by the server."""
        self._global_blocked = max(self._global_blocked, self._now() + seconds)

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
