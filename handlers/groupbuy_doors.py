"""A group-buy after the door: the household's ✅ 已收到, 💰 已付款 and ⚠️ 少了/不对 (which
item, what; then optionally a few typed words or a photo) on its door message; the carrying
volunteer's 💵 on the packing list; staff's /gbcheck (open problems with ✅ 已处理, who has not
paid, 💵). A press on an older message acts on nothing and shows the message as it is now."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CommandHandler, ConversationHandler, MessageHandler, filters

from bot.errors import Refused, stale
from bot.services.groupbuys import accounts, doors, packing, problems
from handlers.answers import answer, edit_or_send, is_private, pressed
from handlers.callback_data import ID, Callback, one_of
from handlers.context import AppContext
from handlers.conversation_exits import Handler, conversation_exits
from handlers.keyboards import PRIVATE_TEXT, inline
from handlers.work import Work, attempt
from models import GroupBuyDoor

RECEIVED = Callback("gb", "rc", door_id=ID)
PAID = Callback("gb", "py", door_id=ID)
PAID_AHEAD = Callback("gb", "pa", door_id=ID)
PROBLEM = Callback("gb", "pb", door_id=ID)
ITEM = Callback("gb", "pi", door_id=ID, item_id=ID)
KIND = Callback("gb", "pk", door_id=ID, item_id=ID, kind=one_of(doors.KINDS))
CANCEL = Callback("gb", "px", door_id=ID)
DONE = Callback("gb", "pd", problem_id=ID)
CASH = Callback("gb", "pc", door_id=ID)
STAFF_CASH = Callback("gb", "sp", door_id=ID)
HANDLED = Callback("gb", "ph", problem_id=ID)
CHECK = Callback("gb", "ck", groupbuy_id=ID)

WAIT_NOTE = 90
NOTE_KEY = "groupbuy_problem"  # the report a typed note or a photo is added to


async def _door_as_is(update: Update, ctx: AppContext, door_id: int) -> None:
    """The household's door message as it is now (after a press that acted on nothing)."""
    uid = pressed(update).from_user.id
    try:
        async with ctx.rt.db.read() as s:
            v = await doors.households_door(s, uid, door_id)
    except Refused:  # not this person's: the refusal was said already
        return
    text, rows = doors.resident_message(await ctx.gettext(), v, ctx.rt.timezone)
    await edit_or_send(update, text, inline(rows) if rows else None)


async def _door_step(update: Update, ctx: AppContext, door_id: int, step: Any) -> None:
    v = await attempt(update, ctx, step)
    if v is None:
        await _door_as_is(update, ctx, door_id)
        return
    await answer(pressed(update))
    text, rows = doors.resident_message(await ctx.gettext(), v, ctx.rt.timezone)
    await edit_or_send(update, text, inline(rows) if rows else None)


async def received(update: Update, ctx: AppContext) -> None:
    """✅ 已收到: recorded once."""
    q = pressed(update)
    door_id = RECEIVED.parse(q.data).door_id
    await _door_step(
        update,
        ctx,
        door_id,
        lambda w: doors.received(ctx.rt, w.session, q.from_user.id, door_id),
    )


async def paid(update: Update, ctx: AppContext) -> None:
    """💰 已付款 by the household: recorded once."""
    q = pressed(update)
    door_id = PAID.parse(q.data).door_id
    await _door_step(
        update,
        ctx,
        door_id,
        lambda w: doors.resident_paid(ctx.rt, w.session, q.from_user.id, door_id),
    )


async def paid_ahead(update: Update, ctx: AppContext) -> None:
    """💰 已付款 at the close of a group-buy paid online: recorded once; the message as it is."""
    q = pressed(update)
    door_id = PAID_AHEAD.parse(q.data).door_id
    v = await attempt(
        update,
        ctx,
        lambda w: doors.resident_paid(ctx.rt, w.session, q.from_user.id, door_id, ahead=True),
    )
    if v is None:
        try:
            async with ctx.rt.db.read() as s:
                v = await doors.households_door(s, q.from_user.id, door_id, delivered=False)
        except Refused:
            return
    else:
        await answer(q)
    text, rows = doors.pay_ahead_message(await ctx.gettext(), v, ctx.rt.timezone)
    await edit_or_send(update, text, inline(rows) if rows else None)


async def problem_asked(update: Update, ctx: AppContext) -> None:
    """⚠️: which item? (a message of its own: the door message stays)."""
    q = pressed(update)
    door_id = PROBLEM.parse(q.data).door_id
    v = await attempt(
        update,
        ctx,
        lambda w: doors.households_door(w.session, q.from_user.id, door_id),
        write=False,
    )
    if v is None:
        return
    await answer(q)
    text, rows = problems.which_item(await ctx.gettext(), v)
    assert update.effective_chat is not None
    await update.effective_chat.send_message(text, reply_markup=inline(rows))


async def item_chosen(update: Update, ctx: AppContext) -> None:
    q = pressed(update)
    values = ITEM.parse(q.data)
    asked = await attempt(
        update,
        ctx,
        lambda w: _what_kind(w, q.from_user.id, values.door_id, values.item_id),
        write=False,
    )
    if asked is None:
        return
    await answer(q)
    await edit_or_send(update, asked[0], inline(asked[1]))


async def _what_kind(w: Work, telegram_id: int, door_id: int, item_id: int) -> tuple[str, Any]:
    v = await doors.households_door(w.session, telegram_id, door_id)
    return problems.what_kind(w._, v, item_id)


async def kind_chosen(update: Update, ctx: AppContext) -> int:
    """The report recorded (once per item), the merchant and staff told; a note may follow."""
    q = pressed(update)
    values = KIND.parse(q.data)
    r = await attempt(
        update,
        ctx,
        lambda w: problems.report(
            ctx.rt, w.session, q.from_user.id, values.door_id, values.item_id, values.kind
        ),
    )
    if r is None:  # the refusal was said; an own report's message shows it as it is
        try:
            async with ctx.rt.db.read() as s:
                v = await doors.households_door(s, q.from_user.id, values.door_id)
        except Refused:
            return ConversationHandler.END
        if values.item_id in {item for item, _kind in v.problems}:
            await edit_or_send(update, (await ctx.gettext())(problems.ALREADY_REPORTED), None)
        return ConversationHandler.END
    await answer(q)
    text, rows = problems.reported_text(await ctx.gettext(), r)
    await edit_or_send(update, text, inline(rows))
    assert ctx.user_data is not None
    ctx.user_data[NOTE_KEY] = r.problem_id
    return WAIT_NOTE


async def note_received(update: Update, ctx: AppContext) -> int:
    msg = update.effective_message
    assert msg is not None and ctx.user_data is not None
    problem_id = ctx.user_data.pop(NOTE_KEY, None)
    if problem_id is None:
        return ConversationHandler.END
    uid = msg.chat_id
    note = msg.text or msg.caption
    photo = msg.photo[-1].file_id if msg.photo else None
    done = await attempt(
        update,
        ctx,
        lambda w: _true(problems.add_note(ctx.rt, w.session, uid, int(problem_id), note, photo)),
    )
    if done is not None:
        await msg.reply_text((await ctx.gettext())(problems.NOTE_ADDED))
    return ConversationHandler.END


async def _true(step: Any) -> bool:
    await step
    return True


async def done_outside(update: Update, ctx: AppContext) -> None:
    """Done on a report whose note is no longer awaited (a restart, the timeout)."""
    q = pressed(update)
    problem_id = DONE.parse(q.data).problem_id
    own = await attempt(
        update,
        ctx,
        lambda w: problems.own_report(w.session, q.from_user.id, problem_id),
        write=False,
    )
    if own is None:
        return
    await answer(q)
    await edit_or_send(update, (await ctx.gettext())(problems.REPORTED_DONE), None)


async def cancelled(update: Update, ctx: AppContext) -> None:
    """✖️ while choosing: nothing reported (the household's own door only)."""
    q = pressed(update)
    door_id = CANCEL.parse(q.data).door_id
    own = await attempt(
        update,
        ctx,
        lambda w: doors.households_door(w.session, q.from_user.id, door_id),
        write=False,
    )
    if own is None:
        return
    await answer(q)
    await edit_or_send(update, (await ctx.gettext())(problems.NOT_REPORTED), None)


def build_problem_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    """After a report: a typed note or a photo is added to it, or Done."""
    entry: list[Handler] = [KIND.handler(kind_chosen)]
    exits = conversation_exits(forget=(NOTE_KEY,), stop_button=DONE, stopped=problems.REPORTED_DONE)
    note = (PRIVATE_TEXT | (filters.ChatType.PRIVATE & filters.PHOTO)) & ~filters.COMMAND
    return ConversationHandler(
        entry_points=entry,
        states={WAIT_NOTE: [MessageHandler(note, note_received)], **exits.timeout},
        fallbacks=[*exits.stop, *entry],
        name="groupbuy_problem",
        allow_reentry=True,
        persistent=True,
        conversation_timeout=timeout_s,
    )


async def cash(update: Update, ctx: AppContext) -> None:
    """💵 on the packing list: the door paid in cash (once); the list as it is now."""
    q = pressed(update)
    door_id = CASH.parse(q.data).door_id
    if not is_private(update):
        return

    async def work(w: Work) -> packing.Run:
        await doors.cash_paid(ctx.rt, w.session, q.from_user.id, door_id)
        return await _run_of(w.session, door_id)

    v = await attempt(update, ctx, work)
    if v is None:  # paid already: the volunteer's list as it is now
        try:
            async with ctx.rt.db.read() as s:
                v = await _run_of(s, door_id)
        except Refused:
            return
        if v.volunteer_telegram_id != q.from_user.id:
            return
    else:
        await answer(q)
    text, rows = packing.packing_list(await ctx.gettext(), v)
    await edit_or_send(update, text, inline(rows) if rows else None)


async def _run_of(session: AsyncSession, door_id: int) -> packing.Run:
    d = await session.get(GroupBuyDoor, door_id)
    if d is None:
        raise stale()
    return await packing.run(session, d.run_id)


async def _show_check(update: Update, ctx: AppContext, c: accounts.Check) -> None:
    text, rows = accounts.render(await ctx.gettext(), c)
    await edit_or_send(update, text, inline(rows) if rows else None)


async def check_command(update: Update, ctx: AppContext) -> None:
    """/gbcheck [N]: staff's check of a delivered group-buy (the latest without N)."""
    msg = update.effective_message
    assert msg is not None and update.effective_user is not None
    uid = update.effective_user.id
    words = list(ctx.args or [])
    gid = int(words[0].lstrip("#")) if words and words[0].lstrip("#").isdigit() else None
    if words and gid is None:
        await msg.reply_text((await ctx.gettext())(accounts.USAGE))
        return
    c = await attempt(update, ctx, lambda w: accounts.check(w.session, uid, gid), write=False)
    if c is None:
        return
    text, rows = accounts.render(await ctx.gettext(), c)
    await msg.reply_text(text, reply_markup=inline(rows) if rows else None)


async def check_pressed(update: Update, ctx: AppContext) -> None:
    """🧾 on the staff's summary: the check, as /gbcheck N, in a message of its own."""
    q = pressed(update)
    gid = CHECK.parse(q.data).groupbuy_id
    c = await attempt(
        update, ctx, lambda w: accounts.check(w.session, q.from_user.id, gid), write=False
    )
    if c is None:
        return
    await answer(q)
    text, rows = accounts.render(await ctx.gettext(), c)
    assert update.effective_chat is not None
    await update.effective_chat.send_message(text, reply_markup=inline(rows) if rows else None)


async def staff_cash(update: Update, ctx: AppContext) -> None:
    q = pressed(update)
    door_id = STAFF_CASH.parse(q.data).door_id
    c = await attempt(
        update, ctx, lambda w: accounts.staff_paid(ctx.rt, w.session, q.from_user.id, door_id)
    )
    if c is not None:
        await answer(q)
        await _show_check(update, ctx, c)


async def handled(update: Update, ctx: AppContext) -> None:
    """✅ 已处理 on the check: the problem's alert handled once (the other copies say by whom)."""
    q = pressed(update)
    problem_id = HANDLED.parse(q.data).problem_id
    got = await attempt(
        update,
        ctx,
        lambda w: accounts.handle_problem(ctx.rt, w.session, q.from_user.id, problem_id),
    )
    if got is None:
        return
    done, c = got
    await answer(q, done.note, show_alert=not done.first)
    await _show_check(update, ctx, c)


def door_handlers() -> list[Any]:
    return [
        RECEIVED.handler(received),
        PAID.handler(paid),
        PAID_AHEAD.handler(paid_ahead),
        PROBLEM.handler(problem_asked),
        ITEM.handler(item_chosen),
        CANCEL.handler(cancelled),
        DONE.handler(done_outside),
        CASH.handler(cash),
        STAFF_CASH.handler(staff_cash),
        HANDLED.handler(handled),
        CHECK.handler(check_pressed),
        CommandHandler("gbcheck", check_command, filters=filters.ChatType.PRIVATE),
    ]
