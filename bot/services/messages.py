"""Owing people a message in their own language: the one way services write a personal
message to the outbox (in the caller's transaction, so it is sent only if the change commits)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.buttons import Rows
from bot.i18n import Gettext, gettext_for
from bot.runtime import Runtime
from bot.services.people import language_of, languages_of, who_is

Render = Callable[[Gettext], str | tuple[str, Rows | None]]


async def gettext_of(rt: Runtime, session: AsyncSession, telegram_id: int) -> Gettext:
    """The translations of the language this person chose (else the default)."""
    return gettext_for(await language_of(session, telegram_id, rt.default_language))


async def tell(
    rt: Runtime, session: AsyncSession, targets: int | Iterable[int], render: Render
) -> None:
    """Owe each target one message (once each, in order), rendered in their language; ``render``
    returns the text, or the text and its buttons."""
    ids = list(dict.fromkeys([targets] if isinstance(targets, int) else targets))
    ids = [tid for tid in ids if tid]  # 0: a household without Telegram, nobody to tell
    langs = await languages_of(session, ids, rt.default_language)
    for tid in ids:
        out = render(gettext_for(langs[tid]))
        text, rows = (out, None) if isinstance(out, str) else out
        outbox.enqueue(session, rt.clock, chat_id=tid, text=text, buttons=rows)


async def tell_with_menu(
    rt: Runtime, session: AsyncSession, telegram_id: int, render: Callable[[Gettext], str]
) -> None:
    """Owe a person whose role this transaction changed (approved, rejected, suspended, made
    staff, ...) a message that brings the menu of who they are now, read in this transaction
    (the channel's ``rt.menu_of``: a volunteer's, staff's, a resident's, or none)."""
    roles, lang = await who_is(session, telegram_id, rt.default_language)
    _ = gettext_for(lang)
    outbox.enqueue(
        session, rt.clock, chat_id=telegram_id, text=render(_), keyboard=rt.menu_of(roles, _)
    )
