"""The context every callback receives (PTB ``examples/contexttypesbot.py``): the runtime, and
who sent the update in which language, read at most once per update.

PTB makes one context per update and hands the same one to every handler and group that
processes it, so what is read here is cached on it: the first ``gettext()`` or ``person()``
opens one read session (or uses the unit of work's session), every later step reuses the plain
values (the language code, ``people.Roles``); no ORM object outlives its session (DESIGN
rule 1).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update, User
from telegram.ext import Application, CallbackContext, ExtBot

from bot.i18n import Gettext, gettext_for
from bot.runtime import Runtime
from bot.services import people

RUNTIME_KEY = "runtime"
# bot_data: the codes of the communities this Application's bot serves, when a district runs
# one bot per community (handlers.bots); absent when one bot serves every community.
SERVES_KEY = "serves"


class AppContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The runtime, and the sender's language and roles, resolved once per update."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application, chat_id=chat_id, user_id=user_id)
        self._sender: User | None = None
        self._language: str | None = None
        self._roles: people.Roles | None = None

    @classmethod
    def from_update(
        cls, update: object, application: Application[Any, Any, Any, Any, Any, Any]
    ) -> AppContext:
        if not isinstance(update, Update):
            return cls(application)
        chat, user = update.effective_chat, update.effective_user
        ctx = cls(application, chat_id=chat.id if chat else None, user_id=user.id if user else None)
        ctx._sender = user
        return ctx

    @property
    def rt(self) -> Runtime:
        runtime: Runtime = self.application.bot_data[RUNTIME_KEY]
        return runtime

    @property
    def serves(self) -> frozenset[str] | None:
        """The codes of the communities this bot serves; None: every community."""
        codes: frozenset[str] | None = self.application.bot_data.get(SERVES_KEY)
        return codes

    async def language(self, session: AsyncSession | None = None) -> str:
        """The sender's language code: their own choice, else their Telegram client's, else
        the community default. Read once (in ``session`` if given, else in a read session of
        its own), then cached for the rest of the update."""
        if self._language is None:
            if session is not None:
                self._language = await self._read_language(session)
            else:
                async with self.rt.db.read() as s:
                    self._language = await self._read_language(s)
        return self._language

    async def _read_language(self, session: AsyncSession) -> str:
        user = self._sender
        if user is None:
            return self.rt.default_language
        return await people.language_of(
            session, user.id, self.rt.default_language, client_hint=user.language_code
        )

    async def gettext(self) -> Gettext:
        """The sender's gettext (see ``language``)."""
        return gettext_for(await self.language())

    async def person(self) -> people.Roles | None:
        """What the sender is to us (resident, volunteer, staff), as at the first call in this
        update; None for an update without a sender. Read with the language, in one statement."""
        user = self._sender
        if user is None:
            return None
        if self._roles is None:
            async with self.rt.db.read() as s:
                roles, language = await people.who_is(
                    s, user.id, self.rt.default_language, client_hint=user.language_code
                )
            self._roles = roles
            if self._language is None:
                self._language = language
        return self._roles

    def forget(self) -> None:
        """Drop what was read: a conversation's timeout runs long after the update whose
        context it is given, and the person may have changed their language since."""
        self._language = None
        self._roles = None


AppType = Application[ExtBot[None], AppContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any]
