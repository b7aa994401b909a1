"""The outbox's Telegram side: turns an outbox row into a Bot API call and the answer into a
SendResult the dispatcher understands; and PTB's rate-limiter hook for direct replies, which
paces them with the outbox's pacer and hands to the outbox those that must go through it (a
failed reply; with several instances, every reply of an instance that does not lead)."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import BaseRateLimiter

from bot import replies
from bot.buttons import Button, Rows
from bot.clock import Clock
from bot.db import Database, write_transaction_open
from bot.outbox import Outgoing, Pacer, SendResult, is_buttons_only
from handlers.keyboards import inline
from models import OutboxKind

logger = logging.getLogger(__name__)


class TelegramSender:
    """Sends without PTB's rate limiter: the dispatcher paces itself (DESIGN rule 4)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, msg: Outgoing) -> SendResult:
        markup = inline(msg.buttons)
        try:
            if is_buttons_only(msg.kind, msg.text):
                return await self._set_buttons(msg, markup)
            if msg.keyboard is not None:  # a direct reply's chat keyboard, kept as sent
                return await self._send_with_keyboard(msg, keyboard(msg.keyboard))
            if msg.kind == OutboxKind.EDIT:
                assert msg.target_message_id is not None
                await self.bot.edit_message_text(
                    msg.text,
                    chat_id=msg.chat_id,
                    message_id=msg.target_message_id,
                    reply_markup=markup,
                )
                return SendResult(ok=True, message_id=msg.target_message_id)
            if msg.kind == OutboxKind.PIN:
                assert msg.target_message_id is not None
                await self.bot.pin_chat_message(msg.chat_id, msg.target_message_id)
                return SendResult(ok=True, message_id=msg.target_message_id)
            if msg.photo:  # the file id of a photo, a voice note or a document (msg.media)
                send_file: Callable[..., Coroutine[Any, Any, Message]] = self.bot.send_photo
                if msg.media == "voice":
                    send_file = self.bot.send_voice
                elif msg.media == "document":
                    send_file = self.bot.send_document
                sent = await send_file(
                    msg.chat_id, msg.photo, caption=msg.text, reply_markup=markup
                )
            else:
                sent = await self.bot.send_message(msg.chat_id, msg.text, reply_markup=markup)
            return SendResult(ok=True, message_id=sent.message_id)
        except RetryAfter as exc:
            return SendResult(ok=False, retry_after=_seconds(exc.retry_after), error=str(exc))
        except ChatMigrated as exc:
            # The group became a supergroup: the dispatcher follows it to the new id.
            return SendResult(ok=False, migrated_to=int(exc.new_chat_id), error=str(exc))
        except Forbidden as exc:
            # Blocked the bot, never started it, or removed it from the group: final.
            return SendResult(ok=False, forbidden=True, error=f"forbidden: {exc.message}")
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return SendResult(ok=True, message_id=msg.target_message_id)
            return SendResult(ok=False, error=f"bad request: {exc.message}")
        except (TimedOut, NetworkError) as exc:
            # PTB raises NetworkError for 5xx answers as well.
            return SendResult(ok=False, transient=True, error=f"network: {exc}")

    async def _send_with_keyboard(
        self, msg: Outgoing, markup: ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply
    ) -> SendResult:
        if msg.photo:
            send_file = self.bot.send_voice if msg.media == "voice" else self.bot.send_photo
            sent = await send_file(msg.chat_id, msg.photo, caption=msg.text, reply_markup=markup)
        else:
            sent = await self.bot.send_message(msg.chat_id, msg.text, reply_markup=markup)
        return SendResult(ok=True, message_id=sent.message_id)

    async def _set_buttons(self, msg: Outgoing, markup: InlineKeyboardMarkup | None) -> SendResult:
        """The buttons of a delivered message, its text or caption left as it is. Refused
        (deleted, too old to edit, already so): done, logged, nobody told; the buttons are a
        view the next press re-checks anyway (DESIGN rule 12)."""
        assert msg.target_message_id is not None
        try:
            await self.bot.edit_message_reply_markup(
                chat_id=msg.chat_id, message_id=msg.target_message_id, reply_markup=markup
            )
        except BadRequest as exc:
            logger.info("outbox %s: buttons not changed: %s", msg.id, exc.message)
        return SendResult(ok=True, message_id=msg.target_message_id)


# Bot API methods that produce or change a message, and so count toward the flood limits.
_PACED = ("send", "edit", "copy", "forward")

# A direct reply that meets a 5xx or a network error is tried this often in all, waiting these
# seconds in between, before it goes to the outbox (issue 11): short, the user is waiting.
REPLY_TRIES = 3
REPLY_BACKOFF = (0.5, 1.5)

# Replies the outbox can carry: plain text (or a photo / voice by file id) with inline buttons
# or a chat keyboard, an edit of a text, an edit of the buttons alone.
_DEFERRABLE = {"sendMessage", "sendPhoto", "sendVoice", "editMessageText", "editMessageReplyMarkup"}
# Keys of those calls the outbox does without (a quote of the message answered is left off).
_DROPPABLE = {
    "chat_id",
    "text",
    "caption",
    "photo",
    "voice",
    "message_id",
    "reply_markup",
    "reply_parameters",
    "disable_notification",
    "link_preview_options",
}
# Why a reply went to the outbox when an earlier one to its chat is still there.
QUEUED = "an earlier reply waits"
# Calls whose failure is given up quietly: a callback query cannot wait for the outbox (it
# expires), and the buttons of a pressed message are a view the next press re-checks anyway.
_QUIET = {"answerCallbackQuery", "editMessageReplyMarkup"}


def _seconds(retry: Any) -> float:
    return retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry)


def _transient(exc: Exception) -> bool:
    """A 5xx answer, a timeout or a broken connection: worth trying again. PTB raises
    NetworkError for those and BadRequest (a NetworkError too) for a final 400."""
    return isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)


# Modules of shared helpers: a violation names the handler that called them.
_HELPERS = ("answers.py", "work.py", "conversation_exits.py", "context.py", "callback_data.py")


def keyboard(data: dict[str, Any]) -> ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply:
    """A chat keyboard (or its removal) from its JSON, as an outbox row keeps it."""
    if data.get("remove_keyboard"):
        return ReplyKeyboardRemove.de_json(data, None)
    if data.get("force_reply"):
        return ForceReply.de_json(data, None)
    rows = [[KeyboardButton.de_json(b, None) for b in row] for row in data.get("keyboard", [])]
    return ReplyKeyboardMarkup.de_json({**data, "keyboard": rows}, None)


def _keyboard_json(markup: Any) -> dict[str, Any] | None:
    """A reply's chat keyboard as JSON for its outbox row; None for none or inline buttons."""
    if isinstance(markup, ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply):
        return markup.to_dict()
    return None


def _rows(markup: Any) -> Rows | None:
    """Inline buttons as plain rows; None for no markup or a reply keyboard."""
    if not isinstance(markup, InlineKeyboardMarkup):
        return None
    rows = [
        [Button(b.text, b.callback_data) for b in row if isinstance(b.callback_data, str)]
        for row in markup.inline_keyboard
    ]
    return [r for r in rows if r] or None


# Telegram calls made with a write transaction open, as "endpoint from file:line function"
# (the last 100 of this process). The end-to-end harness fails a test that adds one.
CALLS_IN_TRANSACTION: list[str] = []


@dataclass
class Deferral:
    """Where a direct reply goes when it does not go to Telegram: the outbox of this database.
    ``leads``: several instances share the database (PostgreSQL), and this says whether this
    one leads; None for a single instance (SQLite)."""

    db: Database
    clock: Clock
    wake: Callable[[], None]
    leads: Callable[[], bool] | None = None


class PacedRateLimiter(BaseRateLimiter[None]):
    """PTB's rate-limiter hook for direct replies, sharing the outbox's pacer: a reply and a
    broadcast draw on one overall budget, and a chat's replies wait their turn for its budget
    (a second after the previous message's answer in a private chat), in the order sent. A 429
    is waited out and retried (like AIORateLimiter). A 5xx or a network error is tried again
    briefly; then a message or an edit is handed to the outbox (and the chat's next replies
    follow it there, so they stay in order), a callback answer is given up quietly. Every call
    is also checked to be made with no write transaction open (DESIGN rule 11): one that is goes
    to the log and to ``CALLS_IN_TRANSACTION`` (the test harness fails on any).

    Several instances on one database (``Deferral.leads``): only the leader's pacer may send,
    so that Telegram's limits hold in total. An instance that does not lead hands every reply
    the outbox can carry to it (PTB gets True, as for a failed reply: no handler reads the
    Message of a reply); one it cannot carry (an upload, a parse mode, a reply in a forum
    topic) goes direct once the outbox has sent what it owes the chat, a chat's interval
    later. The leader's reply waits its turn behind what the outbox owes its chat (one read
    per reply), so a chat's messages stay in order whichever instance answered."""

    def __init__(
        self, pacer: Pacer, max_retries: int = 3, deferral: Deferral | None = None
    ) -> None:
        self.pacer = pacer
        self.max_retries = max_retries
        self.deferral = deferral
        self.deferred_count = 0  # failed replies handed to the outbox
        self.relayed_count = 0  # replies of an instance that does not lead, ditto
        self._deferred_chats: set[int] = set()

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        in_transaction = write_transaction_open()
        if in_transaction:
            self._violation(endpoint)
        chat_id = data.get("chat_id")
        paced = endpoint.lower().startswith(_PACED)
        if isinstance(chat_id, int) and paced and not in_transaction and self.deferral:
            if await self._route(endpoint, data, chat_id):
                return True
        is_group = isinstance(chat_id, int) and chat_id < 0
        attempt = 0
        failures = 0
        while True:
            flight = (
                await self.pacer.acquire(
                    chat_id if isinstance(chat_id, int) else None, is_group, urgent=True
                )
                if paced
                else None
            )
            try:
                try:
                    return await callback(*args, **kwargs)
                finally:  # answered or failed: it can no longer reach Telegram later
                    if flight is not None:
                        self.pacer.landed(flight)
            except RetryAfter as exc:
                attempt += 1
                if attempt > self.max_retries:
                    raise
                wait = _seconds(exc.retry_after)
                if isinstance(chat_id, int):  # the outbox's sends to this chat wait too
                    self.pacer.back_off(chat_id, is_group, wait)
                logger.info("%s: 429, retrying in %ss", endpoint, wait)
                await asyncio.sleep(wait + 0.1)
            except NetworkError as exc:
                if not _transient(exc):
                    raise
                failures += 1
                if failures < REPLY_TRIES:
                    wait = REPLY_BACKOFF[min(failures, len(REPLY_BACKOFF)) - 1]
                    logger.info("%s failed (%s); trying again in %.1fs", endpoint, exc, wait)
                    await asyncio.sleep(wait)
                    continue
                return await self._give_up(endpoint, data, exc, in_transaction)

    async def _route(self, endpoint: str, data: dict[str, Any], chat_id: int) -> bool:
        """Hand the reply to the outbox if it must go through it (True: handed over)."""
        d = self.deferral
        assert d is not None
        deferrable = self._deferrable(endpoint, data)
        if d.leads is not None and not d.leads():
            if deferrable:
                return await self._defer(endpoint, data, chat_id, None)
            await self._after_owed(chat_id)
            return False
        if deferrable and (d.leads is not None or chat_id in self._deferred_chats):
            if await replies.owed_to(d.db, chat_id):
                # An earlier reply to this chat still waits in the outbox: queue behind it.
                return await self._defer(endpoint, data, chat_id, QUEUED)
            self._deferred_chats.discard(chat_id)
        return False

    # How long a reply the outbox cannot carry waits for the outbox to send what it owes its
    # chat (the leader may be changing), and how often it looks.
    OWED_WAIT = 10.0
    OWED_POLL = 0.05

    async def _after_owed(self, chat_id: int) -> None:
        """A reply an instance that does not lead sends itself: after what the outbox owes the
        chat (sent by the leader, whose pacer this one does not know), and a private chat's
        interval after that, so the chat's order and budget hold."""
        assert self.deferral is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.OWED_WAIT
        waited = False
        while await replies.owed_to(self.deferral.db, chat_id) and loop.time() < deadline:
            waited = True
            await asyncio.sleep(self.OWED_POLL)
        if waited and chat_id > 0:  # a group's budget is per minute: the pacer's own
            await self.pacer.clock.sleep(self.pacer.limits.private_interval)

    async def _give_up(
        self, endpoint: str, data: dict[str, Any], exc: NetworkError, in_transaction: bool
    ) -> bool:
        chat_id = data.get("chat_id")
        if endpoint in _QUIET:
            logger.warning("%s failed %d times (%s); left unanswered", endpoint, REPLY_TRIES, exc)
            return True
        if isinstance(chat_id, int) and not in_transaction and self._deferrable(endpoint, data):
            return await self._defer(endpoint, data, chat_id, str(exc))
        raise exc

    def _deferrable(self, endpoint: str, data: dict[str, Any]) -> bool:
        if self.deferral is None or endpoint not in _DEFERRABLE:
            return False
        if not set(data) <= _DROPPABLE:
            return False  # parse modes, entities, uploads...: the outbox cannot carry them
        media = data.get("photo", data.get("voice"))
        return media is None or isinstance(media, str)

    async def _defer(
        self, endpoint: str, data: dict[str, Any], chat_id: int, why: str | None
    ) -> bool:
        """Hand the reply to the outbox (``why`` None: relayed, as an instance that does not
        lead). PTB gets True (as for an inline message): no handler reads the Message of a
        direct reply."""
        assert self.deferral is not None
        d = self.deferral
        buttons = _rows(data.get("reply_markup"))
        is_group = chat_id < 0
        if endpoint in ("editMessageText", "editMessageReplyMarkup"):
            row_id = await replies.defer_edit(
                d.db,
                d.clock,
                chat_id=chat_id,
                message_id=int(data["message_id"]),
                text=str(data.get("text", "")),
                buttons=buttons,
                is_group=is_group,
            )
        else:
            row_id = await replies.defer_send(
                d.db,
                d.clock,
                chat_id=chat_id,
                text=str(data.get("text", data.get("caption", ""))),
                buttons=buttons,
                is_group=is_group,
                photo=data.get("photo"),
                voice=data.get("voice"),
                keyboard=_keyboard_json(data.get("reply_markup")),
            )
        self._deferred_chats.add(chat_id)
        if why is None:
            self.relayed_count += 1
            logger.debug("%s handed to the leader's outbox (row %s)", endpoint, row_id)
        else:
            self.deferred_count += 1
            # Queued behind a reply relayed by another instance: the ordinary course of things.
            level = logging.INFO if why == QUEUED and d.leads is not None else logging.WARNING
            logger.log(level, "%s handed to the outbox (row %s): %s", endpoint, row_id, why)
        d.wake()
        return True

    def _violation(self, endpoint: str) -> None:
        """A Telegram call with the database's writer lock held: name the caller."""
        frames = [
            f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}"
            for f in traceback.extract_stack(limit=40)
            if "/handlers/" in f.filename and not f.filename.endswith("transport.py")
        ]
        # The handler, not the shared helper (answer, edit_or_send, attempt...) it called.
        own = [f for f in frames if not f.startswith(_HELPERS)]
        where = " via ".join(([own[-1]] if own else []) + frames[-1:]) or "?"
        CALLS_IN_TRANSACTION.append(f"{endpoint} from {where}")
        del CALLS_IN_TRANSACTION[:-100]
        logger.warning("%s called with a write transaction open (%s)", endpoint, where)
