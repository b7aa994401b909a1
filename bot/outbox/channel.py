"""What the dispatcher and a channel exchange: the message to send (``Outgoing``, read from
its row), what came of it (``SendResult``), the ``Sender`` a channel implements, and the
``ChatEvents`` the services implement for what a send learns about a chat. Nothing here
knows Telegram."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons import Rows
from models import OutboxKind


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
    # A chat keyboard instead of buttons (a direct reply handed to the outbox): the channel's
    # own plain data, opaque here (Telegram's reply keyboard, or its removal, as JSON).
    keyboard: dict[str, Any] | None = None


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
