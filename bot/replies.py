"""Direct replies handed to the outbox: those the server could not take (a 5xx, a network
error), so they still arrive (issue 11), and, with several instances on one database, every
reply of an instance that does not lead, so that the leader's one dispatcher sends all and
Telegram's limits hold in total (issue 14). The dispatcher sends them in order per chat, with
its own back-off; ``owed_to`` tells a reply to wait its turn behind them. Nothing here knows
Telegram: the channel passes plain values (a chat keyboard as opaque data)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot import outbox
from bot.buttons import Rows
from bot.clock import Clock
from bot.db import Database
from models import OutboxKind, OutboxMessage, OutboxStatus


async def defer_send(
    db: Database,
    clock: Clock,
    *,
    chat_id: int,
    text: str,
    buttons: Rows | None,
    is_group: bool,
    photo: str | None = None,
    voice: str | None = None,
    keyboard: dict[str, Any] | None = None,
) -> int:
    """Owe a message the direct reply did not send; returns the outbox row's id."""
    async with db.session() as s:
        msg = outbox.enqueue(
            s,
            clock,
            chat_id=chat_id,
            text=text,
            buttons=buttons,
            is_group=is_group,
            photo=photo,
            voice=voice,
            keyboard=keyboard,
        )
        await s.flush()
        return msg.id


async def defer_edit(
    db: Database,
    clock: Clock,
    *,
    chat_id: int,
    message_id: int,
    text: str,
    buttons: Rows | None,
    is_group: bool,
) -> int:
    """Owe an edit of a message the bot sent directly (the outbox knows nothing of it): a row
    standing for that message, already sent with its id, and the edit of it. An empty
    ``text`` changes the buttons only (``outbox.is_buttons_only``)."""
    now = clock.now()
    async with db.session() as s:
        original = OutboxMessage(
            **outbox.row(now, chat_id=chat_id, text="", is_group=is_group, kind=OutboxKind.SEND)
        )
        original.status = OutboxStatus.SENT
        original.message_id = message_id
        original.sent_at = now
        s.add(original)
        await s.flush()
        edit = outbox.enqueue_edit(s, clock, original=original, text=text, buttons=buttons)
        await s.flush()
        return edit.id


async def owed_to(db: Database, chat_id: int) -> bool:
    """Does the outbox still owe this chat a reply or an order's message (priority 0)? Then a
    new reply waits its turn. A broadcast's row (a later priority) does not count: the outbox
    itself sends replies before it, and the read stays one of the few priority-0 rows owed
    (the status and priority index), however large a broadcast is under way."""
    async with db.read() as s:
        found = await s.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
                OutboxMessage.priority == 0,
                OutboxMessage.chat_id == chat_id,
            )
            .limit(1)
        )
    return found is not None
