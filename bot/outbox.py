"""The outbox (DESIGN rule 4): messages owed are rows written with the change that owes them;
a dispatcher sends them within Telegram's limits, retries 429 and 5xx after the server's
``retry_after``, and records the result and the message id.

Nothing here knows Telegram: a channel supplies a ``Sender``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Null, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons import Rows, from_json, to_json
from bot.clock import Clock
from bot.db import Database
from models import OutboxKind, OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

# A row being sent is leased for this long and the lease is renewed while the send is under way,
# so a row left 'sending' by a process that died (kill -9, power cut) is taken back by any
# dispatcher's next pass within LEASE: its chat is blocked for seconds, not until a restart.
LEASE = timedelta(seconds=15)
RENEW_EVERY = LEASE.total_seconds() / 3
# The error of an edit or pin of a message left in a group that became a supergroup.
UPGRADED = "group upgraded to a supergroup"


def row(
    now: datetime,
    *,
    chat_id: int,
    text: str,
    buttons: list[list[dict[str, Any]]] | Null | None = None,
    is_group: bool = False,
    kind: OutboxKind = OutboxKind.SEND,
    photo: str | None = None,
    media: str | None = None,
    edit_of: int | None = None,
    priority: int = 0,
) -> dict[str, Any]:
    """An outbox row's columns as written: pending, due ``now``. ``buttons`` as stored
    (``to_json``), ``photo`` a file id and ``media`` what it is. Every row has the same keys,
    so a list of them is one bulk insert; ``enqueue`` writes its rows with it too."""
    return {
        "channel": "telegram",
        "priority": priority,
        "chat_id": chat_id,
        "is_group": is_group,
        "kind": kind,
        "text": text,
        "buttons": buttons,
        "photo": photo,
        "media": media,
        "edit_of": edit_of,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def pin_row(now: datetime, *, chat_id: int, original_id: int, priority: int = 0) -> dict[str, Any]:
    """Pin, in a group, the message another outbox row delivered (sent first: a later id)."""
    return row(
        now,
        chat_id=chat_id,
        text="",
        buttons=null(),  # SQL NULL: a pin has no buttons at all
        is_group=True,
        kind=OutboxKind.PIN,
        edit_of=original_id,
        priority=priority,
    )


def enqueue(
    session: AsyncSession,
    clock: Clock,
    *,
    chat_id: int,
    text: str,
    buttons: Rows | None = None,
    is_group: bool = False,
    photo: str | None = None,
    voice: str | None = None,
    priority: int = 0,
) -> OutboxMessage:
    """Owe a message. Lower priority goes first: order traffic 0, broadcasts 10."""
    msg = OutboxMessage(
        **row(
            clock.now(),
            chat_id=chat_id,
            text=text,
            buttons=to_json(buttons),
            is_group=is_group,
            photo=photo or voice,
            media="photo" if photo else "voice" if voice else None,
            priority=priority,
        )
    )
    session.add(msg)
    return msg


def enqueue_edit(
    session: AsyncSession,
    clock: Clock,
    *,
    original: OutboxMessage,
    text: str,
    buttons: Rows | None = None,
) -> OutboxMessage:
    """Edit the message another outbox row delivered (sent first: same chat, later id)."""
    msg = OutboxMessage(
        **row(
            clock.now(),
            chat_id=original.chat_id,
            text=text,
            buttons=to_json(buttons),
            is_group=original.is_group,
            kind=OutboxKind.EDIT,
            edit_of=original.id,
            priority=original.priority,
        )
    )
    session.add(msg)
    return msg


@dataclass(frozen=True)
class Outgoing:
    id: int
    chat_id: int
    is_group: bool
    kind: OutboxKind
    text: str
    buttons: Rows | None
    photo: str | None  # a file id, sent as `media`
    target_message_id: int | None  # for edits
    media: str | None = None
    created_at: datetime | None = None  # when it was owed: transient failures retry for a while


@dataclass(frozen=True)
class SendResult:
    ok: bool
    message_id: int | None = None
    retry_after: float | None = None  # the server asked us to wait (429)
    transient: bool = False  # 5xx, network: try again later
    error: str | None = None
    # The group became a supergroup with this id (Telegram's migrate_to_chat_id): send there.
    migrated_to: int | None = None
    forbidden: bool = False  # 403: blocked by the user, or no longer a member of the group


class ChatEvents(Protocol):
    """What a send learns about a chat, acted on in the same transaction that finishes the row
    (the services implement it: the outbox knows no grids)."""

    async def chat_migrated(self, session: AsyncSession, old_chat: int, new_chat: int) -> None: ...

    async def group_refused(self, session: AsyncSession, chat_id: int) -> None: ...


class Sender(Protocol):
    async def send(self, msg: Outgoing) -> SendResult: ...


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


class Dispatcher:
    """Sends due outbox rows in order per chat, paced, with retries. Safe to run on several
    instances at once: a row is leased with a conditional UPDATE before it is sent."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        sender: Sender,
        limits: Limits,
        pacer: Pacer | None = None,
        events: ChatEvents | None = None,
    ) -> None:
        self.db = db
        self.events = events
        self.clock = clock
        self.sender = sender
        self.limits = limits
        # Shared with the direct replies, so that together they stay within the overall limit.
        self.pacer = pacer or Pacer(limits)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: dict[int, asyncio.Task[None]] = {}  # chat_id -> its one send
        self._in_flight_rows: dict[int, int] = {}  # chat_id -> the outbox row being sent
        self._renewed = 0.0  # monotonic time of the last lease renewal
        self._stopping = False
        self.sent_count = 0
        self.retry_count = 0

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        await self._recover_leases()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-dispatcher")

    async def stop(self) -> None:
        """Finish the sends under way (so none is sent twice), then stop."""
        self._stopping = True
        self._wake.set()
        if self._task:
            # Let the pump return by itself first: cancelled between leasing a row and handing
            # it to a send, it would leave that row 'sending' until the lease runs out.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout=5.0)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._in_flight:
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    async def _recover_leases(self, ids: list[int] | None = None) -> int:
        """Rows left 'sending' whose lease ran out go back to pending (all such rows, or those
        of ``ids``): their sender died mid-send. The UPDATE re-checks the expiry, so a lease
        renewed meanwhile by a live dispatcher is left alone. Returns how many came back."""
        now = self.clock.now()
        m = OutboxMessage
        expired = [
            m.status == OutboxStatus.SENDING,
            or_(m.lease_until.is_(None), m.lease_until < now),
        ]
        if ids is not None:
            expired.append(m.id.in_(ids))
        async with self.db.session() as s:
            done = await s.execute(
                update(m).where(*expired).values(status=OutboxStatus.PENDING, lease_until=None)
            )
        count = int(getattr(done, "rowcount", 0) or 0)
        if count:
            logger.warning("outbox: %d message(s) left mid-send by a stopped process resent", count)
        return count

    async def _renew_leases(self) -> None:
        """Extend the leases of the rows this dispatcher is sending, so no other pass (here or
        on another instance) takes them back while the send is merely slow."""
        rows = list(self._in_flight_rows.values())
        if not rows or time.monotonic() - self._renewed < RENEW_EVERY:
            return
        self._renewed = time.monotonic()
        m = OutboxMessage
        async with self.db.session() as s:
            await s.execute(
                update(m)
                .where(m.id.in_(rows), m.status == OutboxStatus.SENDING)
                .values(lease_until=self.clock.now() + LEASE)
            )

    async def _run(self) -> None:
        while not self._stopping:
            try:
                delay = await self.pump()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("outbox pump failed; retrying")
                delay = 1.0
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def pump(self, budget: float = 2.0) -> float:
        """Send what may go now, for up to ``budget`` seconds; return how long to sleep."""
        started = time.monotonic()
        await self._renew_leases()
        now = self.clock.now()
        async with self.db.read() as s:
            rows = (
                (
                    await s.execute(
                        select(OutboxMessage)
                        .where(
                            OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
                        )
                        .order_by(OutboxMessage.priority, OutboxMessage.id)
                        .limit(1000)
                    )
                )
                .scalars()
                .all()
            )
            edit_targets = {r.edit_of for r in rows if r.edit_of is not None}
            targets: dict[int, OutboxMessage] = {}
            if edit_targets:
                found = await s.execute(
                    select(OutboxMessage).where(OutboxMessage.id.in_(edit_targets))
                )
                targets = {t.id: t for t in found.scalars()}
        # Rows another process leased and never finished (it died mid-send): once the lease
        # has run out, they are pending again and go first in their chat, in this very pass.
        stale = [
            r.id
            for r in rows
            if r.status == OutboxStatus.SENDING
            and r.chat_id not in self._in_flight
            and (r.lease_until is None or r.lease_until < now)
        ]
        recovered = set(stale) if stale and await self._recover_leases(stale) else set()
        next_delay = self.limits.poll_seconds
        held: set[int] = set()  # chats with an earlier message still waiting: keep order
        for row in rows:
            if self._stopping or time.monotonic() - started > budget:
                return 0.001
            chat = row.chat_id
            sending = row.status == OutboxStatus.SENDING and row.id not in recovered
            if chat in held or chat in self._in_flight or sending:
                held.add(chat)
                continue
            if row.next_attempt_at > now:
                held.add(chat)
                next_delay = min(next_delay, (row.next_attempt_at - now).total_seconds())
                continue
            target_id: int | None = None
            if row.kind in (OutboxKind.EDIT, OutboxKind.PIN):
                target = targets.get(row.edit_of or 0)
                if target is None or target.status == OutboxStatus.FAILED:
                    await self._finish(row.id, SendResult(ok=False, error="original not sent"))
                    continue
                if target.message_id is None:
                    held.add(chat)  # the original is still on its way
                    continue
                target_id = target.message_id
            # At most max_in_flight sends are under way (or waiting for their overall slot).
            while len(self._in_flight) >= self.limits.max_in_flight:
                await asyncio.wait(
                    list(self._in_flight.values()), return_when=asyncio.FIRST_COMPLETED
                )
            wait = self.pacer.chat_wait(chat, row.is_group)
            if wait > 0 or chat in self._in_flight:
                held.add(chat)
                next_delay = min(next_delay, wait or next_delay)
                continue
            leased = await self._lease(row.id, target_id)
            if leased is None:
                held.add(chat)
                continue
            out, attempts = leased
            self._in_flight_rows[chat] = out.id
            self._in_flight[chat] = asyncio.create_task(self._send(out, attempts))
            held.add(chat)
        return max(0.001, next_delay)

    async def _lease(self, row_id: int, target_id: int | None) -> tuple[Outgoing, int] | None:
        """Take a pending row for sending: the message as the row is now (read by the same
        UPDATE: a waiting post may have had tasks folded into it) and its attempts so far; None
        if it is taken."""
        now = self.clock.now()
        m = OutboxMessage
        async with self.db.session() as s:
            leased = (
                await s.execute(
                    update(m)
                    .where(m.id == row_id, m.status == OutboxStatus.PENDING)
                    .values(status=OutboxStatus.SENDING, lease_until=now + LEASE)
                    .returning(
                        m.chat_id,
                        m.is_group,
                        m.kind,
                        m.text,
                        m.buttons,
                        m.photo,
                        m.media,
                        m.attempts,
                        m.created_at,
                    )
                )
            ).first()
        if leased is None:
            return None
        out = Outgoing(
            id=row_id,
            chat_id=leased.chat_id,
            is_group=leased.is_group,
            kind=OutboxKind(leased.kind),
            text=leased.text,
            buttons=from_json(leased.buttons),
            photo=leased.photo,
            target_message_id=target_id,
            media=leased.media,
            created_at=leased.created_at,
        )
        return out, leased.attempts

    async def _send(self, out: Outgoing, attempts: int) -> None:
        try:
            flight = await self.pacer.take_global()
            # The chat's budget counts from when the request really leaves, not from the lease:
            # a wait for the overall slot must not eat into the next message's spacing. (The
            # chat has no other row in flight meanwhile: self._in_flight holds it.)
            self.pacer.reserve_chat(out.chat_id, out.is_group)
            try:
                result = await self.sender.send(out)
            except Exception as exc:  # a sender bug must not lose the message
                logger.exception("sender raised for outbox %s", out.id)
                result = SendResult(ok=False, transient=True, error=repr(exc))
            finally:
                self.pacer.landed(flight)
            if result.retry_after is not None:
                self.retry_count += 1
                self.pacer.back_off(out.chat_id, out.is_group, result.retry_after)
                logger.info("outbox %s: 429, retry after %ss", out.id, result.retry_after)
            await self._finish(out.id, result, attempts + 1, out.created_at, out)
        finally:
            self._in_flight.pop(out.chat_id, None)
            self._in_flight_rows.pop(out.chat_id, None)
            self._wake.set()

    async def _finish(
        self,
        row_id: int,
        result: SendResult,
        attempts: int = 1,
        created_at: datetime | None = None,
        out: Outgoing | None = None,
    ) -> None:
        now = self.clock.now()
        values: dict[str, object] = {"attempts": attempts, "lease_until": None}
        if result.migrated_to is not None and out is not None:
            await self._migrated(out, result.migrated_to, values)
            return
        # Telegram down (5xx, timeouts, no connection) is not the message's fault: it keeps
        # trying for give_up_after, so an outage of hours loses nothing.
        in_budget = created_at is None or now - created_at < self.limits.give_up_after
        if result.ok:
            self.sent_count += 1
            values.update(status=OutboxStatus.SENT, message_id=result.message_id, sent_at=now)
        elif result.retry_after is not None or (result.transient and in_budget):
            # 429 is the server pacing us, not a failure of the message: always retried. The
            # row keeps its place: later rows of its chat wait behind it (see pump).
            delay = (
                result.retry_after
                if result.retry_after is not None
                else min(self.limits.max_backoff, 2.0 ** min(attempts, 30))
            )
            values.update(
                status=OutboxStatus.PENDING,
                next_attempt_at=now + timedelta(seconds=math.ceil(delay * 1000) / 1000),
                error=result.error,
            )
        else:
            # Final. next_attempt_at records when it was given up (/outbox counts the last
            # 24 hours); reported_at cleared, so the sweep tells the operator once.
            values.update(
                status=OutboxStatus.FAILED,
                error=result.error,
                next_attempt_at=now,
                reported_at=None,
            )
            logger.warning("outbox %s failed for good: %s", row_id, result.error)
        async with self.db.session() as s:
            await s.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(values))
            if result.forbidden and out is not None and out.is_group and self.events:
                await self.events.group_refused(s, out.chat_id)

    async def _migrated(self, out: Outgoing, new_chat: int, values: dict[str, object]) -> None:
        """The group became a supergroup: a new message goes to the new chat at once, ahead of
        the rest of the chat's (moved with it, in the same transaction, so the order holds); an
        edit or pin of a message left in the old group cannot be made."""
        now = self.clock.now()
        if out.kind == OutboxKind.SEND:
            values.update(
                status=OutboxStatus.PENDING, chat_id=new_chat, next_attempt_at=now, attempts=0
            )
        else:
            values.update(
                status=OutboxStatus.FAILED,
                error=UPGRADED,
                next_attempt_at=now,
                reported_at=now,  # not a failure anyone must hear of
            )
        async with self.db.session() as s:
            await s.execute(update(OutboxMessage).where(OutboxMessage.id == out.id).values(values))
            if self.events:
                await self.events.chat_migrated(s, out.chat_id, new_chat)
        logger.info("outbox %s: chat %s moved to %s", out.id, out.chat_id, new_chat)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until nothing is pending (tests and the CLI)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            async with self.db.read() as s:
                left = (
                    await s.execute(
                        select(OutboxMessage.id)
                        .where(
                            OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
                        )
                        .limit(1)
                    )
                ).first()
            if left is None and not self._in_flight:
                return
            self.wake()
            await asyncio.sleep(0.05)
        raise TimeoutError("outbox not drained")
