"""The resident's registration: /start (or a building poster's link, ``/start b_<code>``) asks
community, compound, building, unit, room, name and phone once; 👤 ➕ asks the same of someone
they order for, ✏️ changes their own address. Buttons are ``r:<step>:<id>``."""

from __future__ import annotations

from typing import Any

from telegram import KeyboardButton, ReplyKeyboardMarkup, Update
from telegram.ext import (
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.buttons import Button
from bot.errors import STALE, Refused
from bot.i18n import N_, P_, Gettext, ngettext
from bot.services import directory, residents
from bot.services.groupbuys import listing
from handlers.answers import alert, answer, echo_choice, pressed, respond, with_choice
from handlers.callback_data import ID, Callback, matching
from handlers.context import AppContext
from handlers.conversation_exits import PLEASE_ANSWER
from handlers.keyboards import inline, main_menu, menu_for, share_phone
from handlers.resident_forms import REG_KEY, form_exits
from handlers.work import unit_of_work

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

ADD_SOMEONE = Callback("r", "add")
CHANGE_ADDRESS = Callback("r", "edit")
COMMUNITY = Callback("r", "c", community_id=ID)
COMPOUND = Callback("r", "p", compound_id=ID)
BUILDING = Callback("r", "b", building_id=ID)
UNIT = Callback("r", "u", unit=matching("[0-9]{1,3}"))

WELCOME = N_(
    "Welcome to the community errand service (跑腿). Volunteers of your grid will run "
    "errands for you. First, where do you live? It takes a minute; /cancel stops."
)
STAFF_WELCOME = N_(
    "Welcome! Your menu is below the text field: each button does one part of your work. "
    "/help says more."
)
# A poster's link already says where: the welcome then only says what this is, and the first
# question follows in the same message.
WELCOME_BY_POSTER = N_(
    "Welcome to the community errand service (跑腿). Volunteers of your grid will run "
    "errands for you. Registering takes a minute; /cancel stops."
)
OPEN_GROUPBUYS = P_(
    "🛒 Your building has {n} group-buy open: press 🛒 Group-buys to take part.",
    "🛒 Your building has {n} group-buys open: press 🛒 Group-buys to take part.",
)
PHONE_WHY = N_(
    "Last step: your phone number, so the volunteer can call you if something is sold out or "
    "they cannot find your door. Only the volunteer who takes your order sees it.\n\n"
    "Press the button below to share it, or type it."
)


def _reg(ctx: AppContext) -> dict[str, Any]:
    assert ctx.user_data is not None
    reg: dict[str, Any] = ctx.user_data.setdefault(REG_KEY, {})
    return reg


async def add_someone(update: Update, ctx: AppContext) -> int:
    """👤 ➕: register someone to order for (the same questions, their address and phone)."""
    return await _begin(update, ctx, mode="recipient")


async def change_address(update: Update, ctx: AppContext) -> int:
    return await _begin(update, ctx, mode="self")


def _community_rows(communities: list[directory.Place]) -> list[list[Button]]:
    return [[Button(c.name, COMMUNITY.data(community_id=c.id))] for c in communities]


async def _begin(update: Update, ctx: AppContext, *, mode: str) -> int:
    assert update.effective_chat is not None and ctx.user_data is not None
    _ = await ctx.gettext()
    if update.callback_query:
        await answer(update.callback_query)
    async with ctx.rt.db.read() as s:
        communities = await directory.communities(s, ctx.serves)
    ctx.user_data[REG_KEY] = {"mode": mode}
    if mode == "recipient":
        await update.effective_chat.send_message(
            _("Whom do you order for? Their address first. /cancel stops.")
        )
    if len(communities) == 1:
        _reg(ctx)["community_id"] = communities[0].id
        return await _ask_compound(update, ctx, _, new=True)
    await update.effective_chat.send_message(
        _("Which community do you live in?"), reply_markup=inline(_community_rows(communities))
    )
    return AWAIT_COMMUNITY


async def start(update: Update, ctx: AppContext) -> int:
    assert update.effective_user is not None and update.effective_message is not None
    payload = ctx.args[0] if ctx.args else ""
    async with unit_of_work(ctx) as w:
        _ = w._
        me = await residents.get(w.session, update.effective_user.id)
        prefill = None
        if payload.startswith("b_"):
            prefill = await directory.building_by_code(w.session, payload[2:])
        communities = await directory.communities(w.session, ctx.serves)
    served = ctx.serves
    if prefill is not None and served is not None and prefill.community_code not in served:
        # Another community's poster: its own bot registers its residents.
        entry = ctx.rt.settings.bot_serving(prefill.community_code)
        bot = f"@{entry.username}" if entry else _("your community's bot")
        await update.effective_message.reply_text(
            _(
                "{building} belongs to {community}, which another bot serves: please "
                "register with {bot}."
            ).format(building=prefill.label, community=prefill.community, bot=bot)
        )
        return ConversationHandler.END
    roles = await ctx.person()
    if me is not None and prefill is None:
        await update.effective_message.reply_text(
            _(
                "Welcome back, {name}. Your address: {address}\n"
                "Press 📝 Order to ask for an errand."
            ).format(name=me.name, address=me.address),
            reply_markup=menu_for(roles, _) or main_menu(_),
        )
        return ConversationHandler.END
    if prefill is None and roles and (roles.is_staff or roles.volunteer_approved):
        # Staff and volunteers came to work, not to register a home: their menu, and a
        # button for those who also want errands run for their own home.
        await update.effective_message.reply_text(_(STAFF_WELCOME), reply_markup=menu_for(roles, _))
        await update.effective_message.reply_text(
            _("Do you also live here and want errands run for your home?"),
            reply_markup=inline([[Button(_("🏠 Register my home"), CHANGE_ADDRESS.data())]]),
        )
        return ConversationHandler.END
    if ctx.user_data is not None:
        ctx.user_data[REG_KEY] = {"mode": "self"}
    reg = _reg(ctx)
    if prefill is not None:
        reg.update(
            community_id=prefill.community_id,
            building_id=prefill.id,
            units=prefill.units,
            label=f"{prefill.community} {prefill.label}",
        )
        return await _ask_unit(update, ctx, _, welcome=_(WELCOME_BY_POSTER))
    await update.effective_message.reply_text(_(WELCOME))
    if not communities:
        await update.effective_message.reply_text(
            _("No community is set up yet. Please ask your community staff.")
        )
        return ConversationHandler.END
    if len(communities) == 1:
        reg["community_id"] = communities[0].id
        return await _ask_compound(update, ctx, _)
    await update.effective_message.reply_text(
        _("Which community do you live in?"), reply_markup=inline(_community_rows(communities))
    )
    return AWAIT_COMMUNITY


async def _ask_compound(
    update: Update, ctx: AppContext, _: Gettext, *, new: bool = False, chosen: str = ""
) -> int:
    """Which compound; ``new`` asks in a new message instead of editing the pressed one
    (``chosen``: the choice that led here, shown above the question)."""
    async with ctx.rt.db.read() as s:
        places = await directory.compounds(s, _reg(ctx)["community_id"])
    rows = [[Button(p.name, COMPOUND.data(compound_id=p.id))] for p in places]
    text = chosen + _("Which compound (小区)?")
    if new and update.effective_chat:
        await update.effective_chat.send_message(text, reply_markup=inline(rows))
    else:
        await respond(update, text, reply_markup=inline(rows))
    return AWAIT_COMPOUND


async def community_chosen(update: Update, ctx: AppContext) -> int:
    community_id = COMMUNITY.parse(pressed(update).data).community_id
    if ctx.serves is not None:  # a forged press for a community another bot serves
        async with ctx.rt.db.read() as s:
            mine = {c.id for c in await directory.communities(s, ctx.serves)}
        if community_id not in mine:
            await alert(update, (await ctx.gettext())(STALE))
            return AWAIT_COMMUNITY
    _reg(ctx)["community_id"] = community_id
    chosen = with_choice(pressed(update))
    return await _ask_compound(update, ctx, await ctx.gettext(), chosen=chosen)


async def compound_chosen(update: Update, ctx: AppContext) -> int:
    compound_id = COMPOUND.parse(pressed(update).data).compound_id
    _ = await ctx.gettext()
    async with ctx.rt.db.read() as s:
        places = await directory.buildings(s, compound_id)
    if not places:
        await alert(update, _(STALE))
        return AWAIT_COMPOUND
    buttons = [Button(p.name, BUILDING.data(building_id=p.id)) for p in places]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    # The compound chosen stays visible above the next question.
    text = with_choice(pressed(update)) + _("Which building (楼栋)?")
    await respond(update, text, reply_markup=inline(rows))
    return AWAIT_BUILDING


async def building_chosen(update: Update, ctx: AppContext) -> int:
    building_id = BUILDING.parse(pressed(update).data).building_id
    _ = await ctx.gettext()
    async with ctx.rt.db.read() as s:
        info = await directory.building(s, building_id)
    if info is None or info.community_id != _reg(ctx).get("community_id"):
        await alert(update, _(STALE))
        return AWAIT_BUILDING
    _reg(ctx).update(building_id=info.id, units=info.units, label=f"{info.community} {info.label}")
    return await _ask_unit(update, ctx, _)


async def _ask_unit(update: Update, ctx: AppContext, _: Gettext, *, welcome: str = "") -> int:
    """Which unit, in one message (after ``welcome``, if given); a building of one unit has
    nothing to choose: the room is asked at once, in that same message, so that every question
    shown is one the conversation waits for."""
    reg = _reg(ctx)
    units = int(reg["units"])
    head = welcome + "\n\n" if welcome else ""
    if units <= 1:
        reg["unit"] = "1"
        place = _("You live in {place}.").format(place=reg["label"])
        await respond(update, head + place + "\n" + _("Your room number? For example 302."))
        return AWAIT_ROOM
    text = _("{place}. Which unit (单元)?").format(place=reg["label"])
    rows = [
        [Button(str(n), UNIT.data(unit=n)) for n in range(i, min(i + 4, units + 1))]
        for i in range(1, units + 1, 4)
    ]
    await respond(update, head + text, reply_markup=inline(rows))
    return AWAIT_UNIT


async def _ask_room(update: Update, _: Gettext) -> int:
    assert update.effective_chat is not None
    await update.effective_chat.send_message(_("Your room number? For example 302."))
    return AWAIT_ROOM


async def unit_chosen(update: Update, ctx: AppContext) -> int:
    """A unit button, or the unit typed."""
    _ = await ctx.gettext()
    reg = _reg(ctx)
    q = update.callback_query
    try:
        if q is not None:
            raw = UNIT.parse(q.data).unit
        else:
            raw = update.effective_message.text if update.effective_message else ""
        reg["unit"] = residents.clean_unit(raw or "", int(reg.get("units", 1)))
    except Refused as e:
        if q:  # a unit button this building does not have: forged or from another building
            await alert(update, e.render(_))
        else:
            await respond(update, e.render(_))
        return AWAIT_UNIT
    if q:
        await answer(q)
        await echo_choice(q)  # the unit chosen stays visible under its question
    return await _ask_room(update, _)


async def room_given(update: Update, ctx: AppContext) -> int:
    assert update.effective_message is not None and update.effective_user is not None
    _ = await ctx.gettext()
    try:
        _reg(ctx)["room"] = residents.clean_room(update.effective_message.text or "")
    except Refused as e:
        await update.effective_message.reply_text(e.render(_))
        return AWAIT_ROOM
    suggestion = update.effective_user.first_name or "" if _reg(ctx).get("mode") == "self" else ""
    markup = (
        ReplyKeyboardMarkup(
            [[KeyboardButton(suggestion)]], resize_keyboard=True, one_time_keyboard=True
        )
        if suggestion
        else None
    )
    question = (
        _("How should the volunteer call you? (your name, e.g. 周阿姨)")
        if _reg(ctx).get("mode") == "self"
        else _("Their name? (e.g. 王奶奶)")
    )
    await update.effective_message.reply_text(question, reply_markup=markup)
    return AWAIT_NAME


async def name_given(update: Update, ctx: AppContext) -> int:
    assert update.effective_message is not None
    _ = await ctx.gettext()
    try:
        _reg(ctx)["name"] = residents.clean_name(update.effective_message.text or "")
    except Refused as e:
        await update.effective_message.reply_text(e.render(_))
        return AWAIT_NAME
    if _reg(ctx).get("mode") == "recipient":
        await update.effective_message.reply_text(
            _(
                "Their phone number, so the volunteer can call if needed? Type it, or share "
                "their contact."
            )
        )
        return AWAIT_PHONE
    await update.effective_message.reply_text(
        _(PHONE_WHY),
        reply_markup=share_phone(_),
    )
    return AWAIT_PHONE


async def phone_given(update: Update, ctx: AppContext) -> int:
    msg = update.effective_message
    assert msg is not None and update.effective_user is not None
    reg = _reg(ctx)
    recipient = reg.get("mode") == "recipient"
    if msg.contact is not None:
        if not recipient and msg.contact.user_id not in (None, update.effective_user.id):
            _ = await ctx.gettext()
            await msg.reply_text(_("Please share your own number with the button, or type it."))
            return AWAIT_PHONE
        phone = msg.contact.phone_number
    else:
        phone = msg.text or ""
    place = {
        "name": reg.get("name", ""),
        "phone": phone,
        "building_id": int(reg["building_id"]),
        "unit": str(reg["unit"]),
        "room": str(reg["room"]),
    }
    user_id = update.effective_user.id
    try:
        async with unit_of_work(ctx) as w:
            _ = w._
            if recipient:
                r = await residents.add_recipient(
                    w.session, ctx.rt.clock, owner_telegram_id=user_id, **place
                )
                done = _(
                    "Added {name}: {address}, {phone}. When you press 📝 Order, you can choose "
                    "them."
                ).format(name=r.name, address=r.address, phone=r.phone)
            else:
                me = await residents.register(
                    w.session,
                    ctx.rt.clock,
                    telegram_id=user_id,
                    # Their own contact: the phone Telegram knows is theirs.
                    phone_verified=msg.contact is not None
                    and msg.contact.user_id == update.effective_user.id,
                    **place,
                )
                done = _(
                    "Registered. {name}, {address}, {phone}.\nPress 📝 Order whenever you need an "
                    "errand run; /start again changes your address."
                ).format(name=me.name, address=me.address, phone=me.phone)
                # A group-buy announced before they registered reached them not: say so.
                n = await listing.count_open(ctx.rt, w.session, me.building_id)
                if n:
                    done += "\n" + ngettext(_, OPEN_GROUPBUYS, n).format(n=n)
    except Refused as e:  # the phone number: they type it again
        await msg.reply_text(e.render(_))
        return AWAIT_PHONE
    if ctx.user_data is not None:
        ctx.user_data.pop(REG_KEY, None)
    roles = await ctx.person()
    await msg.reply_text(done, reply_markup=menu_for(roles, _) or main_menu(_))
    return ConversationHandler.END


def build_registration_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    # Only this conversation's own buttons are stray: /language, order and relay buttons work.
    exits = form_exits(prefix="r", stray_message=PLEASE_ANSWER)
    typed = filters.TEXT & ~filters.COMMAND
    return ConversationHandler(
        entry_points=[
            CommandHandler("start", start, filters=filters.ChatType.PRIVATE),
            ADD_SOMEONE.handler(add_someone),
            CHANGE_ADDRESS.handler(change_address),
        ],
        states={
            AWAIT_COMMUNITY: [COMMUNITY.handler(community_chosen)],
            AWAIT_COMPOUND: [COMPOUND.handler(compound_chosen)],
            AWAIT_BUILDING: [BUILDING.handler(building_chosen)],
            AWAIT_UNIT: [UNIT.handler(unit_chosen), MessageHandler(typed, unit_chosen)],
            AWAIT_ROOM: [MessageHandler(typed, room_given)],
            AWAIT_NAME: [MessageHandler(typed, name_given)],
            AWAIT_PHONE: [MessageHandler(typed | filters.CONTACT, phone_given)],
            **exits.timeout,
        },
        fallbacks=[CommandHandler("start", start), *exits.stop, *exits.stray],
        name="registration",
        allow_reentry=True,
        persistent=True,
        conversation_timeout=timeout_s,
    )
