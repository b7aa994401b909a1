"""A grid's group chat changing under the bot (DESIGN rule 13): Telegram upgrading a group to
a supergroup (a new chat id), or the bot being removed from it.

Both arrive twice, in any order: as an update (the service message with
``migrate_to_chat_id``/``migrate_from_chat_id``; ``my_chat_member`` left/kicked) and as the
answer to a send (``ChatMigrated``; 403 Forbidden). Each function here is idempotent, so the
second sign changes nothing and tells no one again.
"""

from __future__ import annotations

import logging

from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.db import affected_rows
from bot.i18n import N_, Gettext
from bot.outbox import UPGRADED
from bot.runtime import Runtime
from bot.services import alerts, scope
from bot.services.orders import routing
from models import (
    Grid,
    NoticeDelivery,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
)

logger = logging.getLogger(__name__)

GROUP_LOST = N_(
    "⚠️ I can no longer post in the task group of {grid}: I was removed from it, or may not "
    "write there. New tasks of this grid do not reach the group now (volunteers on duty still "
    "hear of them privately). Please add me back to the group, or send /bind in another group."
)


async def follow_migration(
    rt: Runtime, session: AsyncSession, old_chat: int, new_chat: int
) -> bool:
    """Point everything at the new chat: the grid's group, the messages still owed to the old
    id (edits of messages that stay in the old group are dropped: they cannot be made), and
    the tasks still open, posted again there. Returns whether anything changed."""
    if old_chat == new_chat:
        return False
    m = OutboxMessage
    now = rt.clock.now()
    grids = await affected_rows(
        session,
        update(Grid)
        .where(Grid.group_chat_id == old_chat)
        .values(group_chat_id=new_chat, group_lost_chat_id=None)
        .execution_options(synchronize_session=False),
    )
    moved = await affected_rows(
        session,
        update(m)
        .where(m.chat_id == old_chat, m.status == OutboxStatus.PENDING, m.kind == OutboxKind.SEND)
        .values(chat_id=new_chat, is_group=True)
        .execution_options(synchronize_session=False),
    )
    # Edits and pins of messages that had not gone out yet follow them to the new chat;
    in_new = list(await session.scalars(select(m.id).where(m.chat_id == new_chat)))
    if in_new:
        await session.execute(
            update(m)
            .where(m.chat_id == old_chat, m.status == OutboxStatus.PENDING, m.edit_of.in_(in_new))
            .values(chat_id=new_chat, is_group=True)
            .execution_options(synchronize_session=False)
        )
    # those of messages already in the old group cannot be made any more (reported_at set:
    # this is not a failure to alert anyone about). Open tasks are posted again instead.
    await session.execute(
        update(m)
        .where(m.chat_id == old_chat, m.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.FAILED, error=UPGRADED, next_attempt_at=now, reported_at=now)
        .execution_options(synchronize_session=False)
    )
    reposted = await routing.repost_open_tasks(rt, session, old_chat, new_chat)
    # Notices delivered to the group: their delivery rows name the chat (who confirmed).
    nd, other = NoticeDelivery, aliased(NoticeDelivery)
    await session.execute(
        update(nd)
        .where(
            nd.chat_id == old_chat,
            ~exists().where(other.notice_id == nd.notice_id, other.chat_id == new_chat),
        )
        .values(chat_id=new_chat)
        .execution_options(synchronize_session=False)
    )
    changed = bool(grids or moved or reposted)
    if changed:
        logger.info(
            "group %s became supergroup %s: %d grid(s), %d message(s) moved, %d task post(s) "
            "made again",
            old_chat,
            new_chat,
            grids,
            moved,
            reposted,
        )
    return changed


async def group_lost(rt: Runtime, session: AsyncSession, chat_id: int) -> bool:
    """The bot was removed from a group (or may not post there: 403). If it is a grid's task
    group, tell that grid's leaders and its community's staff at once, privately, in their
    language: once per loss (a conditional UPDATE decides), however many signs arrive."""
    grid = await session.scalar(select(Grid).where(Grid.group_chat_id == chat_id))
    if grid is None:
        return False
    first = await affected_rows(
        session,
        update(Grid)
        .where(
            Grid.id == grid.id,
            or_(Grid.group_lost_chat_id.is_(None), Grid.group_lost_chat_id != chat_id),
        )
        .values(group_lost_chat_id=chat_id)
        .execution_options(synchronize_session=False),
    )
    if first != 1:
        return False
    staff = await scope.staff_covering(session, grid.community_id, grid.id, admins=False)
    name = grid.name

    def render(_: Gettext) -> str:
        return _(GROUP_LOST).format(grid=name)

    await alerts.alert(rt, session, staff, render, kind=alerts.GROUP_LOST)
    logger.warning("the bot lost the task group of grid %s", grid.id)
    return True


async def group_back(session: AsyncSession, chat_id: int) -> None:
    """The bot is a member again: a later loss of this group is told again."""
    await session.execute(
        update(Grid)
        .where(Grid.group_lost_chat_id == chat_id)
        .values(group_lost_chat_id=None)
        .execution_options(synchronize_session=False)
    )


class GroupChatEvents:
    """What the outbox dispatcher learns from a send, followed here (bot.outbox.ChatEvents)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def chat_migrated(self, session: AsyncSession, old_chat: int, new_chat: int) -> None:
        await follow_migration(self.rt, session, old_chat, new_chat)

    async def group_refused(self, session: AsyncSession, chat_id: int) -> None:
        await group_lost(self.rt, session, chat_id)
