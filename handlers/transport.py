"""The outbox's Telegram side: turns an outbox row into a Bot API call and the answer into a
SendResult the dispatcher understands."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import BaseRateLimiter

from bot.outbox import Outgoing, Pacer, SendResult
from handlers.common import inline
from models import OutboxKind

logger = logging.getLogger(__name__)


class TelegramSender:
    """Sends without PTB's rate limiter: the dispatcher paces itself (DESIGN rule 4)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, msg: Outgoing) -> SendResult:
        markup = inline(msg.buttons)
        try:
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
                send_file = {
                    "voice": self.bot.send_voice,
                    "document": self.bot.send_document,
                }.get(msg.media or "", self.bot.send_photo)
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


# Bot API methods that produce or change a message, and so count toward the flood limits.
_PACED = ("send", "edit", "copy", "forward")


def _seconds(retry: Any) -> float:
    return retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry)


class PacedRateLimiter(BaseRateLimiter[None]):
    """PTB's rate-limiter hook for direct replies, sharing the outbox's pacer: a reply and a
    broadcast draw on one overall budget. A 429 is waited out and retried (like
    AIORateLimiter)."""

    def __init__(self, pacer: Pacer, max_retries: int = 3) -> None:
        self.pacer = pacer
        self.max_retries = max_retries

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
        chat_id = data.get("chat_id")
        paced = endpoint.lower().startswith(_PACED)
        is_group = isinstance(chat_id, int) and chat_id < 0
        attempt = 0
        while True:
            if paced:
                await self.pacer.acquire(chat_id if isinstance(chat_id, int) else None, is_group)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                attempt += 1
                if attempt > self.max_retries:
                    raise
                wait = _seconds(exc.retry_after)
                logger.info("%s: 429, retrying in %ss", endpoint, wait)
                await asyncio.sleep(wait + 0.1)
