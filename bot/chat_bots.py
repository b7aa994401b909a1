"""Which bot of a district a chat talks to. A district runs one bot per community
(``[[bots]]``); Telegram lets a bot write only to those who started it and to the groups it is
in, so a chat's outbox rows are sent by the bot it last talked to: the ``chat_bots`` table,
written when an update from the chat reaches a bot (only when that changes: ``ChatBots``
remembers what it wrote), read by each bot's dispatcher (``outbox_rows``). A chat in no row
(nobody of it ever wrote to any bot) is the first bot's. No enqueue site knows of bots: a
district notice to the households of ten communities is sent by each household's own bot, ten
dispatchers side by side, each within its own Telegram budget. Also: the communities of the
database that no bot serves (``unserved``), a configuration error at start; and the chats of
the people of a bot's communities known before they wrote to any bot (``adopt``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.config import Settings
from bot.db import Database
from models import (
    Building,
    ChatBot,
    Community,
    Grid,
    OutboxMessage,
    Resident,
    Staff,
    Volunteer,
)


async def record(session: AsyncSession, chat_id: int, bot: str) -> None:
    """The chat talks to ``bot`` from now on."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(ChatBot).values(chat_id=chat_id, bot=bot)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["chat_id"], set_={"bot": stmt.excluded.bot})
    )


async def record_if_new(session: AsyncSession, chat_id: int, bot: str) -> None:
    """The chat talks to ``bot`` unless it already has a bot."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(ChatBot).values(chat_id=chat_id, bot=bot)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["chat_id"]))


class ChatBots:
    """The chats' bots as this process last wrote them, shared by the bots of the process: a
    chat's row is written only when an update reaches another bot than the one written (a
    row another instance changed meanwhile is not seen: the chat still goes through a bot it
    talked to)."""

    limit = 200_000  # chats remembered; beyond, forgotten all at once (written again)

    def __init__(self, db: Database) -> None:
        self.db = db
        self._known: dict[int, str] = {}

    async def load(self) -> int:
        """Remember the table as it is (at start): the first update of each chat after a
        restart then writes nothing when its bot is unchanged. How many chats."""
        async with self.db.read() as s:
            rows = list(await s.execute(select(ChatBot.chat_id, ChatBot.bot).limit(self.limit)))
        self._known = {chat: bot for chat, bot in rows}
        return len(rows)

    async def note(self, chat_id: int, bot: str) -> None:
        """An update from ``chat_id`` reached ``bot``."""
        if self._known.get(chat_id) == bot:
            return
        async with self.db.session() as s:
            await record(s, chat_id, bot)
        self._remember(chat_id, bot)

    async def note_person(self, user_id: int, bot: str) -> None:
        """Someone acted in a group of ``bot``: their private chat goes through it too, unless
        it has a bot already (they talked to one privately). Telegram lets a bot write only to
        those who started it: a better guess than the first bot."""
        if user_id in self._known:
            return
        async with self.db.session() as s:
            await record_if_new(s, user_id, bot)
        self._remember(user_id, _SOME)

    def _remember(self, chat_id: int, bot: str) -> None:
        if len(self._known) >= self.limit:
            self._known.clear()
        self._known[chat_id] = bot


_SOME = "?"  # a chat known to have a row, its bot not known here (no bot's name: [a-z0-9_]+)


def outbox_rows(bot: str, bots: Sequence[str]) -> ColumnElement[bool]:
    """The outbox rows ``bot``'s dispatcher sends, among the deployment's ``bots`` (in their
    order): those of the chats that talk to it (the first bot also those of chats in no row,
    or in the row of a bot no longer configured); but an edit or a pin goes through the bot
    that sent its original (Telegram lets only the author edit), when one of ``bots`` did."""
    others = [b for b in bots if b != bot]
    if bots and bots[0] == bot:
        taken = select(ChatBot.chat_id).where(ChatBot.bot.in_(others))
        by_chat = OutboxMessage.chat_id.not_in(taken)
    else:
        mine = select(ChatBot.chat_id).where(ChatBot.bot == bot)
        by_chat = OutboxMessage.chat_id.in_(mine)
    original = aliased(OutboxMessage)
    sent_by = select(original.sent_by).where(original.id == OutboxMessage.edit_of)
    author = sent_by.scalar_subquery()
    return or_(
        and_(OutboxMessage.edit_of.is_(None), by_chat),
        and_(
            OutboxMessage.edit_of.is_not(None),
            or_(author == bot, and_(or_(author.is_(None), author.not_in(bots)), by_chat)),
        ),
    )


async def adopt(session: AsyncSession, bot: str, codes: Collection[str]) -> int:
    """The chats of the people and groups of ``bot``'s communities that have no bot yet go
    through it (residents, volunteers, community and grid staff, the grids' groups): someone
    imported who never wrote to any bot is then written to by their community's bot, not the
    first one. Run at start; how many chats were given a bot."""
    in_codes = Community.code.in_(codes)
    queries = [
        select(Resident.telegram_id)
        .join(Building, Building.id == Resident.building_id)
        .join(Grid, Grid.id == Building.grid_id)
        .join(Community, Community.id == Grid.community_id)
        .where(in_codes),
        select(Volunteer.telegram_id)
        .join(Grid, Grid.id == Volunteer.grid_id)
        .join(Community, Community.id == Grid.community_id)
        .where(in_codes),
        select(Staff.telegram_id)
        .join(Community, Community.id == Staff.community_id)
        .where(in_codes),
        select(Grid.group_chat_id)
        .join(Community, Community.id == Grid.community_id)
        .where(in_codes, Grid.group_chat_id.is_not(None)),
    ]
    chats: set[int] = set()
    for q in queries:
        chats.update(await session.scalars(q))
    known = set(await session.scalars(select(ChatBot.chat_id)))
    new = sorted(chats - known)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for i in range(0, len(new), 5000):
        rows = [{"chat_id": chat, "bot": bot} for chat in new[i : i + 5000]]
        await session.execute(
            insert(ChatBot).values(rows).on_conflict_do_nothing(index_elements=["chat_id"])
        )
    return len(new)


async def unserved(session: AsyncSession, settings: Settings) -> list[str]:
    """With ``[[bots]]``: the codes of the communities of the database no bot serves."""
    if not settings.bots:
        return []
    served = {code for b in settings.bots for code in b.communities}
    codes = await session.scalars(select(Community.code).order_by(Community.code))
    return [code for code in codes if code not in served]
