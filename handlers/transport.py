"""The outbox's Telegram side: turns an outbox row into a Bot API call and the answer into a
SendResult the dispatcher understands."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, Message
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

# Replies the outbox can carry: plain text (or a photo / voice by file id) with inline buttons.
_DEFERRABLE = {"sendMessage", "sendPhoto", "sendVoice", "editMessageText"}
# Keys of those calls the outbox does without (a reply keyboard is left off: the menu keyboard
# the resident already has stays).
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
    """Where a failed direct reply goes: the outbox of this database."""

    db: Database
    clock: Clock
    wake: Callable[[], None]


class PacedRateLimiter(BaseRateLimiter[None]):
    """PTB's rate-limiter hook for direct replies, sharing the outbox's pacer: a reply and a
    broadcast draw on one overall budget, and a chat's replies wait their turn for its budget
    (a second after the previous message's answer in a private chat), in the order sent. A 429
    is waited out and retried (like AIORateLimiter). A 5xx or a network error is tried again
    briefly; then a message or an edit is handed to the outbox (and the chat's next replies
    follow it there, so they stay in order), a callback answer is given up quietly. Every call
    is also checked to be made with no write transaction open (DESIGN rule 11): one that is goes
    to the log and to ``CALLS_IN_TRANSACTION`` (the test harness fails on any)."""

    def __init__(
        self, pacer: Pacer, max_retries: int = 3, deferral: Deferral | None = None
    ) -> None:
        self.pacer = pacer
        self.max_retries = max_retries
        self.deferral = deferral
        self.deferred_count = 0
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
        if (
            isinstance(chat_id, int)
            and chat_id in self._deferred_chats
            and not in_transaction
            and self._deferrable(endpoint, data)
        ):
            assert self.deferral is not None
            if await replies.owed_to(self.deferral.db, chat_id):
                # An earlier reply to this chat still waits in the outbox: queue behind it.
                return await self._defer(endpoint, data, chat_id, "an earlier reply waits")
            self._deferred_chats.discard(chat_id)
        paced = endpoint.lower().startswith(_PACED)
        is_group = isinstance(chat_id, int) and chat_id < 0
        attempt = 0
        failures = 0
        while True:
            flight = (
                await self.pacer.acquire(chat_id if isinstance(chat_id, int) else None, is_group)
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

    async def _defer(self, endpoint: str, data: dict[str, Any], chat_id: int, why: str) -> bool:
        """Hand the reply to the outbox. PTB gets True (as for an inline message): no handler
        reads the Message of a direct reply."""
        assert self.deferral is not None
        d = self.deferral
        buttons = _rows(data.get("reply_markup"))
        is_group = chat_id < 0
        if endpoint == "editMessageText":
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
            )
        self._deferred_chats.add(chat_id)
        self.deferred_count += 1
        logger.warning("%s handed to the outbox (row %s): %s", endpoint, row_id, why)
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
