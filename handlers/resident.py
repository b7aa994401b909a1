"""The resident: register an address once, order an errand, follow it, cancel, confirm."""

from __future__ import annotations

from typing import Any

from telegram import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.buttons import Button, parse_order_action
from bot.errors import Refused
from bot.i18n import N_, Gettext
from bot.services import directory, notify, orders, residents
from handlers.common import (
    MENU_MY_ORDERS,
    MENU_ORDER,
    STALE,
    alert,
    answer,
    edit_or_send,
    inline,
    label_pattern,
    main_menu,
    translator,
    unit_of_work,
)
from handlers.context import AppContext

# Registration states: what the conversation is waiting for.
(
    AWAIT_COMMUNITY,
    AWAIT_COMPOUND,
    AWAIT_BUILDING,
    AWAIT_UNIT,
    AWAIT_ROOM,
    AWAIT_NAME,
    AWAIT_PHONE,
) = range(7)
# Ordering states
ORD_CATEGORY, ORD_DESCRIBE, ORD_URGENCY, ORD_CONFIRM = range(10, 14)

REG_KEY = "registration"
DRAFT_KEY = "draft_id"

WELCOME = N_(
    "Welcome to the community errand service (跑腿). Volunteers of your grid will run "
    "errands for you. First, where do you live? It takes a minute; /cancel stops."
)
PHONE_WHY = N_(
    "Last step: your phone number, so the volunteer can call you if something is sold out or "
    "they cannot find your door. Only the volunteer who takes your order sees it.\n\n"
    "Press the button below to share it, or type it."
)


def _reg(ctx: AppContext) -> dict[str, Any]:
    assert ctx.user_data is not None
    return ctx.user_data.setdefault(REG_KEY, {})


async def _reply(update: Update, text: str, **kw: Any) -> None:
    if update.callback_query:
        await answer(update.callback_query)
        markup = kw.get("reply_markup")
        if markup is None or hasattr(markup, "inline_keyboard"):
            await edit_or_send(update, text, markup)
            return
    assert update.effective_chat is not None
    await update.effective_chat.send_message(text, **kw)


# --- /start and registration ------------------------------------------------------------------


async def start(update: Update, ctx: AppContext) -> int:
    assert update.effective_user is not None and update.effective_message is not None
    payload = ctx.args[0] if ctx.args else ""
    async with unit_of_work(update, ctx) as w:
        _ = w._
        me = await residents.get(w.session, update.effective_user.id)
        prefill = None
        if payload.startswith("b_"):
            prefill = await directory.building_by_code(w.session, payload[2:])
        communities = await directory.communities(w.session)
    if me is not None and prefill is None:
        await update.effective_message.reply_text(
            _(
                "Welcome back, {name}. Your address: {address}\n"
                "Press 📝 Order to ask for an errand."
            ).format(name=me.name, address=me.address),
            reply_markup=main_menu(_),
        )
        return ConversationHandler.END
    if ctx.user_data is not None:
        ctx.user_data[REG_KEY] = {}
    reg = _reg(ctx)
    await update.effective_message.reply_text(_(WELCOME))
    if prefill is not None:
        reg.update(
            community_id=prefill.community_id,
            building_id=prefill.id,
            units=prefill.units,
            label=f"{prefill.community} {prefill.label}",
        )
        return await _ask_unit(update, ctx, _)
    if not communities:
        await update.effective_message.reply_text(
            _("No community is set up yet. Please ask your community staff.")
        )
        return ConversationHandler.END
    if len(communities) == 1:
        reg["community_id"] = communities[0].id
        return await _ask_compound(update, ctx, _)
    rows = [[Button(c.name, f"r:c:{c.id}")] for c in communities]
    await update.effective_message.reply_text(
        _("Which community do you live in?"), reply_markup=inline(rows)
    )
    return AWAIT_COMMUNITY


async def _ask_compound(update: Update, ctx: AppContext, _: Gettext) -> int:
    async with ctx.rt.db.read() as s:
        places = await directory.compounds(s, _reg(ctx)["community_id"])
    rows = [[Button(p.name, f"r:p:{p.id}")] for p in places]
    await _reply(update, _("Which compound (小区)?"), reply_markup=inline(rows))
    return AWAIT_COMPOUND


async def community_chosen(update: Update, ctx: AppContext) -> int:
    assert update.callback_query and update.callback_query.data
    _reg(ctx)["community_id"] = int(update.callback_query.data.split(":")[2])
    return await _ask_compound(update, ctx, await translator(update, ctx))


async def compound_chosen(update: Update, ctx: AppContext) -> int:
    assert update.callback_query and update.callback_query.data
    compound_id = int(update.callback_query.data.split(":")[2])
    _ = await translator(update, ctx)
    async with ctx.rt.db.read() as s:
        places = await directory.buildings(s, compound_id)
    if not places:
        await alert(update, _(STALE))
        return AWAIT_COMPOUND
    rows = [
        [Button(p.name, f"r:b:{p.id}") for p in places[i : i + 3]] for i in range(0, len(places), 3)
    ]
    await _reply(update, _("Which building (楼栋)?"), reply_markup=inline(rows))
    return AWAIT_BUILDING


async def building_chosen(update: Update, ctx: AppContext) -> int:
    assert update.callback_query and update.callback_query.data
    _ = await translator(update, ctx)
    async with ctx.rt.db.read() as s:
        info = await directory.building(s, int(update.callback_query.data.split(":")[2]))
    if info is None or info.community_id != _reg(ctx).get("community_id"):
        await alert(update, _(STALE))
        return AWAIT_BUILDING
    _reg(ctx).update(building_id=info.id, units=info.units, label=f"{info.community} {info.label}")
    return await _ask_unit(update, ctx, _)


async def _ask_unit(update: Update, ctx: AppContext, _: Gettext) -> int:
    reg = _reg(ctx)
    units = int(reg["units"])
    text = _("{place}. Which unit (单元)?").format(place=reg["label"])
    if units <= 1:
        reg["unit"] = "1"
        await _reply(update, text)
        return await _ask_room(update, _)
    rows = [
        [Button(str(n), f"r:u:{n}") for n in range(i, min(i + 4, units + 1))]
        for i in range(1, units + 1, 4)
    ]
    await _reply(update, text, reply_markup=inline(rows))
    return AWAIT_UNIT


async def _ask_room(update: Update, _: Gettext) -> int:
    assert update.effective_chat is not None
    await update.effective_chat.send_message(_("Your room number? For example 302."))
    return AWAIT_ROOM


async def unit_chosen(update: Update, ctx: AppContext) -> int:
    _ = await translator(update, ctx)
    reg = _reg(ctx)
    if update.callback_query and update.callback_query.data:
        raw = update.callback_query.data.split(":")[2]
        await answer(update.callback_query)
    else:
        raw = update.effective_message.text if update.effective_message else ""
    try:
        reg["unit"] = residents.clean_unit(raw or "", int(reg.get("units", 1)))
    except Refused as e:
        await _reply(update, e.render(_))
        return AWAIT_UNIT
    return await _ask_room(update, _)


async def room_given(update: Update, ctx: AppContext) -> int:
    assert update.effective_message is not None and update.effective_user is not None
    _ = await translator(update, ctx)
    try:
        _reg(ctx)["room"] = residents.clean_room(update.effective_message.text or "")
    except Refused as e:
        await update.effective_message.reply_text(e.render(_))
        return AWAIT_ROOM
    suggestion = update.effective_user.first_name or ""
    markup = (
        ReplyKeyboardMarkup(
            [[KeyboardButton(suggestion)]], resize_keyboard=True, one_time_keyboard=True
        )
        if suggestion
        else None
    )
    await update.effective_message.reply_text(
        _("How should the volunteer call you? (your name, e.g. 周阿姨)"), reply_markup=markup
    )
    return AWAIT_NAME


async def name_given(update: Update, ctx: AppContext) -> int:
    assert update.effective_message is not None
    _ = await translator(update, ctx)
    try:
        _reg(ctx)["name"] = residents.clean_name(update.effective_message.text or "")
    except Refused as e:
        await update.effective_message.reply_text(e.render(_))
        return AWAIT_NAME
    await update.effective_message.reply_text(
        _(PHONE_WHY),
        reply_markup=ReplyKeyboardMarkup(
            [[KeyboardButton(_("📱 Share my phone number"), request_contact=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        ),
    )
    return AWAIT_PHONE


async def phone_given(update: Update, ctx: AppContext) -> int:
    msg = update.effective_message
    assert msg is not None and update.effective_user is not None
    reg = _reg(ctx)
    if msg.contact is not None:
        if msg.contact.user_id not in (None, update.effective_user.id):
            _ = await translator(update, ctx)
            await msg.reply_text(_("Please share your own number with the button, or type it."))
            return AWAIT_PHONE
        phone = msg.contact.phone_number
    else:
        phone = msg.text or ""
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            me = await residents.register(
                w.session,
                ctx.rt.clock,
                telegram_id=update.effective_user.id,
                name=reg.get("name", ""),
                phone=phone,
                building_id=int(reg["building_id"]),
                unit=str(reg["unit"]),
                room=str(reg["room"]),
            )
    except Refused as e:
        await msg.reply_text(e.render(_))
        return AWAIT_PHONE
    if ctx.user_data is not None:
        ctx.user_data.pop(REG_KEY, None)
    await msg.reply_text(
        _(
            "Registered. {name}, {address}, {phone}.\nPress 📝 Order whenever you need an errand "
            "run; /start again changes your address."
        ).format(name=me.name, address=me.address, phone=me.phone),
        reply_markup=main_menu(_),
    )
    return ConversationHandler.END


async def registration_stray(update: Update, ctx: AppContext) -> None:
    """Anything unexpected during registration: repeat what we need, keep the progress."""
    _ = await translator(update, ctx)
    if update.callback_query:
        await alert(update, _(STALE))
        return
    if update.effective_message:
        await update.effective_message.reply_text(
            _(
                "Please answer the question above (use the buttons if there are any), "
                "or send /cancel to stop."
            )
        )


async def cancel_conversation(update: Update, ctx: AppContext) -> int:
    _ = await translator(update, ctx)
    if ctx.user_data is not None:
        ctx.user_data.pop(REG_KEY, None)
        ctx.user_data.pop(DRAFT_KEY, None)
    async with ctx.rt.db.read() as s:
        me = await residents.get(s, update.effective_user.id) if update.effective_user else None
    if update.callback_query:
        await answer(update.callback_query)
        await edit_or_send(update, _("Stopped. Nothing was sent."), None)
    elif update.effective_message:
        await update.effective_message.reply_text(
            _("Stopped. Nothing was sent."),
            reply_markup=main_menu(_) if me else ReplyKeyboardRemove(),
        )
    return ConversationHandler.END


async def conversation_timeout(update: Update, ctx: AppContext) -> None:
    _ = await translator(update, ctx)
    if ctx.user_data is not None:
        ctx.user_data.pop(REG_KEY, None)
        ctx.user_data.pop(DRAFT_KEY, None)
    if update.effective_chat:
        await update.effective_chat.send_message(
            _(
                "We stopped here because there was no answer for a long time. Nothing was sent. "
                "Send /start or press 📝 Order to begin again."
            )
        )


# --- ordering -------------------------------------------------------------------------------


CATEGORY_BUTTONS = ("groceries", "medicine", "gas", "other")
DESCRIBE_PROMPT = {
    "groceries": N_("What should we buy? For example: 2 cabbages, 1 box of eggs, 5 kg rice."),
    "medicine": N_("Which medicine, and how much? For example: 布洛芬 1 box."),
    "gas": N_("Gas card or account number, the amount, and the provider."),
    "other": N_("What do you need? (printing, a parcel, taking out garbage, a hot meal...)"),
}


async def order_start(update: Update, ctx: AppContext) -> int:
    assert update.effective_user is not None
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            draft = await orders.start_draft(ctx.rt, w.session, update.effective_user.id)
    except Refused as e:
        if update.effective_message:
            await update.effective_message.reply_text(e.render(_))
        return ConversationHandler.END
    assert ctx.user_data is not None
    ctx.user_data[DRAFT_KEY] = draft.id
    rows = [
        [Button(notify.CATEGORY_ICON[c] + " " + _(notify.CATEGORY[c]), f"d:cat:{c}")]
        for c in CATEGORY_BUTTONS
    ]
    rows.append([Button(_("✖️ Cancel"), "d:stop")])
    assert update.effective_chat is not None
    await update.effective_chat.send_message(_("What kind of errand?"), reply_markup=inline(rows))
    return ORD_CATEGORY


async def _draft_update(update: Update, ctx: AppContext, **fields: Any) -> tuple[Gettext, bool]:
    assert update.effective_user is not None and ctx.user_data is not None
    draft_id = ctx.user_data.get(DRAFT_KEY)
    _: Gettext = await translator(update, ctx)
    if draft_id is None:
        await _reply(update, _("This order form has expired. Press Order to start a new one."))
        return _, False
    try:
        async with unit_of_work(update, ctx) as w:
            await orders.update_draft(
                ctx.rt, w.session, draft_id, update.effective_user.id, **fields
            )
    except Refused as e:
        await _reply(update, e.render(_))
        return _, False
    return _, True


async def category_chosen(update: Update, ctx: AppContext) -> int:
    assert update.callback_query and update.callback_query.data
    category = update.callback_query.data.split(":")[2]
    if category not in CATEGORY_BUTTONS:
        await alert(update, (await translator(update, ctx))(STALE))
        return ORD_CATEGORY
    _, ok = await _draft_update(update, ctx, category=category)
    if not ok:
        return ConversationHandler.END
    assert ctx.user_data is not None
    ctx.user_data["category"] = category
    await _reply(update, _(notify.CATEGORY[category]) + "\n" + _(DESCRIBE_PROMPT[category]))
    return ORD_DESCRIBE


async def description_given(update: Update, ctx: AppContext) -> int:
    assert update.effective_message is not None
    _, ok = await _draft_update(update, ctx, description=update.effective_message.text or "")
    if not ok:
        return ORD_DESCRIBE
    rows = [[Button(_(notify.URGENCY[u]), f"d:urg:{u}")] for u in ("normal", "today", "urgent")]
    rows.append([Button(_("✖️ Cancel"), "d:stop")])
    await update.effective_message.reply_text(_("How urgent is it?"), reply_markup=inline(rows))
    return ORD_URGENCY


async def describe_wrong_media(update: Update, ctx: AppContext) -> int:
    _ = await translator(update, ctx)
    if update.effective_message:
        await update.effective_message.reply_text(
            _("Please write what you need as text, or /cancel.")
        )
    return ORD_DESCRIBE


async def urgency_chosen(update: Update, ctx: AppContext) -> int:
    assert update.callback_query and update.callback_query.data and ctx.user_data is not None
    urgency = update.callback_query.data.split(":")[2]
    if urgency not in notify.URGENCY:
        await alert(update, (await translator(update, ctx))(STALE))
        return ORD_URGENCY
    _, ok = await _draft_update(update, ctx, urgency=urgency)
    if not ok:
        return ConversationHandler.END
    draft_id = ctx.user_data[DRAFT_KEY]
    async with ctx.rt.db.read() as s:
        me = await residents.get(s, update.callback_query.from_user.id)
        d = await orders.get_draft(s, draft_id, update.callback_query.from_user.id)
    assert me is not None
    summary = "\n".join(
        [
            _("Please check your order:"),
            "",
            _("Kind: {kind}").format(kind=_(notify.CATEGORY[d.category or "other"])),
            _("What: {what}").format(what=d.description),
            _("Urgency: {u}").format(u=_(notify.URGENCY[urgency])),
            _("Deliver to: {address}").format(address=me.address),
            _("Contactless: the volunteer knocks and leaves it at your door."),
        ]
    )
    rows = [[Button(_("✅ Send the order"), f"d:ok:{draft_id}")], [Button(_("✖️ Cancel"), "d:stop")]]
    await _reply(update, summary, reply_markup=inline(rows))
    return ORD_CONFIRM


async def order_confirmed(update: Update, ctx: AppContext) -> int:
    """Also registered outside the conversation: a confirm pressed after a restart still works,
    and a repeated press returns the same order (the draft is claimed once)."""
    q = update.callback_query
    assert q is not None and q.data is not None
    draft_id = int(q.data.split(":")[2])
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            result = await orders.submit_draft(ctx.rt, w.session, draft_id, q.from_user.id)
    except Refused as e:
        await alert(update, e.render(_))
        return ConversationHandler.END
    if ctx.user_data is not None:
        ctx.user_data.pop(DRAFT_KEY, None)
    await answer(q)
    text, rows = notify.resident_status(result.order, _, ctx.rt.timezone)
    await edit_or_send(update, text, inline(rows))
    return ConversationHandler.END


async def order_stopped(update: Update, ctx: AppContext) -> int:
    return await cancel_conversation(update, ctx)


async def order_stray(update: Update, ctx: AppContext) -> None:
    _ = await translator(update, ctx)
    if update.callback_query:
        await alert(update, _(STALE))
    elif update.effective_message:
        await update.effective_message.reply_text(
            _("Please use the buttons above to continue, or /cancel to stop.")
        )


# --- my orders and the resident's buttons ---------------------------------------------------


async def my_orders(update: Update, ctx: AppContext) -> None:
    assert update.effective_user is not None and update.effective_message is not None
    async with unit_of_work(update, ctx) as w:
        _ = w._
        mine = await orders.orders_of_resident(w.session, update.effective_user.id)
    if not mine:
        await update.effective_message.reply_text(
            _("You have no orders yet. Press 📝 Order to ask for an errand."),
            reply_markup=main_menu(_),
        )
        return
    for o in mine[:5]:
        text, rows = notify.resident_status(o, _, ctx.rt.timezone)
        await update.effective_message.reply_text(
            notify.title(o, _) + " · " + _(notify.STATUS[o.status]) + "\n" + text,
            reply_markup=inline(rows),
        )


async def resident_action(update: Update, ctx: AppContext) -> None:
    """o:ok, o:cancel (asks first), o:cxl (really cancel), o:detail."""
    q = update.callback_query
    assert q is not None and q.data is not None
    parsed = parse_order_action(q.data)
    assert parsed is not None
    verb, order_id, _arg = parsed
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            if verb == "ok":
                v = await orders.confirm_receipt(ctx.rt, w.session, order_id, q.from_user.id)
                await answer(q, _("Thank you! The volunteer will be told."))
                text, rows = notify.resident_status(v, _, ctx.rt.timezone)
                await edit_or_send(update, text, inline(rows))
                return
            if verb == "cxl":
                v = await orders.cancel_by_resident(ctx.rt, w.session, order_id, q.from_user.id)
                await answer(q, _("Cancelled."))
                text, rows = notify.resident_status(v, _, ctx.rt.timezone)
                await edit_or_send(update, text, inline(rows))
                return
            v = await orders.get_view(w.session, order_id)
    except Refused as e:
        await alert(update, e.render(_))
        return
    if v is None or q.from_user.id not in (v.resident_telegram_id, v.volunteer_telegram_id):
        await alert(update, _(STALE))
        return
    if verb == "cancel" and q.from_user.id == v.resident_telegram_id:
        await answer(q)
        await edit_or_send(
            update,
            _("Cancel order {title}?").format(title=notify.title(v, _)),
            inline(
                [
                    [Button(_("Yes, cancel it"), f"o:cxl:{v.id}")],
                    [Button(_("No, keep it"), f"o:detail:{v.id}")],
                ]
            ),
        )
        return
    await answer(q)
    if q.from_user.id == v.volunteer_telegram_id:
        text, rows = notify.runner_card(v, _, ctx.rt.timezone)
    else:
        text, rows = notify.resident_status(v, _, ctx.rt.timezone)
    await edit_or_send(update, text, inline(rows))


# --- wiring ---------------------------------------------------------------------------------


def build_registration_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    stray = [
        CommandHandler("cancel", cancel_conversation),
        MessageHandler(~filters.COMMAND, registration_stray),
        CallbackQueryHandler(registration_stray),
    ]
    return ConversationHandler(
        entry_points=[CommandHandler("start", start)],
        states={
            AWAIT_COMMUNITY: [CallbackQueryHandler(community_chosen, pattern=r"^r:c:\d+$")],
            AWAIT_COMPOUND: [CallbackQueryHandler(compound_chosen, pattern=r"^r:p:\d+$")],
            AWAIT_BUILDING: [CallbackQueryHandler(building_chosen, pattern=r"^r:b:\d+$")],
            AWAIT_UNIT: [
                CallbackQueryHandler(unit_chosen, pattern=r"^r:u:\w{1,4}$"),
                MessageHandler(filters.TEXT & ~filters.COMMAND, unit_chosen),
            ],
            AWAIT_ROOM: [MessageHandler(filters.TEXT & ~filters.COMMAND, room_given)],
            AWAIT_NAME: [MessageHandler(filters.TEXT & ~filters.COMMAND, name_given)],
            AWAIT_PHONE: [
                MessageHandler((filters.TEXT & ~filters.COMMAND) | filters.CONTACT, phone_given)
            ],
            ConversationHandler.TIMEOUT: [
                MessageHandler(filters.ALL, conversation_timeout),
                CallbackQueryHandler(conversation_timeout),
            ],
        },
        fallbacks=[CommandHandler("start", start), *stray],
        name="registration",
        allow_reentry=True,
        conversation_timeout=timeout_s,
    )


def build_order_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    order_entry = [
        CommandHandler("order", order_start),
        MessageHandler(filters.Regex(label_pattern(MENU_ORDER)), order_start),
    ]
    return ConversationHandler(
        entry_points=order_entry,
        states={
            ORD_CATEGORY: [CallbackQueryHandler(category_chosen, pattern=r"^d:cat:\w+$")],
            ORD_DESCRIBE: [
                MessageHandler(filters.TEXT & ~filters.COMMAND, description_given),
                MessageHandler(~filters.COMMAND & ~filters.TEXT, describe_wrong_media),
            ],
            ORD_URGENCY: [CallbackQueryHandler(urgency_chosen, pattern=r"^d:urg:\w+$")],
            ORD_CONFIRM: [CallbackQueryHandler(order_confirmed, pattern=r"^d:ok:\d+$")],
            ConversationHandler.TIMEOUT: [
                MessageHandler(filters.ALL, conversation_timeout),
                CallbackQueryHandler(conversation_timeout),
            ],
        },
        fallbacks=[
            CommandHandler(["cancel", "start"], cancel_conversation),
            CallbackQueryHandler(order_stopped, pattern=r"^d:stop$"),
            *order_entry,
            MessageHandler(~filters.COMMAND, order_stray),
        ],
        name="order",
        allow_reentry=True,
        conversation_timeout=timeout_s,
    )


def menu_handlers() -> list[Any]:
    return [
        CommandHandler("orders", my_orders, filters=filters.ChatType.PRIVATE),
        MessageHandler(filters.Regex(label_pattern(MENU_MY_ORDERS)), my_orders),
        CallbackQueryHandler(order_confirmed, pattern=r"^d:ok:\d+$"),
        CallbackQueryHandler(cancel_conversation, pattern=r"^d:stop$"),
        CallbackQueryHandler(resident_action, pattern=r"^o:(ok|cancel|cxl|detail):\d{1,12}$"),
    ]
