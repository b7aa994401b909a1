"""A delivered group-buy split by building: 🙋 in the grid's group takes a building's packing
list (one volunteer wins; the list comes privately), ✅ on a door of that list marks it
delivered (once) and tells the household; 📷 then one photo marks the doors left at once. A
press on an older list shows it as it is."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import ConversationHandler, MessageHandler, filters

from bot.buttons import Button
from bot.i18n import N_, gettext_for, ngettext
from bot.services.groupbuys import packing
from handlers.answers import answer, edit_or_send, is_private, pressed
from handlers.callback_data import ID, Callback
from handlers.context import AppContext
from handlers.conversation_exits import Handler, conversation_exits
from handlers.keyboards import inline
from handlers.work import attempt

TAKE = Callback("gb", "tk", run_id=ID)
MARK = Callback("gb", "dd", door_id=ID)
BATCH = Callback("gb", "bp", run_id=ID)
BATCH_STOP = Callback("gb", "bpx")
WAIT_BATCH_PHOTO = 80
BATCH_KEY = "groupbuy_batch"  # the run whose photo is awaited
BATCH_STOPPED = N_("Nothing was marked.")


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


async def batch_asked(update: Update, ctx: AppContext) -> int:
    """📷 on the taker's list: one photo is asked for."""
    q = pressed(update)
    run_id = BATCH.parse(q.data).run_id
    v = await attempt(
        update, ctx, lambda w: packing.own_run(w.session, q.from_user.id, run_id), write=False
    )
    if v is None or not is_private(update):
        return ConversationHandler.END
    if all(d.delivered for d in v.doors):
        # 📷 on an older copy of the list, every door marked since: no photo is asked for (it
        # would replace the building's photo and mark nothing); the list as it is now.
        _ = await ctx.gettext()
        await answer(q, _(packing.ALL_HANDED if v.pickup else packing.ALL_DONE), show_alert=True)
        text, rows = packing.packing_list(_, v)
        await edit_or_send(update, text, inline(rows) if rows else None)
        return ConversationHandler.END
    assert ctx.user_data is not None and update.effective_chat is not None
    ctx.user_data[BATCH_KEY] = run_id
    _ = await ctx.gettext()
    await answer(q)
    stop = [[Button(_("✖️ Cancel"), BATCH_STOP.data())]]
    await update.effective_chat.send_message(
        _(packing.SEND_BATCH_PHOTO).format(building=v.building), reply_markup=inline(stop)
    )
    return WAIT_BATCH_PHOTO


async def batch_photo(update: Update, ctx: AppContext) -> int:
    msg = update.effective_message
    assert msg is not None and msg.photo and ctx.user_data is not None
    run_id = ctx.user_data.pop(BATCH_KEY, None)
    if run_id is None:
        return ConversationHandler.END
    uid, photo = msg.chat_id, msg.photo[-1].file_id
    done = await attempt(
        update, ctx, lambda w: packing.mark_all(ctx.rt, w.session, uid, int(run_id), photo)
    )
    if done is not None:
        v, n = done
        _ = await ctx.gettext()
        text, rows = packing.packing_list(_, v)
        said = ngettext(_, packing.BATCH_DONE, n).format(n=n)
        await msg.reply_text(said + "\n\n" + text, reply_markup=inline(rows) if rows else None)
    return ConversationHandler.END


def build_batch_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    """Only the building's photo is a conversation (its state survives a restart)."""
    entry: list[Handler] = [BATCH.handler(batch_asked)]
    exits = conversation_exits(
        forget=(BATCH_KEY,), stop_button=BATCH_STOP, stopped=BATCH_STOPPED, prefix="gb"
    )
    return ConversationHandler(
        entry_points=entry,
        states={
            WAIT_BATCH_PHOTO: [
                MessageHandler(filters.ChatType.PRIVATE & filters.PHOTO, batch_photo)
            ],
            **exits.timeout,
        },
        fallbacks=[*exits.stop, *entry, *exits.stray],
        name="groupbuy_batch",
        allow_reentry=True,
        persistent=True,
        conversation_timeout=timeout_s,
    )


def packing_handlers() -> list[Any]:
    return [TAKE.handler(taken), MARK.handler(marked)]
