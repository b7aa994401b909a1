"""Which bot of a district a chat talks to. A district runs one bot per community
(``[[bots]]``); Telegram lets a bot write only to those who started it and to the groups it is
in, so a chat's outbox rows are sent by the bot it last talked to: the ``chat_bots`` table,
written when an update from the chat reaches a bot (only when that changes: ``ChatBots``
remembers what it wrote), read by each bot's dispatcher (``outbox_rows``). A chat in no row
(nobody of it ever wrote to any bot) is the first bot's. No enqueue site knows of bots: a
district notice to the households of ten communities is sent by each household's own bot, ten
dispatchers side by side, each within its own Telegram budget. Also: the communities of the
database that no bot serves (``unserved``), a configuration error at start."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import Database
from models import ChatBot, Community, OutboxMessage


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


async def bot_of(session: AsyncSession, chat_id: int) -> str | None:
    return await session.scalar(select(ChatBot.bot).where(ChatBot.chat_id == chat_id))


class ChatBots:
    """The chats' bots as this process last wrote them, shared by the bots of the process: a
    chat's row is written only when an update reaches another bot than the one written (a
    row another instance changed meanwhile is not seen: the chat still goes through a bot it
    talked to)."""

    limit = 200_000  # chats remembered; beyond, forgotten all at once (written again)

    def __init__(self, db: Database) -> None:
        self.db = db
        self._known: dict[int, str] = {}

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
    order): those of the chats that talk to it; the first bot also sends those of chats in no
    row, or in the row of a bot no longer configured."""
    others = [b for b in bots if b != bot]
    if bots and bots[0] == bot:
        taken = select(ChatBot.chat_id).where(ChatBot.bot.in_(others))
        return OutboxMessage.chat_id.not_in(taken)
    mine = select(ChatBot.chat_id).where(ChatBot.bot == bot)
    return OutboxMessage.chat_id.in_(mine)


async def unserved(session: AsyncSession, settings: Settings) -> list[str]:
    """With ``[[bots]]``: the codes of the communities of the database no bot serves."""
    if not settings.bots:
        return []
    served = {code for b in settings.bots for code in b.communities}
    codes = await session.scalars(select(Community.code).order_by(Community.code))
    return [code for code in codes if code not in served]
