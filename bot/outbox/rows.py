"""Writing the outbox's rows: a message owed is a row added in the same transaction as the
change that owes it (DESIGN rule 4). ``row`` is every row's columns (a list of them is one
bulk insert); ``enqueue``, ``enqueue_edit``, ``buttons_row`` and ``pin_row`` are a send, an
edit, an edit of the buttons only and a pin."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Null, null
from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons import Rows, to_json
from bot.clock import Clock
from models import OutboxKind, OutboxMessage, OutboxStatus

# The key under which a row's ``buttons`` column holds a chat keyboard (``enqueue``'s
# ``keyboard``) instead of rows of buttons: a JSON object, where buttons are a JSON list.
KEYBOARD = "keyboard"


def row(
    now: datetime,
    *,
    chat_id: int,
    text: str,
    buttons: list[list[dict[str, Any]]] | dict[str, Any] | Null | None = None,
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


def buttons_row(
    now: datetime,
    *,
    chat_id: int,
    original_id: int,
    is_group: bool = False,
    buttons: list[list[dict[str, Any]]] | None = None,
    priority: int = 0,
) -> dict[str, Any]:
    """Replace only the buttons (``to_json``; None: take them off) of the message another
    outbox row delivered, leaving its text or caption as it is: an EDIT with no text
    (``is_buttons_only``), sent as editMessageReplyMarkup."""
    return row(
        now,
        chat_id=chat_id,
        text="",
        buttons=buttons,
        is_group=is_group,
        kind=OutboxKind.EDIT,
        edit_of=original_id,
        priority=priority,
    )


def is_buttons_only(kind: OutboxKind, text: str) -> bool:
    """An edit of the buttons alone (``buttons_row``): no message has an empty text."""
    return kind == OutboxKind.EDIT and not text


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
    keyboard: dict[str, Any] | None = None,
) -> OutboxMessage:
    """Owe a message. Lower priority goes first: order traffic 0, broadcasts 10.
    ``keyboard``: a chat keyboard instead of ``buttons``, the channel's own plain data (a
    direct reply handed to the outbox, bot.replies)."""
    msg = OutboxMessage(
        **row(
            clock.now(),
            chat_id=chat_id,
            text=text,
            buttons=to_json(buttons) if keyboard is None else {KEYBOARD: keyboard},
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
