"""Paying the runner back: /payqr (a volunteer keeps, replaces or removes the picture of their
payment QR code), the resident's ✅ I have paid (pay:paid:<id>), the runner's 💰 Money received
(pay:got:<id>), and staff's /unpaid. The service is bot/services/payments.py."""

from __future__ import annotations

from typing import Any

from telegram import CallbackQuery, Update
from telegram.ext import CommandHandler, ConversationHandler, MessageHandler, filters

from bot.buttons import Button
from bot.i18n import N_
from bot.services import payments
from bot.services.amounts import yuan
from bot.services.orders import texts
from handlers.answers import (
    answer,
    drop_buttons,
    is_private,
    pressed,
    pressed_label,
    set_buttons,
)
from handlers.callback_data import ID, Callback
from handlers.context import AppContext
from handlers.conversation_exits import Handler, conversation_exits
from handlers.keyboards import PRIVATE_MESSAGE, PRIVATE_OTHER, inline
from handlers.work import Work, attempt

PAID = Callback("pay", "paid", order_id=ID)
GOT = Callback("pay", "got", order_id=ID)
QR_REMOVE = Callback("pq", "rm")
QR_STOP = Callback("pq", "stop")

PAYQR_PHOTO = 60
PAYQR_KEY = "payqr"

ASK_QR = N_(
    "Send a photo of your payment QR code (the WeChat or Alipay code for receiving money). "
    "When you deliver with an amount, the resident sees it privately with what they owe you; "
    "it is never shown in a group."
)
HAVE_QR = N_(
    "This is your payment QR code. Residents you deliver to see it privately with what they "
    "owe you. Send a new photo to replace it, or remove it."
)
QR_SAVED = N_("✅ Your payment QR code is saved. Residents will see it with the amount they owe.")
QR_REMOVED = N_("Your payment QR code is removed. Residents will be asked to pay you as you say.")
QR_PHOTO_ONLY = N_("Please send the QR code as a photo, or /cancel to stop.")
QR_STOPPED = N_("Stopped. Your payment QR code is unchanged.")
REMOVE = N_("🗑 Remove it")
STOP = N_("✖️ Stop")


async def payqr_start(update: Update, ctx: AppContext) -> int | None:
    """/payqr: the code kept now (its picture), and the question for a new one."""
    assert update.effective_user is not None and update.effective_chat is not None
    uid = update.effective_user.id
    qr = await attempt(update, ctx, lambda w: _current(w, uid))
    if qr is None:
        return ConversationHandler.END
    _ = await ctx.gettext()
    stop = [Button(_(STOP), QR_STOP.data())]
    if qr:
        rows = [[Button(_(REMOVE), QR_REMOVE.data())], stop]
        await update.effective_chat.send_photo(qr, caption=_(HAVE_QR), reply_markup=inline(rows))
    else:
        await update.effective_chat.send_message(_(ASK_QR), reply_markup=inline([stop]))
    return PAYQR_PHOTO


async def _current(w: Work, uid: int) -> str:
    return await payments.qr_of(w.session, uid) or ""


async def payqr_photo(update: Update, ctx: AppContext) -> int:
    msg = update.effective_message
    assert msg is not None and update.effective_user is not None
    file_id = msg.photo[-1].file_id
    uid = update.effective_user.id
    done = await attempt(update, ctx, lambda w: payments.set_qr(ctx.rt, w.session, uid, file_id))
    if done:  # else attempt has said why
        await msg.reply_text((await ctx.gettext())(QR_SAVED))
    return ConversationHandler.END


async def payqr_removed(update: Update, ctx: AppContext) -> int:
    q = pressed(update)
    uid = q.from_user.id
    if not await attempt(update, ctx, lambda w: payments.set_qr(ctx.rt, w.session, uid, None)):
        return ConversationHandler.END
    _ = await ctx.gettext()
    await answer(q)
    await set_buttons(q, None)
    if update.effective_chat:
        await update.effective_chat.send_message(_(QR_REMOVED))
    return ConversationHandler.END


async def payqr_not_a_photo(update: Update, ctx: AppContext) -> int:
    _ = await ctx.gettext()
    if update.effective_message:
        await update.effective_message.reply_text(_(QR_PHOTO_ONLY))
    return PAYQR_PHOTO


def build_payqr_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    entry: list[Handler] = [CommandHandler("payqr", payqr_start, filters=filters.ChatType.PRIVATE)]
    exits = conversation_exits(
        forget=(PAYQR_KEY,),
        stop_button=QR_STOP,
        stopped=QR_STOPPED,
        edit_on_stop=False,  # the message may be the QR picture: a caption, not a text
        prefix="pq",
    )
    return ConversationHandler(
        entry_points=entry,
        states={
            PAYQR_PHOTO: [
                MessageHandler(PRIVATE_MESSAGE & filters.PHOTO, payqr_photo),
                QR_REMOVE.handler(payqr_removed),
                MessageHandler(PRIVATE_OTHER, payqr_not_a_photo),
            ],
            **exits.timeout,
        },
        fallbacks=[*exits.stop, *entry, *exits.stray],
        name="payqr",
        allow_reentry=True,
        persistent=True,
        conversation_timeout=timeout_s,
    )


# --- the two presses ----------------------------------------------------------------------------


async def _drop_pay_buttons(q: CallbackQuery) -> None:
    """The pressed message's pay: buttons have done their work, or no longer apply (paid or
    received already, by this press or the other side's); its others (on an order's card)
    stay."""
    await drop_buttons(q, "pay:")


async def paid_pressed(update: Update, ctx: AppContext) -> None:
    """pay:paid:<id>: the resident says they paid; recorded once, the runner told."""
    q = pressed(update)
    order_id = PAID.parse(q.data).order_id
    v = await attempt(
        update, ctx, lambda w: payments.mark_paid(ctx.rt, w.session, order_id, q.from_user.id)
    )
    if v is None:  # refused (paid before, received already): the button goes
        if pressed_label(q) is not None:
            await _drop_pay_buttons(q)
        return
    _ = await ctx.gettext()
    await answer(q)
    await _drop_pay_buttons(q)
    if update.effective_chat and is_private(update):
        await update.effective_chat.send_message(
            _("✅ Noted: you paid ¥{amount} for {title}. {name} will confirm receiving it.").format(
                amount=yuan(v.amount_spent_fen or 0),
                title=texts.title(v, _),
                name=v.volunteer_first_name,
            )
        )


async def got_pressed(update: Update, ctx: AppContext) -> None:
    """pay:got:<id>: the runner has the money; recorded once, the resident thanked."""
    q = pressed(update)
    order_id = GOT.parse(q.data).order_id
    v = await attempt(
        update,
        ctx,
        lambda w: payments.confirm_received(ctx.rt, w.session, order_id, q.from_user.id),
    )
    if v is None:  # refused (received already): the button goes
        if pressed_label(q) is not None:
            await _drop_pay_buttons(q)
        return
    _ = await ctx.gettext()
    await answer(q)
    await _drop_pay_buttons(q)
    if update.effective_chat and is_private(update):
        await update.effective_chat.send_message(
            _("✅ Noted: you received ¥{amount} for {title}. Thank you!").format(
                amount=yuan(v.amount_spent_fen or 0), title=texts.title(v, _)
            )
        )


async def unpaid_command(update: Update, ctx: AppContext) -> None:
    """/unpaid (staff): deliveries whose money the runner has not confirmed receiving."""
    assert update.effective_user is not None and update.effective_chat is not None
    uid = update.effective_user.id
    u = await attempt(update, ctx, lambda w: payments.unpaid(ctx.rt, w.session, uid))
    if u is None:
        return
    _ = await ctx.gettext()
    await update.effective_chat.send_message(payments.unpaid_text(u, _, ctx.rt.timezone))


def payment_handlers() -> list[Any]:
    return [
        PAID.handler(paid_pressed),
        GOT.handler(got_pressed),
        CommandHandler("unpaid", unpaid_command, filters=filters.ChatType.PRIVATE),
    ]
