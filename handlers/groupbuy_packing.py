"""A delivered group-buy split by building: 🙋 in the grid's group takes a building's packing
list (one volunteer wins; the list comes privately), ✅ on a door of that list marks it
delivered (once) and tells the household. A press on an older list shows it as it is."""

from __future__ import annotations

from typing import Any

from telegram import Update

from bot.i18n import gettext_for
from bot.services.groupbuys import packing
from handlers.answers import answer, edit_or_send, is_private, pressed
from handlers.callback_data import ID, Callback
from handlers.context import AppContext
from handlers.keyboards import inline
from handlers.work import attempt

TAKE = Callback("gb", "tk", run_id=ID)
MARK = Callback("gb", "dd", door_id=ID)


async def taken(update: Update, ctx: AppContext) -> None:
    """🙋 in the group (or privately, in a grid with no group): the post says who took it (no
    door, no name of a resident)."""
    q = pressed(update)
    run_id = TAKE.parse(q.data).run_id
    v = await attempt(
        update, ctx, lambda w: packing.take(ctx.rt, w.session, q.from_user.id, run_id)
    )
    if v is None:
        if is_private(update):  # a private copy (a grid with no group): shown as it is now
            async with ctx.rt.db.read() as s:
                now = await packing.run(s, run_id)
            text, rows = packing.group_post(await ctx.gettext(), now)
            await edit_or_send(update, text, inline(rows) if rows else None)
        return
    _ = await ctx.gettext()
    await answer(q, _(packing.YOURS_NOW), show_alert=True)
    # The group's post is in the community's language, whoever pressed.
    text, rows = packing.group_post(gettext_for(ctx.rt.default_language), v)
    await edit_or_send(update, text, inline(rows) if rows else None)


async def marked(update: Update, ctx: AppContext) -> None:
    """✅ on a door, in the taker's private chat: the list as it is now."""
    q = pressed(update)
    door_id = MARK.parse(q.data).door_id
    if not is_private(update):
        return
    v = await attempt(
        update, ctx, lambda w: packing.mark(ctx.rt, w.session, q.from_user.id, door_id)
    )
    if v is None:
        return
    _ = await ctx.gettext()
    await answer(q)
    text, rows = packing.packing_list(_, v)
    await edit_or_send(update, text, inline(rows) if rows else None)


def packing_handlers() -> list[Any]:
    return [TAKE.handler(taken), MARK.handler(marked)]
