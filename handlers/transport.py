"""The outbox's Telegram side: turns an outbox row into a Bot API call and the answer into a
SendResult the dispatcher understands."""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.outbox import Outgoing, SendResult
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
                    msg.text, chat_id=msg.chat_id, message_id=msg.target_message_id,
                    reply_markup=markup,
                )
                return SendResult(ok=True, message_id=msg.target_message_id)
            if msg.photo:
                sent = await self.bot.send_photo(
                    msg.chat_id, msg.photo, caption=msg.text, reply_markup=markup
                )
            else:
                sent = await self.bot.send_message(msg.chat_id, msg.text, reply_markup=markup)
            return SendResult(ok=True, message_id=sent.message_id)
        except RetryAfter as exc:
            retry = exc.retry_after
            seconds = retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry)
            return SendResult(ok=False, retry_after=seconds, error=str(exc))
        except Forbidden as exc:
            # Blocked the bot, or never started it: final, and recorded as such.
            return SendResult(ok=False, error=f"forbidden: {exc.message}")
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return SendResult(ok=True, message_id=msg.target_message_id)
            return SendResult(ok=False, error=f"bad request: {exc.message}")
        except (TimedOut, NetworkError) as exc:
            # PTB raises NetworkError for 5xx answers as well.
            return SendResult(ok=False, transient=True, error=f"network: {exc}")
