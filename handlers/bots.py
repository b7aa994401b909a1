"""The bots of a deployment: building, starting and stopping them. Without ``[[bots]]`` one bot
(the ``[bot]`` token) serves every community, as it always did. A district configures one bot
per community (``[[bots]]``): one process runs a ``BotService`` per bot (its own Application,
Telegram budget, inbox rows, leadership among the instances, poller or webhook), all on one
Runtime and database. Each bot knows the communities it serves (``SERVES_KEY``: registration
offers only those), records which chats talk to it (bot.chat_bots: its dispatcher sends their
outbox rows), and only the first runs the sweep (once per deployment, under that bot's
leadership). On PostgreSQL several instances share out the bots' leaderships
(bot.leader_share), so that the sending is spread over them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from telegram import ChatMember, Update
from telegram.ext import TypeHandler

from bot.chat_bots import ChatBots, adopt, outbox_rows
from bot.config import Settings
from bot.leader_share import LeaderShare
from bot.runtime import Runtime
from handlers.app import LEADS
from handlers.context import SERVES_KEY, AppContext
from handlers.runner import BotService

logger = logging.getLogger(__name__)

# bot_data: the process's ChatBots and this Application's bot name (note_chat).
CHAT_BOTS_KEY = "chat_bots"
BOT_NAME_KEY = "bot_name"

SANDBOX_TOKEN = "100000001:SANDBOX-NOT-A-REAL-TOKEN"


@dataclass(frozen=True)
class BotSpec:
    """One bot to run: its name ("" for the single [bot]), token, username (None: as Telegram
    says) and the community codes it serves (None: every community)."""

    name: str
    token: str
    username: str | None = None
    communities: frozenset[str] | None = None


def specs(settings: Settings, *, emulated: bool = False) -> list[BotSpec]:
    """The bots of this configuration. ``emulated`` (no token at all): the emulator's tokens,
    one per ``[[bots]]`` entry (ConfigError, via ``bot_tokens``, when some are missing)."""
    if not settings.bots:
        if emulated:
            return [BotSpec("", SANDBOX_TOKEN, "paotui_bot")]
        assert settings.bot.token is not None
        return [BotSpec("", settings.bot.token.get_secret_value(), settings.bot.username)]
    tokens = {} if emulated else settings.bot_tokens()
    return [
        BotSpec(
            b.name,
            tokens.get(b.name) or f"{100000101 + i}:SANDBOX-{b.name}",
            b.username,
            frozenset(b.communities),
        )
        for i, b in enumerate(settings.bots)
    ]


async def note_chat(update: Update, ctx: AppContext) -> None:
    """An update from a chat reached this bot: the chat's outbox rows go through it now (a
    user leaving or blocking it changes nothing)."""
    chat = update.effective_chat
    if chat is None:
        return
    member = update.my_chat_member
    if member is not None and member.new_chat_member.status in (
        ChatMember.LEFT,
        ChatMember.BANNED,
    ):
        return
    chat_bots: ChatBots = ctx.bot_data[CHAT_BOTS_KEY]
    bot: str = ctx.bot_data[BOT_NAME_KEY]
    user = update.effective_user
    try:
        await chat_bots.note(chat.id, bot)
        if user is not None and not user.is_bot and user.id != chat.id:
            await chat_bots.note_person(user.id, bot)
    except Exception:  # the update is handled all the same; the chat keeps its bot so far
        logger.exception("recording the bot of chat %s failed", chat.id)


class Bots:
    """The bot services of one deployment, the first one's sweep the only one."""

    def __init__(
        self,
        rt: Runtime,
        bots: list[BotSpec],
        *,
        base_url: str,
        base_file_url: str,
        time_scale: float = 1.0,
    ) -> None:
        self.rt = rt
        self.specs = bots
        self.share: LeaderShare | None = None
        self.chats: ChatBots | None = None
        self.services: list[BotService] = []
        # Each service makes the runtime's wake_outbox its own (its dispatcher's wake, and
        # whatever else waking it takes): kept, so that a commit wakes every bot's.
        wakes: list[Callable[[], None]] = []
        for spec in bots:
            self.services.append(
                BotService(
                    rt,
                    token=spec.token,
                    base_url=base_url,
                    base_file_url=base_file_url,
                    time_scale=time_scale,
                    bot=spec.name,
                )
            )
            wakes.append(rt.wake_outbox)
        if len(bots) == 1 and bots[0].communities is None:
            return  # one bot for every community: nothing to route
        chats = self.chats = ChatBots(rt.db)
        names = [spec.name for spec in bots]
        for i, (spec, service) in enumerate(zip(bots, self.services, strict=True)):
            data = service.app.bot_data
            data[SERVES_KEY] = spec.communities
            data[CHAT_BOTS_KEY] = chats
            data[BOT_NAME_KEY] = spec.name
            # Before everything else (even the flood guard): what the handlers owe the chat
            # goes through this bot.
            service.app.add_handler(TypeHandler(Update, note_chat), group=-4)
            service.dispatcher.rows = outbox_rows(spec.name, names)
            service.dispatcher.name = spec.name  # edits follow the bot that sent the original
            if i > 0:
                data[LEADS] = _never  # the sweep: the first bot's, once per deployment
        # Several instances (PostgreSQL): each leads about its share of the bots.
        if not rt.db.sqlite and len(self.services) > 1:
            self.share = LeaderShare(rt.db.url, [s.leadership for s in self.services])
            self.share.share()

        # Whatever commits outbox rows wakes every bot's dispatcher (each sends its own).
        def wake_all() -> None:
            for wake in wakes:
                wake()

        rt.wake_outbox = wake_all

    async def adopt(self) -> None:
        """Before the start: the chats of each bot's people that have no bot yet are its; the
        chats' bots as they are, remembered."""
        for spec in self.specs:
            if spec.communities is None:
                continue
            async with self.rt.db.session() as s:
                n = await adopt(s, spec.name, spec.communities)
            if n:
                logger.info("bot %s: %d chats of its communities go through it", spec.name, n)
        if self.chats is not None:  # known: an unchanged chat's first update writes nothing
            await self.chats.load()

    async def close(self) -> None:
        """After the services stopped: this instance no longer counts among the instances."""
        if self.share is not None:
            await self.share.close()

    async def idle(self) -> None:
        """Every bot's inbox processed (tests)."""
        await asyncio.gather(*(s.idle() for s in self.services))

    async def drain(self, timeout: float = 30.0) -> None:
        """Every bot's outbox rows sent (tests)."""
        await asyncio.gather(*(s.dispatcher.drain(timeout) for s in self.services))


def _never() -> bool:
    return False
