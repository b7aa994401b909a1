"""The dispatcher: one loop per process that sends the due outbox rows, in order per chat,
within the pacer's limits, at most ``max_in_flight`` at a time; it retries 429 after the
server's ``retry_after`` and 5xx or network errors with back-off for ``give_up_after``, and
records on the row what came of each send (sent with its message id, pending again, failed;
a group that became a supergroup is followed). Rows are taken through ``leases``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Row, Table, bindparam, select, true, update

from bot.clock import Clock
from bot.db import Database
from bot.outbox import leases
from bot.outbox.channel import ChatEvents, Outgoing, Sender, SendResult
from bot.outbox.pacer import Limits, Pacer
from models import OutboxKind, OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

# The error of an edit or pin of a message left in a group that became a supergroup.
UPGRADED = "group upgraded to a supergroup"
_OUTBOX = cast(Table, OutboxMessage.__table__)


class Dispatcher:
    """Sends due outbox rows in order per chat, paced, with retries. One runs per deployment,
    the leader's (handlers.runner, bot.leader), so that Telegram's limits hold in total; a row
    is still leased with a conditional UPDATE before it is sent, so an outgoing leader still
    finishing its sends while the new one starts sends nothing twice."""

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
        self._woken = 0  # wakes from outside (a commit wrote rows): a busy pass looks again
        self._sent = asyncio.Event()  # a send finished: drain() looks again
        self._task: asyncio.Task[None] | None = None
        self._in_flight: dict[int, asyncio.Task[None]] = {}  # chat_id -> its one send
        self._in_flight_rows: dict[int, int] = {}  # chat_id -> the outbox row being sent
        # Sent, not yet recorded: row id -> (message id, attempts); chat -> its row.
        self._sent_rows: dict[int, tuple[int | None, int]] = {}
        self._finishing: dict[int, int] = {}
        self._record_due = asyncio.Event()
        self._recording = asyncio.Lock()
        self._recorder: asyncio.Task[None] | None = None
        self._record_closing = False
        self._renewed = 0.0  # monotonic time of the last lease renewal
        self._stopping = False
        self.sent_count = 0
        self.retry_count = 0
        # Which rows this dispatcher sends: all, or (one bot per community) those of the chats
        # that talk to its bot (bot.chat_bots.outbox_rows).
        self.rows: ColumnElement[bool] = true()
        # The bot it sends for, recorded on each row it sends (None: the single bot).
        self.name: str | None = None

    # A pass sending broadcast rows (priority > 0) starts over when woken, so that rows just
    # written (a reply, an order's notice: priority 0) go next, not after up to 2 s of it.
    restart_on_wake = True

    def wake(self) -> None:
        self._woken += 1
        self._wake.set()

    async def start(self) -> None:
        await leases.recover(self.db, self.clock)
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-dispatcher")
        self._record_closing = False
        self._recorder = asyncio.create_task(self._record_loop(), name="outbox-record")

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
        if self._recorder is not None:
            # Told to finish, not cancelled: a write cut off mid-transaction can leave its
            # connection holding SQLite's write lock, and the last write below then waited 30 s
            # and failed ("database is locked").
            self._record_closing = True
            self._record_due.set()
            await self._recorder
            self._recorder = None
        await self._record()  # what was sent is recorded before the process lets go

    async def _renew_leases(self) -> None:
        """Renew the leases of the rows this dispatcher is sending, at most every
        ``RENEW_EVERY`` seconds."""
        rows = [*self._in_flight_rows.values(), *self._finishing.values()]
        if not rows or time.monotonic() - self._renewed < leases.RENEW_EVERY:
            return
        self._renewed = time.monotonic()
        await leases.renew(self.db, self.clock, rows)

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
        woken = self._woken
        await self._renew_leases()
        now = self.clock.now()
        async with self.db.read() as s:
            m = OutboxMessage
            # What ordering and pacing need, not whole rows: a pass reads up to 1,000 and
            # sends a few dozen (the message itself is read when its row is leased).
            rows = (
                await s.execute(
                    select(
                        m.id,
                        m.chat_id,
                        m.is_group,
                        m.kind,
                        m.status,
                        m.priority,
                        m.next_attempt_at,
                        m.lease_until,
                        m.edit_of,
                    )
                    .where(m.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]), self.rows)
                    .order_by(m.priority, m.id)
                    .limit(1000)
                )
            ).all()
            edit_targets = {r.edit_of for r in rows if r.edit_of is not None}
            targets: dict[int, Row[int, OutboxStatus, int | None]] = {}
            if edit_targets:
                found = await s.execute(
                    select(m.id, m.status, m.message_id).where(m.id.in_(edit_targets))
                )
                targets = {t.id: t for t in found}
        # Rows another process leased and never finished (it died mid-send): once the lease
        # has run out, they are pending again and go first in their chat, in this very pass.
        stale = [
            r.id
            for r in rows
            if r.status == OutboxStatus.SENDING
            and r.chat_id not in self._in_flight
            and (r.lease_until is None or r.lease_until < now)
        ]
        recovered = (
            set(stale) if stale and await leases.recover(self.db, self.clock, stale) else set()
        )
        next_delay = self.limits.poll_seconds
        held: set[int] = set()  # chats with an earlier message still waiting: keep order
        # Rows chosen to go now (row id -> an edit's target message id), leased together in
        # one UPDATE when the batch would fill the free sending places, or the pass ends.
        picks: dict[int, int | None] = {}
        urgent: set[int] = set()  # priority 0: before a broadcast's rows for the overall slot
        try:
            for row in rows:
                if self._stopping or time.monotonic() - started > budget:
                    return 0.001
                if row.priority > 0 and self._woken != woken and self.restart_on_wake:
                    return 0.001
                chat = row.chat_id
                sending = row.status == OutboxStatus.SENDING and row.id not in recovered
                busy = chat in self._in_flight or chat in self._finishing
                if chat in held or busy or sending:
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
                wait = self.pacer.chat_wait(chat, row.is_group)
                if wait > 0:
                    held.add(chat)
                    next_delay = min(next_delay, self.pacer.clock.real(wait) or next_delay)
                    continue
                picks[row.id] = target_id
                if row.priority == 0:
                    urgent.add(row.id)
                held.add(chat)
                if len(self._in_flight) + len(picks) >= self.limits.max_in_flight:
                    await self._take(picks, urgent)
                    # Room again for a batch (not for one row at a time: a lease per row is a
                    # transaction per message); the sends under way keep the pacer fed.
                    while len(self._in_flight) > self.limits.max_in_flight // 2:
                        await asyncio.wait(
                            list(self._in_flight.values()), return_when=asyncio.FIRST_COMPLETED
                        )
        finally:
            if not self._stopping:  # stopping: rows not yet leased are simply left pending
                await self._take(picks, urgent)
        return max(0.001, next_delay)

    async def _take(self, picks: dict[int, int | None], urgent: set[int]) -> None:
        """Lease the chosen rows and start their sends (a row another dispatcher took is
        skipped); ``picks`` is emptied."""
        if not picks:
            return
        chosen = dict(picks)
        picks.clear()
        # Shielded: the pump cancelled at a stop must not cut the lease's transaction short
        # (its connection would keep SQLite's write lock); rows leased and not sent come back
        # when their lease runs out.
        taken = await asyncio.shield(leases.take_many(self.db, self.clock, chosen))
        for out, attempts in taken:
            self._in_flight_rows[out.chat_id] = out.id
            self._in_flight[out.chat_id] = asyncio.create_task(
                self._send(out, attempts, urgent=out.id in urgent)
            )

    async def _send(self, out: Outgoing, attempts: int, urgent: bool = False) -> None:
        try:
            # The chat's budget (a direct reply may have gone meanwhile), then the overall
            # slot (before a broadcast's if urgent: priority 0); the chat counts from when
            # the request leaves and until its answer is back.
            flight = await self.pacer.acquire(out.chat_id, out.is_group, urgent)
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
            if result.ok and result.migrated_to is None:
                # Recorded with the others sent meanwhile, in one statement (see _record); the
                # row stays 'sending' (leased) until then, so its chat's next row waits. The
                # pump and drain() are woken once it is recorded.
                self._sent_rows[out.id] = (result.message_id, attempts + 1)
                self._finishing[out.chat_id] = out.id
                if self._recorder is None or self._recorder.done():
                    await self._record()  # not running (a test's own pump): record it now
                else:
                    self._record_due.set()
                return
            await self._finish(out.id, result, attempts + 1, out.created_at, out)
            self._wake.set()
            self._sent.set()
        finally:
            self._in_flight.pop(out.chat_id, None)
            self._in_flight_rows.pop(out.chat_id, None)

    async def _record_loop(self) -> None:
        while True:
            await self._record_due.wait()
            self._record_due.clear()
            try:
                await self._record()
            except Exception:
                logger.exception("recording sent outbox rows failed; retrying")
                if self._record_closing:
                    return  # stop() tries once more itself
                await asyncio.sleep(0.5)
                self._record_due.set()
            if self._record_closing:
                return

    async def _record(self) -> None:
        """Write what was sent since the last write, in one transaction (a statement per
        message was most of the sending instance's CPU); then the pump and drain() look again."""
        async with self._recording:
            if not self._sent_rows:
                return
            done = self._sent_rows
            self._sent_rows = {}
            values: dict[str, object] = {
                "status": OutboxStatus.SENT,
                "sent_at": self.clock.now(),
                "lease_until": None,
            }
            if self.name is not None:
                values["sent_by"] = self.name
            t = _OUTBOX
            try:
                async with self.db.session() as s:
                    await s.execute(
                        update(t)
                        .where(t.c.id == bindparam("row"))
                        .values(
                            message_id=bindparam("message"),
                            attempts=bindparam("tries"),
                            **values,
                        ),
                        # In id order: two batches locking rows in one order cannot wait on
                        # each other crosswise (PostgreSQL broke such a deadlock; retried).
                        [
                            {"row": row, "message": message, "tries": tries}
                            for row, (message, tries) in sorted(done.items())
                        ],
                    )
            except BaseException:
                self._sent_rows = {**done, **self._sent_rows}  # kept for the next try
                raise
            self.sent_count += len(done)
            for chat, row in list(self._finishing.items()):
                if row in done:
                    del self._finishing[chat]
        self._wake.set()
        self._sent.set()

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
            if self.name is not None:
                values["sent_by"] = self.name
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
        quiet = True  # nothing sent for a while: wake the pump (a row may have come due)
        while time.monotonic() < deadline:
            self._sent.clear()  # before the look: a send finished meanwhile still wakes us
            if not self._in_flight:  # a send under way: not drained, no need to read
                async with self.db.read() as s:
                    left = (
                        await s.execute(
                            select(OutboxMessage.id)
                            .where(
                                OutboxMessage.status.in_(
                                    [OutboxStatus.PENDING, OutboxStatus.SENDING]
                                ),
                                self.rows,
                            )
                            .limit(1)
                        )
                    ).first()
                if left is None and not self._in_flight:
                    return
            if quiet:
                self.wake()
            # Woken by the next finished send (the pump wakes itself on it); the timeout covers
            # rows that no send of this process finishes (due later, or another process's).
            try:
                await asyncio.wait_for(self._sent.wait(), timeout=0.05)
                quiet = False
            except TimeoutError:
                quiet = True
        raise TimeoutError("outbox not drained")
