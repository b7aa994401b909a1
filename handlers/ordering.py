"""The order form: 📝 (or /order, or 🔁 on a finished order) asks for whom, the kind of errand,
then the questions of that kind (``bot.services.order_form``), one at a time; a summary with ✏️
for each answer, 🚪/🤝 and ✅ sends it (🔁: sends it and sets it to repeat). The form in
progress is a draft row, so a restart loses nothing; buttons are ``d:<verb>[:<value>]``."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import ConversationHandler

from bot.buttons import Button
from bot.errors import STALE, Refused
from bot.i18n import N_, Gettext
from bot.services import building_status, residents
from bot.services.isolation import isolating, on_the_form
from bot.services.messages import tell
from bot.services.orders import drafts, form, texts
from bot.services.orders.views import OrderView
from handlers import repeats as repeat_setup
from handlers.answers import alert, answer, edit_or_send, pressed, respond, set_buttons
from handlers.callback_data import ID, Callback, Field, one_of
from handlers.context import AppContext
from handlers.keyboards import inline
from handlers.resident_forms import DRAFT_KEY, EDITING_KEY, STEP_KEY, form_exits
from handlers.work import Work, attempt, unit_of_work

ORD_FOR, ORD_CATEGORY, ORD_STEP, ORD_CONFIRM = range(10, 14)

CATEGORY_BUTTONS = ("groceries", "medicine", "gas", "other")
# What the form's buttons can carry: d:v:<a choice of some step>, d:edit:<a step's key>.
FORM_CHOICES = {c.value for k in CATEGORY_BUTTONS for s in form.steps_for(k) for c in s.choices}
FORM_KEYS = {s.key for k in CATEGORY_BUTTONS for s in form.steps_for(k)}
ANSWERED_BEFORE = N_("That question was answered already. Please answer the latest question below.")
# The question the form waits for, as shown (see choice_given).
ASKED_KEY = "asked"
EXPIRED = N_("This order form has expired. Press Order to start a new one.")


def _whom(raw: str) -> int | None:
    return None if raw == "self" else int(raw)


NEW = Callback("d", "new")
AGAIN = Callback("o", "again", order_id=ID)
FOR = Callback("d", "for", recipient_id=Field(f"self|{ID.regex}", _whom))
CATEGORY = Callback("d", "cat", category=one_of(CATEGORY_BUTTONS))
CHOICE = Callback("d", "v", value=one_of(FORM_CHOICES))
SEND = Callback("d", "ok", draft_id=ID)
# ✅ and then 🔁: sent now, and repeated from this order (how often is asked next).
SEND_REPEAT = Callback("d", "okr", draft_id=ID)
EDIT = Callback("d", "edit", key=one_of(FORM_KEYS))
DOORSTEP = Callback("d", "door")
STOP = Callback("d", "stop")


def _draft_id(ctx: AppContext) -> int | None:
    return ctx.user_data.get(DRAFT_KEY) if ctx.user_data is not None else None


def _cancel_row(_: Gettext) -> list[Button]:
    return [Button(_("✖️ Cancel"), STOP.data())]


async def order_start(update: Update, ctx: AppContext) -> int:
    """📝 Order: for whom (if the resident keeps other people), then the kind of errand."""
    assert update.effective_user is not None and update.effective_chat is not None
    try:
        async with unit_of_work(ctx) as w:
            _ = w._
            draft = await drafts.start_draft(ctx.rt, w.session, update.effective_user.id)
            me = await residents.get(w.session, update.effective_user.id)
            others = await residents.recipients_of(w.session, update.effective_user.id)
    except Refused as e:  # said in place of the pressed message, or as a new one
        await respond(update, e.render(_))
        return ConversationHandler.END
    assert ctx.user_data is not None and me is not None
    ctx.user_data[DRAFT_KEY] = draft.id
    ctx.user_data.pop(EDITING_KEY, None)
    if update.callback_query:
        await answer(update.callback_query)
    if not others:
        return await ask_category(update, _, edit=False)
    rows = [
        [
            Button(
                _("🏠 Myself: {address}").format(address=me.address), FOR.data(recipient_id="self")
            )
        ]
    ]
    rows += [
        [
            Button(
                "👤 " + _("{label}: {value}").format(label=r.name, value=r.address),
                FOR.data(recipient_id=r.id),
            )
        ]
        for r in others
    ]
    rows.append(_cancel_row(_))
    await update.effective_chat.send_message(_("Who is this order for?"), reply_markup=inline(rows))
    return ORD_FOR


def _draft(ctx: AppContext) -> int:
    """The form under way; Refused when it has expired."""
    draft_id = _draft_id(ctx)
    if draft_id is None:
        raise Refused(EXPIRED)
    return draft_id


async def recipient_chosen(update: Update, ctx: AppContext) -> int:
    q = pressed(update)
    recipient_id = FOR.parse(q.data).recipient_id
    done = await attempt(
        update,
        ctx,
        lambda w: drafts.set_recipient(
            ctx.rt, w.session, _draft(ctx), q.from_user.id, recipient_id
        ),
    )
    if done is None:
        return ORD_FOR
    await answer(q)
    return await ask_category(update, await ctx.gettext(), edit=True)


async def ask_category(update: Update, _: Gettext, *, edit: bool) -> int:
    rows = [
        [
            Button(
                texts.CATEGORY_ICON[c] + " " + _(texts.CATEGORY[c]),
                CATEGORY.data(category=c),
            )
        ]
        for c in CATEGORY_BUTTONS
    ]
    rows.append(_cancel_row(_))
    text = _("What kind of errand?")
    if edit:
        await edit_or_send(update, text, inline(rows))
    else:
        assert update.effective_chat is not None
        await update.effective_chat.send_message(text, reply_markup=inline(rows))
    return ORD_CATEGORY


async def category_chosen(update: Update, ctx: AppContext) -> int:
    return await _record(
        update, ctx, "category", choice=CATEGORY.parse(pressed(update).data).category
    )


async def choice_given(update: Update, ctx: AppContext) -> int:
    q = pressed(update)
    value = CHOICE.parse(q.data).value
    assert ctx.user_data is not None
    key = ctx.user_data.get(STEP_KEY)
    if not key:
        await alert(update, (await ctx.gettext())(STALE))
        return ORD_STEP
    asked = ctx.user_data.get(ASKED_KEY)
    shown = getattr(q.message, "text", None)
    if asked and shown and asked not in shown:
        # A button of an earlier question (still on screen when the answer to it was typed):
        # the same choice may exist on the question now open ("否" twice), so it answers
        # nothing; its buttons go.
        await alert(update, (await ctx.gettext())(ANSWERED_BEFORE))
        await set_buttons(q, None)
        return ORD_STEP
    return await _record(update, ctx, key, choice=value)


async def input_given(update: Update, ctx: AppContext) -> int:
    """A typed answer, a photo (a list, a box, a prescription, a gas card) or a voice message."""
    msg = update.effective_message
    assert msg is not None and ctx.user_data is not None
    key = ctx.user_data.get(STEP_KEY)
    if not key:
        return ORD_STEP
    if msg.photo:
        return await _record(update, ctx, key, photo=msg.photo[-1].file_id, text=msg.caption)
    if msg.voice:
        return await _record(update, ctx, key, voice=msg.voice.file_id, text=msg.caption)
    return await _record(update, ctx, key, text=msg.text or "")


async def input_unsupported(update: Update, ctx: AppContext) -> int:
    _ = await ctx.gettext()
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
        async with unit_of_work(ctx) as w:
            _ = w._
            draft = await drafts.answer(
                ctx.rt, w.session, _draft(ctx), update.effective_user.id, key, **value
            )
    except Refused as e:  # the current question again, with why
        if key != "category" and await _reask(update, ctx, _, draft_id, key, e.render(_)):
            return ORD_STEP
        if update.callback_query:
            await alert(update, e.render(_))
        else:
            await respond(update, e.render(_))
        return ORD_STEP if key != "category" else ORD_CATEGORY
    if update.callback_query:
        await answer(update.callback_query)
    return await _next(update, ctx, _, draft)


async def _next(update: Update, ctx: AppContext, _: Gettext, draft: drafts.DraftView) -> int:
    assert ctx.user_data is not None
    step = draft.next_step
    # After an edit every question is answered, so the summary comes back; unless the edit
    # took one away (a time window that has ended for the new urgency): that is asked first.
    if step is None:
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
    new_message: bool = False,
) -> int:
    """Ask one question of the form (after ``note``, why the last answer did not fit). Only
    the choices still possible now are offered (no time window that has ended today)."""
    assert ctx.user_data is not None
    choices = form.offered(step, draft.answers, drafts.local_clock(ctx.rt))
    labels = [Button(_(c.label), CHOICE.data(value=c.value)) for c in choices]
    rows = [labels[i : i + 2] for i in range(0, len(labels), 2)]
    rows.append(_cancel_row(_))
    prompt = _(step.prompt_for(draft.entered_by is not None))  # taken by phone: "the household"
    text = prompt
    if step.key == "description" and draft.category:
        text = _(texts.CATEGORY[draft.category]) + "\n" + text
    if note:
        text = note + "\n\n" + text
    if update.callback_query and not new_message:
        await edit_or_send(update, text, inline(rows))
    else:
        assert update.effective_chat is not None
        await update.effective_chat.send_message(text, reply_markup=inline(rows))
    # Only now does the form wait for this answer: had the question failed to go out (or to
    # the outbox), the person's next message still answers the question they last saw.
    ctx.user_data[STEP_KEY] = step.key
    ctx.user_data[ASKED_KEY] = prompt  # which question the buttons now belong to
    return ORD_STEP


# The hand-over toggle, by whether the order is the person's own or taken by phone.
_DOOR_WORDS = {
    False: {True: N_("🤝 Hand it to me in person"), False: N_("🚪 Leave it at my door")},
    True: {
        True: N_("🤝 Hand it to the resident in person"),
        False: N_("🚪 Leave it at the resident's door"),
    },
}


async def _summary(
    update: Update, ctx: AppContext, _: Gettext, d: drafts.DraftView, *, new_message: bool = False
) -> int:
    assert update.effective_user is not None and d.category is not None
    async with ctx.rt.db.read() as s:
        if d.entered_by is not None:  # taken by phone (电话点单) for this household
            me = await residents.get_by_id(s, d.resident_id)
            others = {}
        else:
            me = await residents.get(s, update.effective_user.id)
            others = {r.id: r for r in await residents.recipients_of(s, update.effective_user.id)}
        assert me is not None
        who = others.get(d.recipient_id) if d.recipient_id else None
        # The building's status may leave it at its distribution point (issue 17).
        pickup = await building_status.pickup_of_building(
            ctx.rt, s, who.building_id if who else me.building_id
        )
    what = d.description or ""
    if d.photo:
        what += " " + _("(with a photo)")
    if d.voice:
        what += " " + _("(voice message)")
    answers = d.answers
    urgency = d.urgency or "normal"
    # Home isolation replaces a hand-over she chose: say so here, where she chose it.
    isolated = me.isolation_until if isolating(me.isolation_until, ctx.rt.today()) else None
    by_phone = d.entered_by is not None  # said of the household, not to "you"
    lines = [
        _("Please check the order taken by phone:") if by_phone else _("Please check your order:"),
        "",
        *(
            [_("📞 By phone for {name} ({phone})").format(name=me.name, phone=me.phone)]
            if by_phone
            else []
        ),
        _("Kind: {kind}").format(kind=_(texts.CATEGORY[d.category])),
        _("What: {what}").format(what=what.strip()),
        _("Urgency: {u}").format(u=_(texts.URGENCY[urgency])),
        *texts.detail_lines(
            d.category,
            answers,
            d.doorstep or isolated is not None,
            _,
            runner=by_phone,
            pickup=pickup,
        ),
        _("Deliver to: {address}").format(
            address=(
                _(texts.PERSON_AT).format(name=who.name, address=who.address) if who else me.address
            )
        ),
    ]
    if isolated is not None:
        lines.append(on_the_form(isolated, _))
    edits = [
        Button("✏️ " + _(form.LABELS[st.key]), EDIT.data(key=st.key))
        for st in form.steps_for(d.category)
    ]
    rows = [
        [Button(_("✅ Send the order"), SEND.data(draft_id=d.id))],
        [Button(_("🔁 Send it, and repeat it regularly"), SEND_REPEAT.data(draft_id=d.id))],
    ]
    rows += [edits[i : i + 3] for i in range(0, len(edits), 3)]
    if isolated is None:
        rows.append([Button(_(_DOOR_WORDS[by_phone][bool(d.doorstep)]), DOORSTEP.data())])
    rows.append(_cancel_row(_))
    if ctx.user_data is not None:
        ctx.user_data.pop(STEP_KEY, None)
        ctx.user_data.pop(ASKED_KEY, None)
    text = "\n".join(lines)
    if update.callback_query and not new_message:
        await edit_or_send(update, text, inline(rows))
    else:
        assert update.effective_chat is not None
        await update.effective_chat.send_message(text, reply_markup=inline(rows))
    return ORD_CONFIRM


async def edit_step(update: Update, ctx: AppContext) -> int:
    """✏️ on the summary: ask that question again, then come back to the summary."""
    q = pressed(update)
    key = EDIT.parse(q.data).key
    assert ctx.user_data is not None
    _ = await ctx.gettext()
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
    q = pressed(update)
    d = await attempt(
        update,
        ctx,
        lambda w: drafts.toggle_doorstep(ctx.rt, w.session, _draft(ctx), q.from_user.id),
    )
    if d is None:
        return ORD_CONFIRM
    await answer(q)
    return await _summary(update, ctx, await ctx.gettext(), d)


async def order_confirmed(update: Update, ctx: AppContext) -> int:
    """Also registered outside the conversation: a confirm pressed after a restart still works,
    and a repeated press returns the same order (the draft is claimed once)."""
    await _send(update, ctx, SEND.parse(pressed(update).data).draft_id)
    return ConversationHandler.END


async def order_confirmed_repeating(update: Update, ctx: AppContext) -> int:
    """🔁 on the summary: sent as ✅ does, then how often to repeat it (the setup of a
    finished order's 🔁, for this new order)."""
    q = pressed(update)
    sent = await _send(update, ctx, SEND_REPEAT.parse(q.data).draft_id)
    if sent is not None:
        # Through the outbox, so that it comes after the order's card (queued when it was sent).
        async with unit_of_work(ctx) as w:
            await tell(ctx.rt, w.session, q.from_user.id, lambda _: repeat_setup.how_often(sent, _))
    return ConversationHandler.END


async def _send(update: Update, ctx: AppContext, draft_id: int) -> OrderView | None:
    q = pressed(update)
    result = await attempt(
        update, ctx, lambda w: drafts.submit_draft(ctx.rt, w.session, draft_id, q.from_user.id)
    )
    if result is None:
        return None
    if ctx.user_data is not None:
        for key in (DRAFT_KEY, STEP_KEY, EDITING_KEY, ASKED_KEY):
            ctx.user_data.pop(key, None)
    _ = await ctx.gettext()
    await answer(q, _("Sent. Your order's card is below; it shows each step."))
    # The summary stays as the record of what was asked, its first line saying it was sent;
    # the order's live card comes through the outbox (bot/services/orders/cards.py).
    summary = getattr(q.message, "text", None)
    if summary:
        rest = summary.split("\n", 1)[1] if "\n" in summary else ""
        sent = "✅ " + _("Sent as order #{id}:").format(id=result.order.id)
        await edit_or_send(update, sent + "\n" + rest, None)
    else:
        await set_buttons(q, None)
    return result.order


async def order_again(update: Update, ctx: AppContext) -> int | None:
    """🔁 on a finished order: the same answers in a new form, shown for checking."""
    q = pressed(update)
    order_id = AGAIN.parse(q.data).order_id

    async def copy(w: Work) -> drafts.DraftView:
        return await drafts.copy_order(ctx.rt, w.session, order_id, q.from_user.id)

    d = await attempt(update, ctx, copy)
    if d is None:
        # Refused (alerted): None leaves the conversation as it was, so a form in progress
        # goes on and, outside one, none starts.
        return None
    assert ctx.user_data is not None
    ctx.user_data[DRAFT_KEY] = d.id
    await answer(q)
    # A new message: the pressed one stays as the record of the old order. A question the
    # copy left open (its time window has ended today) is asked first.
    _ = await ctx.gettext()
    if d.next_step is not None:
        return await _ask(update, ctx, _, d, d.next_step, new_message=True)
    return await _summary(update, ctx, _, d, new_message=True)


# The order form's exits: ✖️ and /cancel (and /start) stop it, also after a restart.
EXITS = form_exits(
    commands=("cancel", "start"),
    stop_button=STOP,
    prefix="d",
    stray_message=N_("Please use the buttons above to continue, or /cancel to stop."),
)


def outside_handlers() -> list[Any]:
    """✅ and ✖️ of a form whose conversation was lost (a restart, a timeout): a confirm still
    sends the order (once), a cancel still stops it."""
    return [
        SEND.handler(order_confirmed),
        SEND_REPEAT.handler(order_confirmed_repeating),
        STOP.handler(EXITS.stopper),
    ]
