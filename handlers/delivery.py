"""Proof of delivery: 📦 on the runner's card (o:done:<id>) asks for a photo of the goods at the
door, then what was spent and a photo of the receipt, and only then marks the task delivered,
in one service call (transitions.deliver). The [delivery] config says which questions are asked;
with none, 📦 delivers at once. /cancel or ✖️ leaves the task on the way, nothing changed."""

from __future__ import annotations

from typing import Any

from telegram import Message, Update
from telegram.error import BadRequest
from telegram.ext import (
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.buttons import Button
from bot.errors import STALE, Refused
from bot.i18n import N_, Gettext
from bot.services import amounts
from bot.services.orders import texts, transitions
from bot.services.orders.views import OrderView
from handlers.answers import alert, answer, edit_or_send, is_private, pressed, set_buttons
from handlers.callback_data import ID, Callback
from handlers.context import AppContext
from handlers.conversation_exits import Handler, conversation_exits
from handlers.keyboards import PRIVATE_MESSAGE, PRIVATE_OTHER, PRIVATE_TEXT, inline
from handlers.volunteer import card_as_it_is
from handlers.work import Work, attempt, unit_of_work

DELIVER_PHOTO, DELIVER_AMOUNT, DELIVER_RECEIPT = range(40, 43)
DELIVER_KEY = "deliver"
DONE_BUTTON = Callback("o", "done", order_id=ID)
SKIP_BUTTON = Callback("dl", "skip", order_id=ID)
STOP_BUTTON = Callback("dl", "stop", order_id=ID)

ASK_PHOTO = N_("📷 Please send a photo of the goods at the door.")
ASK_AMOUNT = N_("How much did you spend? (a number such as 35.5; 0 if nothing to pay)")
ASK_RECEIPT = N_("🧾 Send a photo of the receipt, or press Skip")
SKIP = N_("Skip")
STOP = N_("✖️ Stop")
PHOTO_ONLY = N_(
    "I need a photo here: please send it as a photo (not as a file or a sticker), "
    "or /cancel to stop."
)
AMOUNT_AS_TEXT = N_(
    "Please type the amount as a number, such as 35.5 (0 if nothing to pay), or /cancel to stop."
)
RECEIPT_ONLY = N_("Please send the receipt as a photo, or press Skip. /cancel stops.")
STOPPED = N_("Stopped: task #{id} is not marked delivered; it is still on the way.")
TIMED_OUT = N_(
    "No answer for a long time: task #{id} is not marked delivered; it is still on the way. "
    "Press 📦 on its card again when you are at the door."
)
DELIVERED = N_("✅ Task #{id} is marked delivered.")
THANKS = N_("Thank you! The resident has been told to take it in.")

# PRIVATE_TEXT and PRIVATE_OTHER leave the menu's reply-keyboard labels working during the
# questions.
_PHOTO = PRIVATE_MESSAGE & filters.PHOTO


def _data(ctx: AppContext) -> dict[str, Any]:
    assert ctx.user_data is not None
    data: dict[str, Any] = ctx.user_data.setdefault(DELIVER_KEY, {})
    return data


def _forget(ctx: AppContext) -> None:
    if ctx.user_data is not None:
        ctx.user_data.pop(DELIVER_KEY, None)


def _stop_row(order_id: int, _: Gettext) -> list[Button]:
    return [Button(_(STOP), STOP_BUTTON.data(order_id=order_id))]


async def _ask(update: Update, question: str, rows: list[list[Button]]) -> None:
    chat = update.effective_chat
    assert chat is not None
    await chat.send_message(question, reply_markup=inline(rows))


async def deliver_start(update: Update, ctx: AppContext) -> int | None:
    """o:done:<id>: is this the runner, is the task on the way? Then the first question (or,
    with no proof asked, delivered at once)."""
    q = pressed(update)
    order_id = DONE_BUTTON.parse(q.data).order_id

    async def start(w: Work) -> tuple[transitions.ProofNeeded, OrderView | None]:
        if not is_private(update):
            raise Refused(STALE)
        need = await transitions.proof_needed(ctx.rt, w.session, order_id, q.from_user.id)
        if need.any:
            return need, None
        shown_in = q.message.message_id if q.message else None
        return need, await transitions.deliver(
            ctx.rt, w.session, order_id, q.from_user.id, shown_in=shown_in
        )

    started = await attempt(update, ctx, start)
    if started is None:
        # A delivery already under way goes on; an older card shows the task as it is now.
        await card_as_it_is(update, ctx, order_id)
        return None
    need, delivered = started
    _ = await ctx.gettext()
    assert ctx.user_data is not None
    await answer(q)
    if delivered is not None:
        text, rows = texts.runner_card(delivered, _, ctx.rt.timezone)
        await edit_or_send(update, text + "\n\n" + _(THANKS), inline(rows))
        _forget(ctx)
        return ConversationHandler.END
    ctx.user_data[DELIVER_KEY] = {
        "order_id": order_id,
        "card": q.message.message_id if isinstance(q.message, Message) else None,
        "ask_amount": need.amount,
    }
    title = texts.title(need.order, _)
    if need.doorstep_photo:
        await _ask(update, title + "\n" + _(ASK_PHOTO), [_stop_row(order_id, _)])
        return DELIVER_PHOTO
    await _ask(update, title + "\n" + _(ASK_AMOUNT), [_stop_row(order_id, _)])
    return DELIVER_AMOUNT


async def got_doorstep_photo(update: Update, ctx: AppContext) -> int:
    msg = update.effective_message
    assert msg is not None
    data = _data(ctx)
    data["doorstep_photo"] = msg.photo[-1].file_id
    if not data.get("ask_amount"):
        return await _finish(update, ctx)
    _ = await ctx.gettext()
    await _ask(update, _(ASK_AMOUNT), [_stop_row(int(data.get("order_id", 0)), _)])
    return DELIVER_AMOUNT


async def not_a_photo(update: Update, ctx: AppContext) -> int:
    _ = await ctx.gettext()
    if update.effective_message:
        await update.effective_message.reply_text(_(PHOTO_ONLY))
    return DELIVER_PHOTO


async def got_amount(update: Update, ctx: AppContext) -> int:
    msg = update.effective_message
    assert msg is not None
    _ = await ctx.gettext()
    try:
        fen = amounts.parse_fen(msg.text or "")
    except Refused as e:
        await msg.reply_text(e.render(_))
        return DELIVER_AMOUNT
    data = _data(ctx)
    data["amount_fen"] = fen
    if fen == 0:  # nothing bought, no receipt to show
        return await _finish(update, ctx)
    order_id = int(data.get("order_id", 0))
    await _ask(
        update,
        _("Spent: ¥{amount}.").format(amount=amounts.yuan(fen)) + "\n" + _(ASK_RECEIPT),
        [[Button(_(SKIP), SKIP_BUTTON.data(order_id=order_id))], _stop_row(order_id, _)],
    )
    return DELIVER_RECEIPT


async def not_an_amount(update: Update, ctx: AppContext) -> int:
    _ = await ctx.gettext()
    if update.effective_message:
        await update.effective_message.reply_text(_(AMOUNT_AS_TEXT))
    return DELIVER_AMOUNT


async def got_receipt(update: Update, ctx: AppContext) -> int:
    msg = update.effective_message
    assert msg is not None
    _data(ctx)["receipt_photo"] = msg.photo[-1].file_id
    return await _finish(update, ctx)


async def skip_receipt(update: Update, ctx: AppContext) -> int | None:
    q = update.callback_query
    assert q is not None and q.data is not None
    if not _this_delivery(ctx, SKIP_BUTTON, q.data):
        await alert(update, (await ctx.gettext())(STALE))
        return None
    await answer(q)
    if q.message is not None:  # the Skip button has done its work
        await set_buttons(q, None)
    return await _finish(update, ctx)


async def not_a_receipt(update: Update, ctx: AppContext) -> int:
    _ = await ctx.gettext()
    if update.effective_message:
        await update.effective_message.reply_text(_(RECEIPT_ONLY))
    return DELIVER_RECEIPT


def _this_delivery(ctx: AppContext, button: Callback, data: str | None) -> bool:
    """A dl: button belongs to the delivery under way (not to an older one)."""
    order_id = _data(ctx).get("order_id")
    return order_id is not None and data == button.data(order_id=order_id)


async def _finish(update: Update, ctx: AppContext) -> int:
    """Everything asked is here: one service call marks the task delivered with its proof."""
    chat = update.effective_chat
    user = update.effective_user
    assert chat is not None and user is not None
    data = _data(ctx)
    order_id = int(data.get("order_id", 0))
    try:
        async with unit_of_work(ctx) as w:
            _ = w._
            v = await transitions.deliver(
                ctx.rt,
                w.session,
                order_id,
                user.id,
                doorstep_photo=data.get("doorstep_photo"),
                amount_fen=data.get("amount_fen"),
                receipt_photo=data.get("receipt_photo"),
                shown_in=data["card"] if isinstance(data.get("card"), int) else None,
            )
    except Refused as e:
        _forget(ctx)
        await chat.send_message(e.render(_))
        return ConversationHandler.END
    _forget(ctx)
    text, rows = texts.runner_card(v, _, ctx.rt.timezone)
    card = text + "\n\n" + _(THANKS)
    edited = False
    if isinstance(data.get("card"), int):
        try:
            await ctx.bot.edit_message_text(
                card, chat_id=chat.id, message_id=data["card"], reply_markup=inline(rows)
            )
            edited = True
        except BadRequest:
            edited = False
    done = _(DELIVERED).format(id=v.id)
    spent = texts.spent_line(v, _)
    await chat.send_message(
        "\n".join(part for part in (done, spent, "" if edited else card) if part)
    )
    return ConversationHandler.END


async def deliver_stop(update: Update, ctx: AppContext) -> int | None:
    """/cancel or ✖️: nothing is written; the task stays on the way."""
    _ = await ctx.gettext()
    q = update.callback_query
    if q is not None:
        if not _this_delivery(ctx, STOP_BUTTON, q.data):
            await alert(update, _(STALE))
            return None
        await answer(q)
    order_id = _data(ctx).get("order_id", "")
    _forget(ctx)
    text = _(STOPPED).format(id=order_id)
    if q is not None:
        await edit_or_send(update, text, None)
    elif update.effective_message:
        await update.effective_message.reply_text(text)
    return ConversationHandler.END


async def deliver_timeout(update: Update, ctx: AppContext) -> None:
    """No answer for a long time: forget the answers, say the task is still on the way."""
    order_id = _data(ctx).get("order_id") if ctx.user_data is not None else None
    _forget(ctx)
    if update.effective_chat and order_id:
        ctx.forget()  # the context of an update long past: read the language afresh
        _ = await ctx.gettext()
        await update.effective_chat.send_message(_(TIMED_OUT).format(id=order_id))


def build_delivery_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    entry: list[Handler] = [DONE_BUTTON.handler(deliver_start)]
    # Only this conversation's own prefix is stray: the card's other buttons still work.
    exits = conversation_exits(
        forget=(DELIVER_KEY,),
        stop=deliver_stop,
        stop_button=STOP_BUTTON,
        prefix="dl",
        on_timeout=deliver_timeout,
    )
    return ConversationHandler(
        entry_points=entry,
        states={
            DELIVER_PHOTO: [
                MessageHandler(_PHOTO, got_doorstep_photo),
                MessageHandler(PRIVATE_OTHER, not_a_photo),
            ],
            DELIVER_AMOUNT: [
                MessageHandler(PRIVATE_TEXT, got_amount),
                MessageHandler(PRIVATE_OTHER, not_an_amount),
            ],
            DELIVER_RECEIPT: [
                MessageHandler(_PHOTO, got_receipt),
                SKIP_BUTTON.handler(skip_receipt),
                MessageHandler(PRIVATE_OTHER, not_a_receipt),
            ],
            **exits.timeout,
        },
        fallbacks=[*exits.stop, *entry, *exits.stray],
        name="delivery_proof",
        allow_reentry=True,
        persistent=True,
        conversation_timeout=timeout_s,
    )
