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
from bot.services import directory, residents
from bot.services.orders import drafts, form, texts, transitions, views
from handlers.callback_data import ID, one_of
from handlers.common import (
    MENU_ME,
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
ORD_FOR, ORD_CATEGORY, ORD_STEP, ORD_CONFIRM = range(10, 14)

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


async def add_someone(update: Update, ctx: AppContext) -> int:
    """👤 ➕: register someone to order for (the same questions, their address and phone)."""
    return await _begin(update, ctx, mode="recipient")


async def change_address(update: Update, ctx: AppContext) -> int:
    return await _begin(update, ctx, mode="self")


async def _begin(update: Update, ctx: AppContext, *, mode: str) -> int:
    assert update.effective_chat is not None and ctx.user_data is not None
    _ = await translator(update, ctx)
    if update.callback_query:
        await answer(update.callback_query)
    async with ctx.rt.db.read() as s:
        communities = await directory.communities(s)
    ctx.user_data[REG_KEY] = {"mode": mode}
    if mode == "recipient":
        await update.effective_chat.send_message(
            _("Whom do you order for? Their address first. /cancel stops.")
        )
    if len(communities) == 1:
        _reg(ctx)["community_id"] = communities[0].id
        return await _ask_compound(update, ctx, _, new=True)
    rows = [[Button(c.name, f"r:c:{c.id}")] for c in communities]
    await update.effective_chat.send_message(
        _("Which community do you live in?"), reply_markup=inline(rows)
    )
    return AWAIT_COMMUNITY


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
        ctx.user_data[REG_KEY] = {"mode": "self"}
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


async def _ask_compound(update: Update, ctx: AppContext, _: Gettext, *, new: bool = False) -> int:
    """Which compound; ``new`` asks in a new message instead of editing the pressed one."""
    async with ctx.rt.db.read() as s:
        places = await directory.compounds(s, _reg(ctx)["community_id"])
    rows = [[Button(p.name, f"r:p:{p.id}")] for p in places]
    text = _("Which compound (小区)?")
    if new and update.effective_chat:
        await update.effective_chat.send_message(text, reply_markup=inline(rows))
    else:
        await _reply(update, text, reply_markup=inline(rows))
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
    q = update.callback_query
    if q and q.data:
        raw = q.data.split(":")[2]
    else:
        raw = update.effective_message.text if update.effective_message else ""
    try:
        reg["unit"] = residents.clean_unit(raw or "", int(reg.get("units", 1)))
    except Refused as e:
        if q:  # a unit button this building does not have: forged or from another building
            await alert(update, e.render(_))
        else:
            await _reply(update, e.render(_))
        return AWAIT_UNIT
    if q:
        await answer(q)
    return await _ask_room(update, _)


async def room_given(update: Update, ctx: AppContext) -> int:
    assert update.effective_message is not None and update.effective_user is not None
    _ = await translator(update, ctx)
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
    _ = await translator(update, ctx)
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
    recipient = reg.get("mode") == "recipient"
    if msg.contact is not None:
        if not recipient and msg.contact.user_id not in (None, update.effective_user.id):
            _ = await translator(update, ctx)
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
        async with unit_of_work(update, ctx) as w:
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
                me = await residents.register(w.session, ctx.rt.clock, telegram_id=user_id, **place)
                done = _(
                    "Registered. {name}, {address}, {phone}.\nPress 📝 Order whenever you need an "
                    "errand run; /start again changes your address."
                ).format(name=me.name, address=me.address, phone=me.phone)
    except Refused as e:
        await msg.reply_text(e.render(_))
        return AWAIT_PHONE
    if ctx.user_data is not None:
        ctx.user_data.pop(REG_KEY, None)
    await msg.reply_text(done, reply_markup=main_menu(_))
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
# What the form's buttons can carry: d:v:<a choice of some step>, d:edit:<a step's key>.
FORM_CHOICES = {c.value for k in CATEGORY_BUTTONS for s in form.steps_for(k) for c in s.choices}
FORM_KEYS = {s.key for k in CATEGORY_BUTTONS for s in form.steps_for(k)}
EDITING_KEY = "editing"


def _draft_id(ctx: AppContext) -> int | None:
    return ctx.user_data.get(DRAFT_KEY) if ctx.user_data is not None else None


async def order_start(update: Update, ctx: AppContext) -> int:
    """📝 Order: for whom (if the resident keeps other people), then the kind of errand."""
    assert update.effective_user is not None and update.effective_chat is not None
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            draft = await drafts.start_draft(ctx.rt, w.session, update.effective_user.id)
            me = await residents.get(w.session, update.effective_user.id)
            others = await residents.recipients_of(w.session, update.effective_user.id)
    except Refused as e:
        await _reply(update, e.render(_))
        return ConversationHandler.END
    assert ctx.user_data is not None and me is not None
    ctx.user_data[DRAFT_KEY] = draft.id
    ctx.user_data.pop(EDITING_KEY, None)
    if update.callback_query:
        await answer(update.callback_query)
    if not others:
        return await _ask_category(update, ctx, _, edit=False)
    rows = [[Button(_("🏠 Myself: {address}").format(address=me.address), "d:for:self")]]
    rows += [[Button(f"👤 {r.name}: {r.address}", f"d:for:{r.id}")] for r in others]
    rows.append([Button(_("✖️ Cancel"), "d:stop")])
    await update.effective_chat.send_message(_("Who is this order for?"), reply_markup=inline(rows))
    return ORD_FOR


async def recipient_chosen(update: Update, ctx: AppContext) -> int:
    q = update.callback_query
    assert q is not None and q.data is not None
    raw = q.data.split(":")[2]
    draft_id = _draft_id(ctx)
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            if draft_id is None:
                raise Refused(N_("This order form has expired. Press Order to start a new one."))
            await drafts.set_recipient(
                ctx.rt, w.session, draft_id, q.from_user.id, None if raw == "self" else int(raw)
            )
    except Refused as e:
        await alert(update, e.render(_))
        return ORD_FOR
    await answer(q)
    return await _ask_category(update, ctx, _, edit=True)


async def _ask_category(update: Update, ctx: AppContext, _: Gettext, *, edit: bool) -> int:
    rows = [
        [Button(texts.CATEGORY_ICON[c] + " " + _(texts.CATEGORY[c]), f"d:cat:{c}")]
        for c in CATEGORY_BUTTONS
    ]
    rows.append([Button(_("✖️ Cancel"), "d:stop")])
    text = _("What kind of errand?")
    if edit:
        await edit_or_send(update, text, inline(rows))
    else:
        assert update.effective_chat is not None
        await update.effective_chat.send_message(text, reply_markup=inline(rows))
    return ORD_CATEGORY


async def category_chosen(update: Update, ctx: AppContext) -> int:
    q = update.callback_query
    assert q is not None and q.data is not None
    return await _record(update, ctx, "category", choice=q.data.split(":")[2])


async def choice_given(update: Update, ctx: AppContext) -> int:
    q = update.callback_query
    assert q is not None and q.data is not None and ctx.user_data is not None
    key = ctx.user_data.get("step")
    if not key:
        await alert(update, (await translator(update, ctx))(STALE))
        return ORD_STEP
    return await _record(update, ctx, key, choice=q.data.split(":", 2)[2])


async def input_given(update: Update, ctx: AppContext) -> int:
    """A typed answer, a photo (a list, a box, a prescription, a gas card) or a voice message."""
    msg = update.effective_message
    assert msg is not None and ctx.user_data is not None
    key = ctx.user_data.get("step")
    if not key:
        return ORD_STEP
    if msg.photo:
        return await _record(update, ctx, key, photo=msg.photo[-1].file_id, text=msg.caption)
    if msg.voice:
        return await _record(update, ctx, key, voice=msg.voice.file_id, text=msg.caption)
    return await _record(update, ctx, key, text=msg.text or "")


async def input_unsupported(update: Update, ctx: AppContext) -> int:
    _ = await translator(update, ctx)
    if update.effective_message:
        await update.effective_message.reply_text(
            _(
                "I cannot use that here. Please answer with text, a photo or a voice message, "
                "or use the buttons. /cancel stops."
            )
        )
    return ORD_STEP


async def _record(update: Update, ctx: AppContext, key: str, **value: Any) -> int:
    """Save one answer, then ask the next question (or show the summary)."""
    assert update.effective_user is not None
    draft_id = _draft_id(ctx)
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            if draft_id is None:
                raise Refused(N_("This order form has expired. Press Order to start a new one."))
            draft = await drafts.answer(
                ctx.rt, w.session, draft_id, update.effective_user.id, key, **value
            )
    except Refused as e:
        if key != "category" and await _reask(update, ctx, _, draft_id, key, e.render(_)):
            return ORD_STEP
        if update.callback_query:
            await alert(update, e.render(_))
        else:
            await _reply(update, e.render(_))
        return ORD_STEP if key != "category" else ORD_CATEGORY
    if update.callback_query:
        await answer(update.callback_query)
    return await _next(update, ctx, _, draft)


async def _next(update: Update, ctx: AppContext, _: Gettext, draft: drafts.DraftView) -> int:
    assert ctx.user_data is not None
    step = draft.next_step
    if step is None or ctx.user_data.get(EDITING_KEY):
        ctx.user_data.pop(EDITING_KEY, None)
        return await _summary(update, ctx, _, draft)
    return await _ask(update, ctx, _, draft, step)


async def _reask(
    update: Update, ctx: AppContext, _: Gettext, draft_id: int | None, key: str, why: str
) -> bool:
    """An answer that does not fit the question: say why and ask the current question again,
    which the person may never have seen (a lost message, an old button). False when there is
    no such question (the form expired): the caller then only says why."""
    if draft_id is None or update.effective_user is None:
        return False
    try:
        async with ctx.rt.db.read() as s:
            d = await drafts.get_draft(s, draft_id, update.effective_user.id)
    except Refused:
        return False
    step = form.step(d.category, key) if d.category and not d.order_id else None
    if step is None:
        return False
    if update.callback_query:
        await alert(update, why)
        await _ask(update, ctx, _, d, step)
    else:
        await _ask(update, ctx, _, d, step, note=why)
    return True


async def _ask(
    update: Update,
    ctx: AppContext,
    _: Gettext,
    draft: drafts.DraftView,
    step: form.Step,
    *,
    note: str | None = None,
) -> int:
    """Ask one question of the form (after ``note``, why the last answer did not fit)."""
    assert ctx.user_data is not None
    labels = [Button(_(c.label), f"d:v:{c.value}") for c in step.choices]
    rows = [labels[i : i + 2] for i in range(0, len(labels), 2)]
    rows.append([Button(_("✖️ Cancel"), "d:stop")])
    text = _(step.prompt)
    if step.key == "description" and draft.category:
        text = _(texts.CATEGORY[draft.category]) + "\n" + text
    if note:
        text = note + "\n\n" + text
    if update.callback_query:
        await edit_or_send(update, text, inline(rows))
    else:
        assert update.effective_chat is not None
        await update.effective_chat.send_message(text, reply_markup=inline(rows))
    # Only now does the form wait for this answer: had the question failed to go out (or to
    # the outbox), the person's next message still answers the question they last saw.
    ctx.user_data["step"] = step.key
    return ORD_STEP


async def _summary(
    update: Update, ctx: AppContext, _: Gettext, d: drafts.DraftView, *, new_message: bool = False
) -> int:
    assert update.effective_user is not None and d.category is not None
    async with ctx.rt.db.read() as s:
        me = await residents.get(s, update.effective_user.id)
        others = {r.id: r for r in await residents.recipients_of(s, update.effective_user.id)}
    assert me is not None
    who = others.get(d.recipient_id) if d.recipient_id else None
    what = d.description or ""
    if d.photo:
        what += " " + _("(with a photo)")
    if d.voice:
        what += " " + _("(voice message)")
    answers = d.answers
    urgency = d.urgency or "normal"
    lines = [
        _("Please check your order:"),
        "",
        _("Kind: {kind}").format(kind=_(texts.CATEGORY[d.category])),
        _("What: {what}").format(what=what.strip()),
        _("Urgency: {u}").format(u=_(texts.URGENCY[urgency])),
        *texts.detail_lines(d.category, answers, d.doorstep, _),
        _("Deliver to: {address}").format(
            address=f"{who.name}, {who.address}" if who else me.address
        ),
    ]
    edits = [
        Button("✏️ " + _(form.LABELS.get(st.key, N_("What"))), f"d:edit:{st.key}")
        for st in form.steps_for(d.category)
    ]
    rows = [[Button(_("✅ Send the order"), f"d:ok:{d.id}")]]
    rows += [edits[i : i + 3] for i in range(0, len(edits), 3)]
    rows.append(
        [
            Button(
                _("🤝 Hand it to me in person") if d.doorstep else _("🚪 Leave it at my door"),
                "d:door",
            )
        ]
    )
    rows.append([Button(_("✖️ Cancel"), "d:stop")])
    if ctx.user_data is not None:
        ctx.user_data.pop("step", None)
    text = "\n".join(lines)
    if update.callback_query and not new_message:
        await edit_or_send(update, text, inline(rows))
    else:
        assert update.effective_chat is not None
        await update.effective_chat.send_message(text, reply_markup=inline(rows))
    return ORD_CONFIRM


async def edit_step(update: Update, ctx: AppContext) -> int:
    """✏️ on the summary: ask that question again, then come back to the summary."""
    q = update.callback_query
    assert q is not None and q.data is not None and ctx.user_data is not None
    key = q.data.split(":")[2]
    _ = await translator(update, ctx)
    draft_id = _draft_id(ctx)
    async with ctx.rt.db.read() as s:
        d = await drafts.get_draft(s, draft_id, q.from_user.id) if draft_id else None
    step = form.step(d.category, key) if d and d.category else None
    if d is None or step is None or d.order_id:
        await alert(update, _(STALE))
        return ORD_CONFIRM
    await answer(q)
    ctx.user_data[EDITING_KEY] = True
    return await _ask(update, ctx, _, d, step)


async def doorstep_toggled(update: Update, ctx: AppContext) -> int:
    q = update.callback_query
    assert q is not None
    draft_id = _draft_id(ctx)
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            if draft_id is None:
                raise Refused(N_("This order form has expired. Press Order to start a new one."))
            d = await drafts.toggle_doorstep(ctx.rt, w.session, draft_id, q.from_user.id)
    except Refused as e:
        await alert(update, e.render(_))
        return ORD_CONFIRM
    await answer(q)
    return await _summary(update, ctx, _, d)


async def order_confirmed(update: Update, ctx: AppContext) -> int:
    """Also registered outside the conversation: a confirm pressed after a restart still works,
    and a repeated press returns the same order (the draft is claimed once)."""
    q = update.callback_query
    assert q is not None and q.data is not None
    draft_id = int(q.data.split(":")[2])
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            result = await drafts.submit_draft(ctx.rt, w.session, draft_id, q.from_user.id)
    except Refused as e:
        await alert(update, e.render(_))
        return ConversationHandler.END
    if ctx.user_data is not None:
        for key in (DRAFT_KEY, "step", EDITING_KEY):
            ctx.user_data.pop(key, None)
    await answer(q)
    text, rows = texts.resident_status(result.order, _, ctx.rt.timezone)
    await edit_or_send(update, text, inline(rows))
    return ConversationHandler.END


async def order_again(update: Update, ctx: AppContext) -> int:
    """🔁 on a finished order: the same answers in a new form, shown for checking."""
    q = update.callback_query
    assert q is not None and q.data is not None
    parsed = parse_order_action(q.data)
    if parsed is None:  # the patterns admit only real data; still, never parse it blindly
        await alert(update, (await translator(update, ctx))(STALE))
        return ConversationHandler.END
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            d = await drafts.copy_order(ctx.rt, w.session, parsed[1], q.from_user.id)
    except Refused as e:
        await alert(update, e.render(_))
        return ConversationHandler.END
    assert ctx.user_data is not None
    ctx.user_data[DRAFT_KEY] = d.id
    await answer(q)
    # A new message: the pressed one stays as the record of the old order.
    return await _summary(update, ctx, _, d, new_message=True)


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
    """Open orders first, then the most recent finished ones, each with what can be done."""
    assert update.effective_user is not None and update.effective_chat is not None
    async with unit_of_work(update, ctx) as w:
        _ = w._
        mine = await views.orders_of_resident(w.session, update.effective_user.id, limit=20)
    if not mine:
        await update.effective_chat.send_message(
            _("You have no orders yet. Press 📝 Order to ask for an errand."),
            reply_markup=main_menu(_),
        )
        return
    under_way = [o for o in mine if o.status not in ("confirmed", "cancelled", "unfulfillable")]
    done = [o for o in mine if o not in under_way][: max(0, 5 - len(under_way))]
    await update.effective_chat.send_message(
        _("Your orders: {n} under way.").format(n=len(under_way)), reply_markup=main_menu(_)
    )
    for o in under_way + done:
        text, rows = texts.resident_detail(o, _, ctx.rt.timezone)
        await update.effective_chat.send_message(text, reply_markup=inline(rows))


async def resident_action(update: Update, ctx: AppContext) -> None:
    """o:ok, o:cancel (asks first), o:cxl (really cancel), o:detail, o:prob, o:thank, o:rate."""
    q = update.callback_query
    assert q is not None and q.data is not None
    parsed = parse_order_action(q.data)
    if parsed is None:  # the patterns admit only real data; still, never parse it blindly
        await alert(update, (await translator(update, ctx))(STALE))
        return
    verb, order_id, arg = parsed
    tz = ctx.rt.timezone
    # The change commits first; only then is the person told (DESIGN rule 11).
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            if verb == "ok":
                v = await transitions.confirm_receipt(ctx.rt, w.session, order_id, q.from_user.id)
            elif verb == "cxl":
                v = await transitions.cancel_by_resident(
                    ctx.rt, w.session, order_id, q.from_user.id
                )
            elif verb == "rate":
                v = await transitions.rate(
                    ctx.rt, w.session, order_id, q.from_user.id, int(arg or 0)
                )
            elif verb == "prob" and arg:
                n = await transitions.report_problem(
                    ctx.rt, w.session, order_id, q.from_user.id, arg
                )
            else:
                v = await views.get_view(w.session, order_id)
    except Refused as e:
        await alert(update, e.render(_))
        return
    if verb == "ok":
        await answer(q, _("Thank you! The volunteer will be told."))
        text, rows = texts.resident_detail(v, _, tz)
        await edit_or_send(update, text, inline(rows))
        return
    if verb == "cxl":
        await answer(q, _("Cancelled."))
        text, rows = texts.resident_status(v, _, tz)
        await edit_or_send(update, text, inline(rows))
        return
    if verb == "rate":
        await answer(q, _("Thank you! Your thanks were passed on."))
        text, rows = texts.resident_detail(v, _, tz)
        await edit_or_send(update, text, inline(rows))
        return
    if verb == "prob" and arg:
        await answer(q)
        await edit_or_send(
            update,
            _("Reported to the community staff ({n}). They will contact you.").format(n=n),
            None,
        )
        return
    if v is None or q.from_user.id not in (v.resident_telegram_id, v.volunteer_telegram_id):
        await alert(update, _(STALE))
        return
    is_resident = q.from_user.id == v.resident_telegram_id
    await answer(q)
    if verb == "cancel" and is_resident:
        await edit_or_send(
            update,
            _("Cancel order {title}?").format(title=texts.title(v, _)),
            inline(
                [
                    [Button(_("Yes, cancel it"), f"o:cxl:{v.id}")],
                    [Button(_("No, keep it"), f"o:detail:{v.id}")],
                ]
            ),
        )
    elif verb == "prob" and is_resident:
        rows = [
            [Button(_(label), f"o:prob:{v.id}:{kind}")] for kind, label in texts.PROBLEMS.items()
        ]
        rows.append([Button(_("No, keep it"), f"o:detail:{v.id}")])
        await edit_or_send(
            update,
            _("What went wrong with {title}?").format(title=texts.title(v, _)),
            inline(rows),
        )
    elif verb == "thank" and is_resident:
        stars = [Button("⭐" * n, f"o:rate:{v.id}:{n}") for n in range(5, 0, -1)]
        await edit_or_send(
            update,
            _("How did {name} do? Your thanks are passed on.").format(name=v.volunteer_first_name),
            inline([[b] for b in stars]),
        )
    elif not is_resident:
        text, rows = texts.runner_card(v, _, tz)
        await edit_or_send(update, text, inline(rows))
    else:
        text, rows = texts.resident_detail(v, _, tz)
        await edit_or_send(update, text, inline(rows))


# --- my info: address, people I order for, care -----------------------------------------


async def me_screen(update: Update, ctx: AppContext) -> None:
    assert update.effective_user is not None and update.effective_chat is not None
    async with unit_of_work(update, ctx) as w:
        _ = w._
        me = await residents.get(w.session, update.effective_user.id)
        others = await residents.recipients_of(w.session, update.effective_user.id)
        care = await residents.care_flags(w.session, update.effective_user.id)
    if update.callback_query:
        await answer(update.callback_query)
    if me is None:
        await update.effective_chat.send_message(
            _("Welcome! Send /start to register your address, then you can order errands.")
        )
        return
    lines = [
        _("Name: {name}").format(name=me.name),
        _("Address: {address}").format(address=me.address),
        _("Phone: {phone}").format(phone=me.phone),
        _("People you order for: {n}").format(n=len(others)),
        _("Care list: {state}").format(
            state="、".join(_(residents.CARE_FLAGS[f]) for f in sorted(care)) if care else _("no")
        ),
    ]
    rows = [
        [Button(_("✏️ Change my address"), "r:edit")],
        [Button(_("👥 People I order for"), "p:list")],
        [Button(_("⭐ Care list"), "p:care")],
    ]
    if update.callback_query:
        await edit_or_send(update, "\n".join(lines), inline(rows))
    else:
        await update.effective_chat.send_message("\n".join(lines), reply_markup=inline(rows))


async def people_action(update: Update, ctx: AppContext) -> None:
    """p:list, p:rm:<id>, p:care, p:care:<flag>."""
    q = update.callback_query
    assert q is not None and q.data is not None
    parts = q.data.split(":")
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            removed = None
            if parts[1] == "rm":
                removed = await residents.remove_recipient(w.session, q.from_user.id, int(parts[2]))
            elif parts[1] == "care" and len(parts) == 3:
                await residents.toggle_care(w.session, ctx.rt.clock, q.from_user.id, parts[2])
            others = await residents.recipients_of(w.session, q.from_user.id)
            care = await residents.care_flags(w.session, q.from_user.id)
    except Refused as e:
        await alert(update, e.render(_))
        return
    # Told after the commit (DESIGN rule 11).
    await answer(q, _("Removed {name}.").format(name=removed) if removed is not None else None)
    if parts[1] == "care":
        rows = [
            [Button(("☑️ " if f in care else "⬜ ") + _(label), f"p:care:{f}")]
            for f, label in residents.CARE_FLAGS.items()
        ]
        rows.append([Button(_("Done"), "p:me")])
        await edit_or_send(update, _(CARE_TEXT), inline(rows))
        return
    if parts[1] == "me":
        await me_screen(update, ctx)
        return
    lines = [_("People you order for:")] + [f"👤 {r.name}: {r.address}, {r.phone}" for r in others]
    if not others:
        lines.append(_("nobody yet"))
    rows = [[Button(_("✖️ Remove {name}").format(name=r.name), f"p:rm:{r.id}")] for r in others]
    rows.append([Button(_("➕ Add someone"), "r:add")])
    rows.append([Button(_("Done"), "p:me")])
    await edit_or_send(update, "\n".join(lines), inline(rows))


CARE_TEXT = N_(
    "Does your household have someone who needs extra care? If you tick one, your orders are "
    'marked priority for the volunteers. They see only "priority", never the reason; the '
    "community staff see it to check on you. You can untick it any time."
)


# --- wiring ---------------------------------------------------------------------------------


def build_registration_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    stray = [
        CommandHandler("cancel", cancel_conversation),
        MessageHandler(~filters.COMMAND, registration_stray),
        # Only this conversation's own buttons: /language, order and relay buttons still work.
        CallbackQueryHandler(registration_stray, pattern=r"^r:"),
    ]
    return ConversationHandler(
        entry_points=[
            CommandHandler("start", start, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(add_someone, pattern=r"^r:add$"),
            CallbackQueryHandler(change_address, pattern=r"^r:edit$"),
        ],
        states={
            AWAIT_COMMUNITY: [CallbackQueryHandler(community_chosen, pattern=rf"^r:c:{ID}$")],
            AWAIT_COMPOUND: [CallbackQueryHandler(compound_chosen, pattern=rf"^r:p:{ID}$")],
            AWAIT_BUILDING: [CallbackQueryHandler(building_chosen, pattern=rf"^r:b:{ID}$")],
            AWAIT_UNIT: [
                CallbackQueryHandler(unit_chosen, pattern=r"^r:u:[0-9]{1,3}$"),
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
        persistent=True,
        conversation_timeout=timeout_s,
    )


def build_order_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    order_entry = [
        CommandHandler("order", order_start, filters=filters.ChatType.PRIVATE),
        MessageHandler(filters.Regex(label_pattern(MENU_ORDER)), order_start),
        CallbackQueryHandler(order_start, pattern=r"^d:new$"),
        CallbackQueryHandler(order_again, pattern=rf"^o:again:{ID}$"),
    ]
    timeout = [
        MessageHandler(filters.ALL, conversation_timeout),
        CallbackQueryHandler(conversation_timeout),
    ]
    return ConversationHandler(
        entry_points=order_entry,
        states={
            ORD_FOR: [CallbackQueryHandler(recipient_chosen, pattern=rf"^d:for:(self|{ID})$")],
            ORD_CATEGORY: [
                CallbackQueryHandler(
                    category_chosen, pattern=rf"^d:cat:{one_of(CATEGORY_BUTTONS)}$"
                )
            ],
            ORD_STEP: [
                CallbackQueryHandler(choice_given, pattern=rf"^d:v:{one_of(FORM_CHOICES)}$"),
                MessageHandler(
                    (filters.TEXT & ~filters.COMMAND) | filters.PHOTO | filters.VOICE, input_given
                ),
                MessageHandler(~filters.COMMAND, input_unsupported),
            ],
            ORD_CONFIRM: [
                CallbackQueryHandler(order_confirmed, pattern=rf"^d:ok:{ID}$"),
                CallbackQueryHandler(edit_step, pattern=rf"^d:edit:{one_of(FORM_KEYS)}$"),
                CallbackQueryHandler(doorstep_toggled, pattern=r"^d:door$"),
            ],
            ConversationHandler.TIMEOUT: timeout,
        },
        fallbacks=[
            CommandHandler(["cancel", "start"], cancel_conversation),
            CallbackQueryHandler(order_stopped, pattern=r"^d:stop$"),
            *order_entry,
            CallbackQueryHandler(order_stray, pattern=r"^d:"),
            MessageHandler(~filters.COMMAND, order_stray),
        ],
        name="order",
        allow_reentry=True,
        persistent=True,
        conversation_timeout=timeout_s,
    )


def menu_handlers() -> list[Any]:
    return [
        CommandHandler("orders", my_orders, filters=filters.ChatType.PRIVATE),
        MessageHandler(filters.Regex(label_pattern(MENU_MY_ORDERS)), my_orders),
        CallbackQueryHandler(order_confirmed, pattern=rf"^d:ok:{ID}$"),
        CallbackQueryHandler(cancel_conversation, pattern=r"^d:stop$"),
        CallbackQueryHandler(
            resident_action, pattern=rf"^o:(ok|cancel|cxl|detail|prob|thank):{ID}$"
        ),
        CallbackQueryHandler(resident_action, pattern=rf"^o:prob:{ID}:{one_of(texts.PROBLEMS)}$"),
        CallbackQueryHandler(resident_action, pattern=rf"^o:rate:{ID}:[1-5]$"),  # stars
        CommandHandler("me", me_screen, filters=filters.ChatType.PRIVATE),
        MessageHandler(filters.Regex(label_pattern(MENU_ME)), me_screen),
        CallbackQueryHandler(
            people_action,
            pattern=rf"^p:(list|me|care|care:{one_of(residents.CARE_FLAGS)}|rm:{ID})$",
        ),
    ]
