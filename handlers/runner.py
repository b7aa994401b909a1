"""Runs the bot: polls Telegram into the inbox, processes the inbox, dispatches the outbox.

PTB's own polling confirms a batch to Telegram before the handlers run; here an update is
acknowledged (by the next getUpdates offset) only after it is stored (DESIGN rule 5). Updates of
different users are processed concurrently; one user's updates stay in order, so conversations
see their messages in sequence (STYLE 11).

Several instances on one PostgreSQL database behave as one bot: each claims inbox rows before
handling them (bot.inbox.claim: each update once, one user's in order, a dead instance's taken
over when their lease runs out), and only the leader (bot.leader: an advisory lock) polls
Telegram, dispatches the outbox and runs the sweep; another takes over within a few seconds
of its death. On SQLite (one process) the instance always leads and handles what it stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import logging
import os
import socket
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import Bot, Update
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot import inbox
from bot.leader import Leadership
from bot.outbox import Dispatcher, Limits, PaceClock, Pacer
from bot.outbox.wakeup import Wakeup
from bot.runtime import Runtime
from bot.services.group_chats import GroupChatEvents
from handlers.app import LEADS, build_application, publish_commands
from handlers.context import AppType
from handlers.persistence import refresh
from handlers.transport import Deferral, PacedRateLimiter, TelegramSender

logger = logging.getLogger(__name__)


def freeze_heap() -> None:
    """Once the bot has started (the Application built, the catalogs loaded, the ORM's
    mappers configured): move every object tracked to the collector's permanent generation
    (``gc.freeze``), so that a full collection no longer walks start-up's objects, which live
    as long as the process (a full collection: ~80 ms of CPU before, ~4 ms after, in
    bench/throughput.py). No ``gc.collect()`` first: start-up leaves next to no garbage (85
    objects after the imports) and a full collection per start would cost the test suite
    ~0.1 s per bot started. ``stop`` puts them back (``gc.unfreeze``)."""
    gc.freeze()


def serial_key(payload: dict[str, Any]) -> str:
    """Updates with the same key are processed one after another."""
    for field in (
        "message",
        "edited_message",
        "callback_query",
        "my_chat_member",
        "chat_member",
        "inline_query",
    ):
        part = payload.get(field)
        if isinstance(part, dict):
            user = part.get("from") or {}
            if "id" in user:
                return f"u{user['id']}"
            chat = part.get("chat") or {}
            if "id" in chat:
                return f"c{chat['id']}"
    return f"x{payload.get('update_id')}"


class BotService:
    def __init__(
        self,
        rt: Runtime,
        *,
        token: str,
        base_url: str,
        base_file_url: str,
        time_scale: float = 1.0,
        bot: str = "",
    ) -> None:
        # bot: its [[bots]] name ("" for the single [bot]): the inbox's rows it reads and writes.
        self.bot = bot
        # time_scale: pace Telegram's limits in time this many times faster than real time, to
        # match an emulator run so (tests only; real Telegram is 1). See bot.outbox.pacer.
        self.rt = rt
        settings = rt.settings
        o = settings.outbox
        limits = Limits(
            global_per_second=o.global_per_second,
            private_interval=o.private_interval_seconds,
            group_per_minute=o.group_per_minute,
            give_up_after=timedelta(hours=o.give_up_after_hours),
            max_backoff=o.max_backoff_seconds,
            max_in_flight=o.max_in_flight,
            poll_seconds=o.poll_seconds,
        )
        pacer = Pacer(limits, clock=PaceClock(time_scale))
        # Direct replies the server cannot take go to the outbox (woken as after any commit);
        # several instances: a non-leader's all go there, for the leader alone to send.
        leads = None if rt.db.sqlite else (lambda: self._leading)
        self.replies = PacedRateLimiter(
            pacer, deferral=Deferral(rt.db, rt.clock, wake=lambda: rt.wake_outbox(), leads=leads)
        )
        self.app: AppType = build_application(
            rt,
            token=token,
            base_url=base_url,
            base_file_url=base_file_url,
            rate_limiter=self.replies,
        )
        poll_timeout = settings.bot.poll_timeout
        # A plain Bot for polling and the outbox: no PTB rate limiter in their way.
        self.raw_bot = Bot(
            token,
            base_url=base_url,
            base_file_url=base_file_url,
            request=HTTPXRequest(connection_pool_size=settings.outbox.max_in_flight + 4),
            get_updates_request=HTTPXRequest(read_timeout=poll_timeout + 10),
        )
        self.poll_timeout = poll_timeout
        self.dispatcher = Dispatcher(
            rt.db,
            rt.clock,
            TelegramSender(self.raw_bot),
            limits,
            pacer=pacer,
            events=GroupChatEvents(rt),  # a group upgraded or lost, learnt from a send
        )
        # This process's dispatcher, and the leader's across processes (LISTEN/NOTIFY).
        self.wakeup = Wakeup(rt.db.url, self.dispatcher.wake, lambda: self._leading)
        rt.wake_outbox = self.wakeup.wake
        self._sem_size = settings.bot.concurrent_updates
        self._sem = asyncio.Semaphore(self._sem_size)
        self._new_updates = asyncio.Event()
        # Updates just stored by this process, handed to the processor as parsed: it reads
        # the inbox only at start, after a failure, and when idle for a second.
        self._fresh: list[tuple[int, dict[str, Any]]] = []
        self._reread = True
        # Updates handled, to be marked processed: in one write for all that finished while
        # the previous one ran (one per update before).
        self._to_mark: list[int] = []
        self._marking: list[int] = []  # those of the write under way
        self._marks_due = asyncio.Event()
        # Set whenever an update stops counting as pending (its mark written): idle() waits on
        # it instead of polling the inbox.
        self._progress = asyncio.Event()
        self._marker: asyncio.Task[None] | None = None
        self._in_flight: set[int] = set()
        # Recently finished ids: a pending-list read just before a row was marked done must not
        # hand that update out again.
        self._done: set[int] = set()
        self._done_order: deque[int] = deque()
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self.polling = True
        # Several instances on one database (PostgreSQL): claims, and one leader.
        self.shared = not rt.db.sqlite
        self.me = f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.leadership = Leadership(rt.db.url, token.split(":", 1)[0])
        self.leadership.before_release = self._stop_leading
        self._leading: bool = False  # the leader's duties (poll, dispatch, sweep) are running
        self.app.bot_data[LEADS] = lambda: self.leadership.always or self._leading
        self._poller: asyncio.Task[None] | None = None
        self._renewed = 0.0
        self._claims = inbox.Claims(rt.db.url, bot) if self.shared else None

    # Shared inbox: how often an instance looks for updates others stored, how long a claim
    # holds (renewed while the update is handled), how often leadership is checked.
    claim_seconds = 0.2
    lease_seconds = 30.0
    leader_check_seconds = 5.0
    claim_depth = 4  # claimed at most: this many times concurrent_updates

    # Start-up waits out a Telegram that answers 5xx or cannot be reached: first this many
    # seconds, doubling up to the cap, for as long as it takes (issue 11).
    startup_backoff = 1.0
    startup_backoff_cap = 30.0

    async def start(self, *, poll: bool = True) -> None:
        await self._until_up("getMe", self.raw_bot.initialize)
        await self._until_up("getMe", self.app.bot.initialize)  # so app.initialize has no call
        await self.app.initialize()
        await self.app.start()
        await self._until_up("setMyCommands", lambda: publish_commands(self.app))
        self._running = True
        self.polling = poll
        await self.wakeup.start()
        if await self.leadership.check():
            await self._lead()
        if not self.leadership.always:
            self._tasks.append(asyncio.create_task(self._watch(), name="leadership"))
        self._tasks.append(asyncio.create_task(self._process(), name="inbox-process"))
        self._marker = asyncio.create_task(self._mark(), name="inbox-mark")
        freeze_heap()
        logger.info("bot started as @%s", self.app.bot.username)

    async def _until_up(self, what: str, call: Callable[[], Awaitable[object]]) -> None:
        """Make a start-up call, retrying a transient failure (5xx, timeout, no connection,
        429) with capped back-off and saying what it waits for. A final answer (a bad token,
        400, 403) stops start-up at once, as before."""
        delay = self.startup_backoff
        while True:
            try:
                await call()
                return
            except RetryAfter as exc:
                ra = exc.retry_after
                wait = ra.total_seconds() if hasattr(ra, "total_seconds") else float(ra)
                reason = f"429, retry after {wait:g}s"
            except NetworkError as exc:
                if isinstance(exc, BadRequest):
                    raise
                wait, delay = delay, min(delay * 2, self.startup_backoff_cap)
                reason = str(exc)
            logger.warning(
                "waiting for Telegram: %s failed (%s); trying again in %gs", what, reason, wait
            )
            await asyncio.sleep(wait)

    # --- leadership -----------------------------------------------------------------------

    async def _lead(self) -> None:
        """Take up the leader's duties: the outbox dispatcher, polling (in polling mode); the
        sweep job runs while ``_leading`` (handlers.app.run_sweep)."""
        if not self.leadership.always:
            # The previous leader's last second of sends (it stepped down, or died, just now)
            # may still count at Telegram: this pacer has not seen them.
            self.dispatcher.pacer.hold(1.0)
        await self.dispatcher.start()
        if self.polling:
            await self._until_up("deleteWebhook", self.raw_bot.delete_webhook)
            self._poller = asyncio.create_task(self._poll(), name="inbox-poll")
        self._leading = True

    async def _step_down(self) -> None:
        self._leading = False
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        await self.dispatcher.stop()

    async def _stop_leading(self) -> None:
        if self._leading:
            await self._step_down()

    async def _watch(self) -> None:
        """Every few seconds: lead if the leader's lock is free, step down if it was lost."""
        while self._running:
            await asyncio.sleep(self.leader_check_seconds)
            try:
                leading = await self.leadership.check()
                if leading and not self._leading:
                    await self._lead()
                elif not leading and self._leading:
                    await self._step_down()
            except Exception:
                logger.exception("leadership check failed")

    async def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        self._new_updates.set()
        if self._poller is not None:
            self._poller.cancel()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks.clear()
        tails = [t for t in self._tails.values() if not t.done()]
        if tails:
            await asyncio.gather(*tails, return_exceptions=True)
        if self._marker is not None:
            self._marker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._marker
            self._marker = None
        with contextlib.suppress(Exception):  # else they are processed again after a restart
            await self._mark_handled()
        if self.shared:  # what it claimed and did not finish: free for the others at once
            with contextlib.suppress(Exception):
                async with self.rt.db.session() as s:
                    await inbox.release(s, self.me)
        if self._leading:
            await self._step_down()
        await self.leadership.close()  # after the dispatcher stopped: never two at once
        await self.wakeup.close()
        if self._claims is not None:
            await self._claims.close()
        await self.app.stop()
        await self.app.shutdown()
        await self.raw_bot.shutdown()
        gc.unfreeze()  # what start-up froze may be garbage now (a restart in the same process)

    # --- inbox --------------------------------------------------------------------------

    async def _poll(self) -> None:
        async with self.rt.db.read() as s:
            last = await inbox.last_update_id(s, self.bot)
        offset = last + 1 if last is not None else None
        backoff = 1.0
        while self._running:
            try:
                updates = await self.raw_bot.get_updates(
                    offset=offset, timeout=self.poll_timeout, allowed_updates=Update.ALL_TYPES
                )
            except NetworkError as exc:
                logger.warning("getUpdates failed (%s); retrying in %.0fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            except TelegramError:
                logger.exception("getUpdates refused")
                await asyncio.sleep(5)
                continue
            backoff = 1.0
            if not updates:
                continue
            # Shielded from the poller's cancellation at a stop: a write cut off mid-transaction
            # can keep SQLite's write lock (see Dispatcher.stop); stored, it is simply not lost.
            await asyncio.shield(self._store([(u.update_id, u.to_dict()) for u in updates]))
            # Only now may Telegram forget them: the next call's offset confirms this batch.
            offset = updates[-1].update_id + 1

    async def store(self, updates: list[tuple[int, str]]) -> int:
        """Store updates (id, JSON) in the inbox for processing; how many were new."""
        return await self._store([(uid, json.loads(payload)) for uid, payload in updates])

    async def _store(self, updates: list[tuple[int, dict[str, Any]]]) -> int:
        keys = {uid: serial_key(data) for uid, data in updates} if self.shared else None
        async with self.rt.db.session() as s:
            new = await inbox.record_new(
                s,
                self.rt.clock,
                [(uid, json.dumps(data)) for uid, data in updates],
                keys,
                bot=self.bot,
            )
        # Stored: the processor takes the new ones as they are, with no read of the inbox
        # (shared: it claims them, with the others' and any a dead instance left).
        if not self.shared:
            self._fresh.extend((uid, data) for uid, data in updates if uid in new)
        self._new_updates.set()
        return len(new)

    async def _process(self) -> None:
        while self._running:
            self._new_updates.clear()
            if self.shared:
                rows = await self._claim()
            else:
                fresh, self._fresh = self._fresh, []
                rows = dict(fresh)
                if self._reread:  # at start, after a failure, when idle: what else waits
                    self._reread = False
                    rows.update(await self._waiting())
            for update_id in sorted(rows):  # one user's updates in the order received
                if update_id in self._in_flight or update_id in self._done:
                    continue
                self._in_flight.add(update_id)
                data = rows[update_id]
                key = serial_key(data)
                prev = self._tails.get(key)
                task = asyncio.create_task(self._handle(update_id, data, prev))
                self._tails[key] = task
                task.add_done_callback(functools.partial(self._forget, key))
            try:
                wait = 1.0
                if self.shared:  # woken sooner by a new update or a slot freed
                    wait = self.claim_seconds
                await asyncio.wait_for(self._new_updates.wait(), timeout=wait)
            except TimeoutError:
                self._reread = True

    async def _claim(self) -> dict[int, dict[str, Any]]:
        """Shared inbox: renew the leases of what is being handled, claim what may be taken.
        Leases are in real time (the runtime's clock may be set forward in the tests). An
        update handled but not yet marked processed keeps its lease too: run out before a slow
        mark, it was handed to another instance and handled a second time, beside the person's
        next update, with their form's state as it was before (a question asked again over the
        summary they were confirming)."""
        now = datetime.now(UTC)
        until = now + timedelta(seconds=self.lease_seconds)
        held = [*self._in_flight, *self._to_mark, *self._marking]
        renew = bool(held) and now.timestamp() - self._renewed > self.lease_seconds / 3
        # No more than this instance will soon handle (a few times what it runs at once: the
        # next batch is claimed while the last one runs); the rest is left to the others.
        room = self.claim_depth * self._sem_size - len(self._in_flight)
        if room <= 0 and not renew:
            return {}
        if renew:
            self._renewed = now.timestamp()
        assert self._claims is not None
        try:
            rows = await self._claims.claim(now, self.me, until, room, held if renew else [])
        except Exception:
            logger.exception("claiming inbox updates failed")
            return {}
        return {
            uid: json.loads(payload)
            for uid, payload in rows
            if uid not in self._in_flight and uid not in self._done
        }

    async def _waiting(self) -> dict[int, dict[str, Any]]:
        """The pending updates of the inbox not already being handled or done."""
        try:
            # Only the ids of what waits; the payloads of those not yet being handled.
            async with self.rt.db.read() as s:
                ids = [
                    i
                    for i in await inbox.pending_ids(s, limit=500, bot=self.bot)
                    if i not in self._in_flight and i not in self._done
                ]
                rows = await inbox.payloads(s, ids, self.bot)
        except Exception:
            logger.exception("reading the inbox failed")
            self._reread = True
            return {}
        return {update_id: json.loads(payload) for update_id, payload in rows}

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        if self._tails.get(key) is task:
            del self._tails[key]

    async def _handle(
        self, update_id: int, data: dict[str, Any], prev: asyncio.Task[None] | None
    ) -> None:
        if prev is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(prev)
        error: str | None = None
        try:
            async with self._sem:
                update = Update.de_json(data, self.app.bot)
                if self.shared:  # another instance may have taken this person's last step
                    await refresh(self.app, update)
                await self.app.process_update(update)
                # The form in progress is saved before the update counts as done.
                await self.app.update_persistence()
        except Exception as exc:  # process_update reports handler errors itself
            logger.exception("update %s failed", update_id)
            error = repr(exc)[:2000]
        finally:
            if error is None:
                # Done: never handed out again by this process, marked in the inbox soon.
                self._done.add(update_id)
                self._done_order.append(update_id)
                if len(self._done_order) > 50_000:
                    self._done.discard(self._done_order.popleft())
                self._to_mark.append(update_id)
                self._marks_due.set()
                self._in_flight.discard(update_id)
                if self.shared:
                    self._new_updates.set()  # room for more: claim (one claim at a time)
            else:
                try:
                    async with self.rt.db.session() as s:
                        await inbox.mark_processed(s, self.rt.clock, update_id, error, self.bot)
                finally:
                    self._in_flight.discard(update_id)
                    self._reread = True  # still pending: the next read tries it again
                    self._new_updates.set()
                    self._progress.set()

    async def _mark(self) -> None:
        """Mark handled updates processed, all that finished since the last write at once."""
        while True:
            await self._marks_due.wait()
            self._marks_due.clear()
            try:
                await self._mark_handled()
                self._progress.set()
            except Exception:
                logger.exception("marking updates processed failed")
                await asyncio.sleep(1.0)
                self._marks_due.set()

    async def _mark_handled(self) -> None:
        ids, self._to_mark = self._to_mark, []
        if not ids:
            return
        self._marking = ids
        try:
            async with self.rt.db.session() as s:
                await inbox.mark_done(s, self.rt.clock, ids, self.bot)
        except BaseException:
            self._to_mark[:0] = ids  # tried again by the next write
            raise
        finally:
            self._marking = []

    async def idle(self) -> None:
        """Wait until the inbox has nothing left to process (tests)."""
        while True:
            self._progress.clear()  # before the read: a mark written meanwhile still wakes us
            if not self._in_flight:  # one under way: not idle, no need to read
                async with self.rt.db.read() as s:
                    if not await inbox.pending(s, limit=1, bot=self.bot) and not self._in_flight:
                        return
            # Woken by the next mark; the timeout covers what no mark announces (a row that
            # another process stored or marked).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), timeout=0.25)
