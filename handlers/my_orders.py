"""📋 My orders and the buttons of the resident's live card of an order
(``bot/services/orders/cards.py``), one callback each (``o:<verb>:<order id>[:<arg>]``): ✅
received, ✖️ cancel (asked first, in a message of its own, so the card stays), ⚠️ a problem,
⭐ thanks. A press on any message about the order that is not its card (an old card, an old
status message, an old question) acts on nothing: the card is sent anew, as it is now, and the
pressed message loses its buttons. A runner pressing an old resident's button gets the
runner's card."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.buttons import Button, Rows
from bot.errors import STALE
from bot.i18n import N_, Gettext
from bot.services.orders import cards, resident_moves, texts, views
from bot.services.orders.views import OrderView
from handlers import repeats
from handlers.answers import alert, answer, edit_or_send, pressed, set_buttons
from handlers.callback_data import ID, Callback, Field, one_of
from handlers.context import AppContext
from handlers.keyboards import MENU_MY_ORDERS, inline, label_pattern, main_menu, menu_for
from handlers.work import attempt, reading, unit_of_work

RECEIVED = Callback("o", "ok", order_id=ID)
CANCEL = Callback("o", "cancel", order_id=ID)
# "Yes, cancel it", with the status the question was asked in: its warning was about that.
CANCEL_CONFIRMED = Callback("o", "cxl", order_id=ID, seen=one_of(texts.STATUS))
# The same without a status: only on messages sent before the live card (answered with it).
OLD_CANCEL_CONFIRMED = Callback("o", "cxl", order_id=ID)
KEEP = Callback("o", "keep", order_id=ID)
DETAIL = Callback("o", "detail", order_id=ID)
PROBLEM = Callback("o", "prob", order_id=ID)
PROBLEM_CHOSEN = Callback("o", "prob", order_id=ID, kind=one_of(texts.PROBLEMS))
THANK = Callback("o", "thank", order_id=ID)
RATED = Callback("o", "rate", order_id=ID, stars=Field("[1-5]", int))

OUT_OF_DATE = N_("This message is out of date. Your order as it is now is below.")
KEPT = N_("Good, {title} goes on.")


async def my_orders(update: Update, ctx: AppContext) -> None:
    """Open orders first, then the most recent finished ones: each one's live card, sent
    anew at the bottom of the chat (the older copy loses its buttons)."""
    assert update.effective_user is not None and update.effective_chat is not None
    async with reading(ctx) as w:
        _ = w._
        mine = await views.orders_of_resident(w.session, update.effective_user.id, limit=20)
    # Staff and volunteers who also order keep their own menu (it has 📝 and 📋 too).
    menu = menu_for(await ctx.person(), _) or main_menu(_)
    if not mine:
        await update.effective_chat.send_message(
            _("You have no orders yet. Press 📝 Order to ask for an errand."),
            reply_markup=menu,
        )
        return
    under_way = [o for o in mine if o.status not in ("confirmed", "cancelled", "unfulfillable")]
    done = [o for o in mine if o not in under_way][: max(0, 5 - len(under_way))]
    await update.effective_chat.send_message(
        _("Your orders: {n} under way.").format(n=len(under_way)), reply_markup=menu
    )
    async with unit_of_work(ctx) as w:
        # Oldest first, so that the newest order's card is the last in the chat.
        for o in reversed(under_way + done):
            await cards.show(ctx.rt, w.session, o.id, anew=True)
    # Then the household's repeating orders, each with ⏸ / ▶️ / ✖️ (handlers/repeats.py).
    await repeats.show_list(update, ctx)


async def _show(update: Update, screen: tuple[str, Rows]) -> None:
    text, rows = screen
    await edit_or_send(update, text, inline(rows))


async def _ask(update: Update, text: str, rows: Rows) -> None:
    """A question about the order, as a new message under the card (which stays as it is)."""
    assert update.effective_chat is not None
    await update.effective_chat.send_message(text, reply_markup=inline(rows))


async def _card_anew(update: Update, ctx: AppContext, order_id: int, note: str | None) -> None:
    """The order's card sent anew, as it is now, for a press that must not act (``note``: a
    toast saying so); the pressed message keeps its text and loses its buttons."""
    q = pressed(update)
    async with unit_of_work(ctx) as w:
        await cards.show(ctx.rt, w.session, order_id, anew=True)
    if note is not None:
        await answer(q, note)
    await set_buttons(q, None)


# --- who pressed what: the card, an older message, or the runner ----------------------------


async def _seen(
    update: Update, ctx: AppContext, button: Callback
) -> tuple[OrderView, bool, Gettext] | None:
    """The pressed order, whether the presser is its resident (else its runner), and their
    gettext; None, after the stale-button alert, for anyone else."""
    q = pressed(update)
    order_id = button.parse(q.data).order_id
    async with reading(ctx) as w:
        _ = w._
        v = await views.get_view(w.session, order_id)
    if v is None or q.from_user.id not in (v.resident_telegram_id, v.volunteer_telegram_id):
        await alert(update, _(STALE))
        return None
    return v, q.from_user.id == v.resident_telegram_id, _


async def _on_card(
    update: Update, ctx: AppContext, button: Callback
) -> tuple[OrderView, Gettext] | None:
    """A press of the resident's card's ``button``: the order and the resident's gettext when
    it was pressed on the live card. Pressed on any other message, the card is sent anew
    and None returned (nothing is done); pressed by the runner, their own card."""
    seen = await _seen(update, ctx, button)
    if seen is None:
        return None
    v, resident, _ = seen
    q = pressed(update)
    if not resident:
        await answer(q)
        await _show(update, texts.runner_card(v, _, ctx.rt.timezone))
        return None
    msg = q.message
    async with ctx.rt.db.read() as s:
        live = msg is not None and await cards.is_card(s, v.id, msg.chat.id, msg.message_id)
    if not live:
        await _card_anew(update, ctx, v.id, _(OUT_OF_DATE))
        return None
    return v, _


# --- the changes: each commits first, then the person is told (DESIGN rule 11) ------------


async def received(update: Update, ctx: AppContext) -> None:
    """✅ o:ok: the resident confirms they have it (the card is edited by the change)."""
    on = await _on_card(update, ctx, RECEIVED)
    if on is None:
        return
    q = pressed(update)
    v = await attempt(
        update,
        ctx,
        lambda w: resident_moves.confirm_receipt(ctx.rt, w.session, on[0].id, q.from_user.id),
    )
    if v is not None:
        _ = await ctx.gettext()
        await answer(q, _("Thank you! The volunteer will be told."))


async def cancel_asked(update: Update, ctx: AppContext) -> None:
    """o:cancel on the card: asked in a message of its own, with a warning once the volunteer
    has bought (and paid for) the items."""
    on = await _on_card(update, ctx, CANCEL)
    if on is None:
        return
    v, _ = on
    if v.status not in cards.CANCELABLE:
        await _card_anew(update, ctx, v.id, _(OUT_OF_DATE))
        return
    await answer(pressed(update))
    rows = [
        [Button(_("Yes, cancel it"), CANCEL_CONFIRMED.data(order_id=v.id, seen=v.status))],
        [Button(_("No, keep it"), KEEP.data(order_id=v.id))],
    ]
    await _ask(update, cards.cancel_question(v, _), rows)


async def cancel_confirmed(update: Update, ctx: AppContext) -> None:
    """o:cxl:<status>: "Yes, cancel it". Only if the order is still as it was when asked;
    else it is not cancelled and the card comes anew."""
    q = pressed(update)
    values = CANCEL_CONFIRMED.parse(q.data)
    v = await attempt(
        update,
        ctx,
        lambda w: resident_moves.cancel_by_resident(
            ctx.rt, w.session, values.order_id, q.from_user.id, seen=values.seen
        ),
    )
    if v is None:
        # Refused (alerted): the resident gets the card as it is now; anyone else nothing.
        async with ctx.rt.db.read() as s:
            now = await views.get_view(s, values.order_id)
        if now is not None and now.resident_telegram_id == q.from_user.id:
            await _card_anew(update, ctx, values.order_id, None)
        return
    _ = await ctx.gettext()
    await answer(q, _("Cancelled."))
    await edit_or_send(update, texts.resident_notice(v, _, ctx.rt.timezone), None)


async def old_cancel_confirmed(update: Update, ctx: AppContext) -> None:
    """o:cxl without a status: a question from before the live card; never acted on."""
    seen = await _seen(update, ctx, OLD_CANCEL_CONFIRMED)
    if seen is not None:
        await _card_anew(update, ctx, seen[0].id, seen[2](OUT_OF_DATE))


async def kept(update: Update, ctx: AppContext) -> None:
    """o:keep: "No, keep it" under a question; the question says so and loses its buttons."""
    seen = await _seen(update, ctx, KEEP)
    if seen is None:
        return
    v, _resident, _ = seen
    await answer(pressed(update))
    await edit_or_send(update, _(KEPT).format(title=texts.title(v, _)), None)


async def rated(update: Update, ctx: AppContext) -> None:
    """o:rate:<stars>: the resident's thanks, passed on to the runner."""
    q = pressed(update)
    values = RATED.parse(q.data)
    v = await attempt(
        update,
        ctx,
        lambda w: resident_moves.rate(
            ctx.rt, w.session, values.order_id, q.from_user.id, values.stars
        ),
    )
    if v is None:
        return
    _ = await ctx.gettext()
    text = _("Thank you! Your thanks were passed on.")
    await answer(q, text)
    await edit_or_send(
        update,
        _("{label}: {value}").format(label=texts.title(v, _), value="⭐" * values.stars)
        + f"\n{text}",
        None,
    )


async def problem_reported(update: Update, ctx: AppContext) -> None:
    """o:prob:<kind>: staff covering the order are told."""
    q = pressed(update)
    values = PROBLEM_CHOSEN.parse(q.data)
    n = await attempt(
        update,
        ctx,
        lambda w: resident_moves.report_problem(
            ctx.rt, w.session, values.order_id, q.from_user.id, values.kind
        ),
    )
    if n is None:
        return
    _ = await ctx.gettext()
    await answer(q)
    await edit_or_send(
        update,
        _("Reported to the community staff ({n}). They will contact you.").format(n=n),
        None,
    )


# --- the screens ----------------------------------------------------------------------------


async def detail(update: Update, ctx: AppContext) -> None:
    """o:detail ("Keep the task" for a runner; on a resident's old message, the card anew)."""
    seen = await _seen(update, ctx, DETAIL)
    if seen is None:
        return
    v, resident, _ = seen
    if resident:
        await _card_anew(update, ctx, v.id, _(OUT_OF_DATE))
        return
    await answer(pressed(update))
    await _show(update, texts.runner_card(v, _, ctx.rt.timezone))


async def problem_asked(update: Update, ctx: AppContext) -> None:
    """o:prob on the card: what went wrong?"""
    on = await _on_card(update, ctx, PROBLEM)
    if on is None:
        return
    v, _ = on
    await answer(pressed(update))
    rows = [
        [Button(_(label), PROBLEM_CHOSEN.data(order_id=v.id, kind=kind))]
        for kind, label in texts.PROBLEMS.items()
    ]
    rows.append([Button(_("No, keep it"), KEEP.data(order_id=v.id))])
    await _ask(update, _("What went wrong with {title}?").format(title=texts.title(v, _)), rows)


async def thank_asked(update: Update, ctx: AppContext) -> None:
    """o:thank on the card: how many stars?"""
    on = await _on_card(update, ctx, THANK)
    if on is None:
        return
    v, _ = on
    await answer(pressed(update))
    stars = [[Button("⭐" * n, RATED.data(order_id=v.id, stars=n))] for n in range(5, 0, -1)]
    text = _("How did {name} do? Your thanks are passed on.").format(name=v.volunteer_first_name)
    await _ask(update, text, stars)


def my_orders_handlers() -> list[Any]:
    return [
        CommandHandler("orders", my_orders, filters=filters.ChatType.PRIVATE),
        MessageHandler(filters.Regex(label_pattern(MENU_MY_ORDERS)), my_orders),
        RECEIVED.handler(received),
        CANCEL.handler(cancel_asked),
        CANCEL_CONFIRMED.handler(cancel_confirmed),
        OLD_CANCEL_CONFIRMED.handler(old_cancel_confirmed),
        KEEP.handler(kept),
        DETAIL.handler(detail),
        PROBLEM.handler(problem_asked),
        PROBLEM_CHOSEN.handler(problem_reported),
        THANK.handler(thank_asked),
        RATED.handler(rated),
    ]
