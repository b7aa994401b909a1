"""📞 代下单, orders taken by phone (bot/services/phone_orders.py): find the household that
called (its phone typed, or compound → building → household) or register it on the spot,
then the ordinary order form (handlers/ordering.py) for it. These are states of the order
conversation, so the form follows in the same conversation. Buttons are ``ph:<verb>:<id>``.

✅ 已通知居民 (``ph:told``), pressed on a call-back prompt, is recorded and the prompt edited
to say who called back and when."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import ConversationHandler, MessageHandler, filters

from bot.buttons import Button, Rows
from bot.errors import Refused
from bot.i18n import N_, Gettext
from bot.services import building_status, phone_orders
from bot.services.orders import drafts
from handlers import ordering
from handlers.answers import answer, edit_or_send, pressed, respond
from handlers.callback_data import ID, Callback, one_of
from handlers.context import AppContext
from handlers.keyboards import MENU_ANY, STAFF_PHONE_ORDER, inline, label_pattern
from handlers.resident_forms import DRAFT_KEY, EDITING_KEY
from handlers.work import Work, attempt, unit_of_work

ORD_PH_FIND, ORD_PH_NEW = 14, 15

COMPOUND = Callback("ph", "c", compound_id=ID)
BUILDING = Callback("ph", "b", building_id=ID)
PICK = Callback("ph", "h", resident_id=ID)
NEW_IN = Callback("ph", "nb", building_id=ID)
TOLD = Callback("ph", "told", order_id=ID, step=one_of(phone_orders.CALL_BACK_STEPS))

NEW_KEY = "phone_household"
# The new household's questions, in order: its answers are kept in user_data until the last.
QUESTIONS = (
    ("name", N_("The resident's name?")),
    ("unit", N_("Unit number? (for example 2)")),
    ("room", N_("Room number? (for example 302)")),
    ("phone", N_("Phone number to call them back?")),
)
FIND = N_(
    "📞 An order taken by phone. Type the household's phone number, or choose its compound "
    "(a new household: choose its building, then ➕)."
)


def _cancel(_: Gettext) -> list[Button]:
    return [Button(_("✖️ Cancel"), ordering.STOP.data())]


def _rows(items: list[phone_orders.Item], cb: Callback, key: str, _: Gettext) -> Rows:
    rows = [[Button(i.label, cb.data(**{key: i.id}))] for i in items]
    rows.append(_cancel(_))
    return rows


async def phone_start(update: Update, ctx: AppContext) -> int:
    """📞 代下单: the compounds in reach, and a phone number may be typed."""
    assert update.effective_user is not None and update.effective_chat is not None
    uid = update.effective_user.id
    try:
        async with unit_of_work(ctx) as w:
            _ = w._
            items = await phone_orders.compounds(w.session, uid)
    except Refused as e:
        await respond(update, e.render(_))
        return ConversationHandler.END
    assert ctx.user_data is not None
    ctx.user_data.pop(NEW_KEY, None)
    ctx.user_data.pop(DRAFT_KEY, None)
    await update.effective_chat.send_message(
        _(FIND), reply_markup=inline(_rows(items, COMPOUND, "compound_id", _))
    )
    return ORD_PH_FIND


async def phone_typed(update: Update, ctx: AppContext) -> int:
    """A phone number typed: the households that have it."""
    assert update.effective_user is not None and update.effective_message is not None
    query = update.effective_message.text or ""
    uid = update.effective_user.id
    found = await attempt(update, ctx, lambda w: phone_orders.by_phone(w.session, uid, query))
    if found is None:
        return ORD_PH_FIND
    _ = await ctx.gettext()
    await update.effective_message.reply_text(
        _("Which household?"), reply_markup=inline(_rows(found, PICK, "resident_id", _))
    )
    return ORD_PH_FIND


async def compound_chosen(update: Update, ctx: AppContext) -> int:
    q = pressed(update)
    compound_id = COMPOUND.parse(q.data).compound_id
    items = await attempt(
        update, ctx, lambda w: phone_orders.buildings(w.session, q.from_user.id, compound_id)
    )
    if items is None:
        return ORD_PH_FIND
    _ = await ctx.gettext()
    await answer(q)
    await edit_or_send(
        update, _("Which building?"), inline(_rows(items, BUILDING, "building_id", _))
    )
    return ORD_PH_FIND


async def building_chosen(update: Update, ctx: AppContext) -> int:
    q = pressed(update)
    building_id = BUILDING.parse(q.data).building_id

    async def households(w: Work) -> tuple[str, list[phone_orders.Item]]:
        label = await phone_orders.building_label(w.session, q.from_user.id, building_id)
        # Its status may forbid single errands (issue 17): said before any household is taken.
        await building_status.check_errands(ctx.rt, w.session, building_id, by_phone=True)
        return label, await phone_orders.in_building(w.session, q.from_user.id, building_id)

    got = await attempt(update, ctx, households)
    if got is None:
        return ORD_PH_FIND
    label, items = got
    _ = await ctx.gettext()
    await answer(q)
    rows = _rows(items, PICK, "resident_id", _)
    rows.insert(-1, [Button(_("➕ New household here"), NEW_IN.data(building_id=building_id))])
    await edit_or_send(
        update, _("{building}: which household?").format(building=label), inline(rows)
    )
    return ORD_PH_FIND


async def household_chosen(update: Update, ctx: AppContext) -> int:
    """A household picked: the order form starts for it (its open-order cap checked)."""
    q = pressed(update)
    resident_id = PICK.parse(q.data).resident_id
    d = await attempt(
        update,
        ctx,
        lambda w: drafts.start_phone_draft(ctx.rt, w.session, q.from_user.id, resident_id),
    )
    if d is None:
        return ORD_PH_FIND
    await answer(q)
    return await _form(update, ctx, d.id)


async def _form(update: Update, ctx: AppContext, draft_id: int) -> int:
    assert ctx.user_data is not None
    ctx.user_data.pop(NEW_KEY, None)
    ctx.user_data[DRAFT_KEY] = draft_id
    ctx.user_data.pop(EDITING_KEY, None)
    return await ordering.ask_category(update, await ctx.gettext(), edit=False)


async def new_household(update: Update, ctx: AppContext) -> int:
    """➕ in a building: its questions, one at a time."""
    q = pressed(update)
    building_id = NEW_IN.parse(q.data).building_id
    label = await attempt(
        update, ctx, lambda w: phone_orders.building_label(w.session, q.from_user.id, building_id)
    )
    if label is None:
        return ORD_PH_FIND
    assert ctx.user_data is not None
    ctx.user_data[NEW_KEY] = {"building_id": building_id}
    _ = await ctx.gettext()
    await answer(q)
    await edit_or_send(
        update,
        _("A new household in {building} (no Telegram needed).").format(building=label)
        + "\n"
        + _(QUESTIONS[0][1]),
        inline([_cancel(_)]),
    )
    return ORD_PH_NEW


async def new_answer(update: Update, ctx: AppContext) -> int:
    """One answer about the new household; after the last it is registered and its order
    form starts."""
    assert update.effective_user is not None and update.effective_message is not None
    assert ctx.user_data is not None
    _ = await ctx.gettext()
    answers: dict[str, Any] | None = ctx.user_data.get(NEW_KEY)
    if not answers:
        await update.effective_message.reply_text(_(ordering.EXPIRED))
        return ConversationHandler.END
    key = next(k for k, _q in QUESTIONS if k not in answers)
    answers[key] = update.effective_message.text or ""
    left = [(k, q) for k, q in QUESTIONS if k not in answers]
    if left:
        await update.effective_message.reply_text(_(left[0][1]), reply_markup=inline([_cancel(_)]))
        return ORD_PH_NEW
    uid = update.effective_user.id

    async def register(w: Work) -> tuple[phone_orders.Item, drafts.DraftView]:
        item = await phone_orders.register_household(
            ctx.rt,
            w.session,
            uid,
            building_id=answers["building_id"],
            name=answers["name"],
            unit=answers["unit"],
            room=answers["room"],
            phone=answers["phone"],
        )
        return item, await drafts.start_phone_draft(ctx.rt, w.session, uid, item.id)

    try:
        async with unit_of_work(ctx) as w:
            item, d = await register(w)
    except Refused as e:
        # Asked again from the first question: which answer was wrong is in the reason.
        ctx.user_data[NEW_KEY] = {"building_id": answers["building_id"]}
        await update.effective_message.reply_text(
            e.render(_) + "\n\n" + _(QUESTIONS[0][1]), reply_markup=inline([_cancel(_)])
        )
        return ORD_PH_NEW
    # What was written down, to read back to the caller before the order.
    await update.effective_message.reply_text(
        _("Household registered: {household}, {phone}.").format(
            household=item.label, phone=answers["phone"]
        )
    )
    return await _form(update, ctx, d.id)


async def called_back(update: Update, ctx: AppContext) -> None:
    """✅ 已通知居民 on a call-back prompt: recorded, and the prompt says who and when."""
    q = pressed(update)
    data = TOLD.parse(q.data)
    name = q.from_user.full_name
    line = await attempt(
        update,
        ctx,
        lambda w: phone_orders.called_back(
            ctx.rt, w.session, data.order_id, q.from_user.id, data.step, name
        ),
    )
    if line is None:
        return
    await answer(q)
    text = getattr(q.message, "text", None) or ""
    await edit_or_send(update, (text + "\n\n" + line).strip(), None)


def entry_points() -> list[Any]:
    return [
        MessageHandler(
            filters.ChatType.PRIVATE & filters.Regex(label_pattern(STAFF_PHONE_ORDER)),
            phone_start,
        ),
        PICK.handler(household_chosen),
    ]


def states() -> dict[object, list[Any]]:
    return {
        ORD_PH_FIND: [
            COMPOUND.handler(compound_chosen),
            BUILDING.handler(building_chosen),
            PICK.handler(household_chosen),
            NEW_IN.handler(new_household),
            MessageHandler(filters.TEXT & ~filters.COMMAND & ~MENU_ANY, phone_typed),
        ],
        ORD_PH_NEW: [MessageHandler(filters.TEXT & ~filters.COMMAND & ~MENU_ANY, new_answer)],
    }


def outside_handlers() -> list[Any]:
    return [TOLD.handler(called_back)]
