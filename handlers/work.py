"""The unit of work of an update (DESIGN rules 1 and 11) and the one way a callback calls a
service: ``attempt`` runs it in one session that commits, tells a refusal (an alert for a
press, a reply for a message) and hands back the result, so whatever the callback then says
is said after the commit, never with the database's writer lock held."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot.errors import Refused
from bot.i18n import Gettext, gettext_for
from handlers.answers import tell_refusal
from handlers.context import AppContext

T = TypeVar("T")


@dataclass(frozen=True)
class Work:
    """A session and the sender's gettext."""

    session: AsyncSession
    _: Gettext


@asynccontextmanager
async def unit_of_work(ctx: AppContext) -> AsyncIterator[Work]:
    """One unit of work per update: commits on success, then wakes the outbox for what the
    service wrote to it. The language is read in this session unless the update already
    knows it."""
    async with ctx.rt.db.session() as session:
        yield Work(session, gettext_for(await ctx.language(session)))
    ctx.rt.wake_outbox()


@asynccontextmanager
async def reading(ctx: AppContext) -> AsyncIterator[Work]:
    """A read-only session (no writer lock) with the sender's gettext."""
    async with ctx.rt.db.read() as session:
        yield Work(session, gettext_for(await ctx.language(session)))


async def attempt(
    update: Update,
    ctx: AppContext,
    call: Callable[[Work], Awaitable[T]],
    *,
    write: bool = True,
) -> T | None:
    """Call a service in the update's unit of work (``write=False``: a read session). On
    ``Refused`` nothing is kept, the person is told why (an alert for a press, a reply for a
    message) and None is returned; else the result, once committed. ``call`` must not
    return None itself."""
    try:
        if write:
            async with unit_of_work(ctx) as w:
                result = await call(w)
        else:
            async with reading(ctx) as w:
                result = await call(w)
    except Refused as e:
        await tell_refusal(update, ctx, e)
        return None
    assert result is not None, "attempt() needs a result to tell success from refusal"
    return result
