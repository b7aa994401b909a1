"""What a resident types or sends outside any conversation while an order of theirs is under
way (registered just before the catch-all "I did not understand"): kept, then offered to the
volunteer ("send this to 王刚?"), or, with several orders, which one; an order nobody has
taken yet keeps it for its runner. Buttons: li:to:<input>:<order> and li:no:<input>."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, MessageHandler

from bot.buttons import Button, Rows, input_action
from bot.i18n import N_, Gettext
from bot.services import resident_inputs
from bot.services.orders import texts
from bot.services.orders.views import OrderView
from bot.services.resident_inputs import Kept
from handlers import fallbacks
from handlers.answers import (
    answer,
    drop_buttons,
    edit_or_send,
    is_private,
    pressed,
    pressed_label,
    set_buttons,
)
from handlers.callback_data import ID, Callback
from handlers.context import AppContext
from handlers.keyboards import PRIVATE_OTHER, inline
from handlers.work import Work, attempt, reading

SEND_TO = Callback("li", "to", input_id=ID, order_id=ID)  # bot.buttons.input_action makes them
NOT_SENT = Callback("li", "no", input_id=ID)

OFFER_ONE = N_("Send this to {name}, the volunteer running {title}?")
OFFER_WHICH = N_("Which order is this about? I will pass it on to its volunteer.")
HELD_ONE = N_(
    "Nobody has taken {title} yet. I have kept your message: the volunteer who takes it "
    "will get it."
)
SEND_BUTTON = N_("📨 Send to the volunteer")
NO_BUTTON = N_("No, do not send it")
TAKE_BACK = N_("Do not pass it on")
FOR_RUNNER = N_("{title}: keep it for whoever takes it")
SENT = N_("Sent to {name} ✓")
KEPT = N_("Kept: the volunteer who takes {title} will get it.")
DROPPED = N_("All right, I have not passed it on.")
ONLY_TEXT_OR_PHOTO = N_(
    "I can pass on only text or a photo to the volunteer. Please type your message, or send "
    "a photo."
)


async def resident_input(update: Update, ctx: AppContext) -> None:
    """Text or a photo nobody asked for, in a private chat: offered to the volunteer of an
    order under way; without one, the catch-all's hint."""
    msg = update.effective_message
    user = update.effective_user
    if not is_private(update) or msg is None or user is None:
        return
    photo = msg.photo[-1].file_id if msg.photo else None
    # A caption counts only with its photo: a captioned file is not passed on half.
    text = msg.text if msg.text is not None else (msg.caption if photo else None)
    if text is None and photo is None:
        await _other(update, ctx)
        return

    async def keep(w: Work) -> tuple[Kept | None]:
        return (await resident_inputs.keep(ctx.rt, w.session, user.id, text, photo),)

    found = await attempt(update, ctx, keep)
    if found is None:
        return  # refused (too long): told why
    kept = found[0]
    if kept is None:
        await fallbacks.unexpected_input(update, ctx)
        return
    _ = await ctx.gettext()
    question, rows = offer(kept, _)
    await msg.reply_text(question, reply_markup=inline(rows))


async def _other(update: Update, ctx: AppContext) -> None:
    """A voice message, a sticker, a file...: the relay carries only text and photos. With an
    order under way she is told so (not "I did not understand"); else the catch-all's hint."""
    user = update.effective_user
    msg = update.effective_message
    assert user is not None and msg is not None
    async with reading(ctx) as w:
        orders = await resident_inputs.under_way(w.session, user.id)
        _ = w._
    if not orders:
        await fallbacks.unexpected_input(update, ctx)
        return
    await msg.reply_text(_(ONLY_TEXT_OR_PHOTO))


def offer(kept: Kept, _: Gettext) -> tuple[str, Rows]:
    """The question and its buttons: held already, send to the one runner, or which order."""
    no = Button(_(NO_BUTTON), input_action("no", kept.input_id))
    if kept.held_for is not None:
        held = kept.held_for
        take_back = Button(_(TAKE_BACK), input_action("no", kept.input_id))
        return _(HELD_ONE).format(title=texts.title(held, _)), [[take_back]]
    if len(kept.orders) == 1:
        o = kept.orders[0]
        send = Button(_(SEND_BUTTON), input_action("to", kept.input_id, o.id))
        question = _(OFFER_ONE).format(name=o.volunteer_first_name, title=texts.title(o, _))
        return question, [[send], [no]]
    rows: Rows = [
        [Button(_order_label(o, _), input_action("to", kept.input_id, o.id))] for o in kept.orders
    ]
    return _(OFFER_WHICH), [*rows, [no]]


def _order_label(o: OrderView, _: Gettext) -> str:
    if o.volunteer_name:
        return f"{texts.title(o, _)} → {o.volunteer_first_name}"
    return _(FOR_RUNNER).format(title=texts.title(o, _))


async def send_to(update: Update, ctx: AppContext) -> None:
    """li:to: pass it on about that order (relayed now, or held for its runner)."""
    q = pressed(update)
    data = SEND_TO.parse(q.data)
    done = await attempt(
        update,
        ctx,
        lambda w: resident_inputs.decide(
            ctx.rt, w.session, data.input_id, q.from_user.id, data.order_id
        ),
    )
    if done is None:
        await _offer_as_it_stands(update, ctx, data.input_id)
        return
    _ = await ctx.gettext()
    await answer(q)
    o = done.order
    assert o is not None
    if done.outcome == resident_inputs.RELAYED:
        said = _(SENT).format(name=o.volunteer_first_name)
    else:
        said = _(KEPT).format(title=texts.title(o, _))
    await edit_or_send(update, said, None)


async def not_sent(update: Update, ctx: AppContext) -> None:
    """li:no: not passed on (and taken back if it was held for a runner)."""
    q = pressed(update)
    input_id = NOT_SENT.parse(q.data).input_id
    done = await attempt(
        update,
        ctx,
        lambda w: resident_inputs.decide(ctx.rt, w.session, input_id, q.from_user.id, None),
    )
    if done is None:
        await _offer_as_it_stands(update, ctx, input_id)
        return
    _ = await ctx.gettext()
    await answer(q)
    await edit_or_send(update, _(DROPPED), None)


async def _offer_as_it_stands(update: Update, ctx: AppContext, input_id: int) -> None:
    """A refused press (decided already, passed on, the order finished meanwhile): the offer
    loses every button once the message is decided, else only the one pressed."""
    q = pressed(update)
    if pressed_label(q) is None:
        return  # not on this message: forged or replayed, nothing to show
    async with ctx.rt.db.read() as s:
        open_ = await resident_inputs.undecided(s, input_id, q.from_user.id)
    if open_:
        await drop_buttons(q, str(q.data), exact=True)
    else:
        await set_buttons(q, None)


def resident_input_handlers() -> list[CallbackQueryHandler[AppContext, None]]:
    """The buttons, and the text/photo handler (to be registered last but the catch-all)."""
    return [SEND_TO.handler(send_to), NOT_SENT.handler(not_sent)]


def input_handler() -> MessageHandler[AppContext, None]:
    # Not the menu's labels (PRIVATE_OTHER): they are buttons, whatever handles them.
    return MessageHandler(PRIVATE_OTHER, resident_input)
