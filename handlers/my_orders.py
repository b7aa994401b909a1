"""📋 My orders: the resident's orders, each with what can be done now, and one callback per
button on them (``o:<verb>:<order id>[:<arg>]``): ✅ received, ✖️ cancel (asked first), ⚠️ a
problem, ⭐ thanks, and the order's details (a runner pressing an old resident's button gets
the runner's card)."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.buttons import Button, Rows
from bot.errors import STALE
from bot.i18n import Gettext
from bot.services.orders import texts, transitions, views
from bot.services.orders.views import OrderView
from handlers.answers import alert, answer, edit_or_send, pressed
from handlers.callback_data import ID, Callback, Field, one_of
from handlers.context import AppContext
from handlers.keyboards import MENU_MY_ORDERS, inline, label_pattern, main_menu, menu_for
from handlers.work import attempt, reading, unit_of_work

RECEIVED = Callback("o", "ok", order_id=ID)
CANCEL = Callback("o", "cancel", order_id=ID)
CANCEL_CONFIRMED = Callback("o", "cxl", order_id=ID)
DETAIL = Callback("o", "detail", order_id=ID)
PROBLEM = Callback("o", "prob", order_id=ID)
PROBLEM_CHOSEN = Callback("o", "prob", order_id=ID, kind=one_of(texts.PROBLEMS))
THANK = Callback("o", "thank", order_id=ID)
RATED = Callback("o", "rate", order_id=ID, stars=Field("[1-5]", int))


async def my_orders(update: Update, ctx: AppContext) -> None:
    """Open orders first, then the most recent finished ones, each with what can be done."""
    assert update.effective_user is not None and update.effective_chat is not None
    async with unit_of_work(ctx) as w:
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
    for o in under_way + done:
        text, rows = texts.resident_detail(o, _, ctx.rt.timezone)
        await update.effective_chat.send_message(text, reply_markup=inline(rows))


async def _show(update: Update, screen: tuple[str, Rows]) -> None:
    text, rows = screen
    await edit_or_send(update, text, inline(rows))


# --- the changes: each commits first, then the person is told (DESIGN rule 11) ------------


async def received(update: Update, ctx: AppContext) -> None:
    """✅ o:ok: the resident confirms they have it."""
    q = pressed(update)
    order_id = RECEIVED.parse(q.data).order_id
    v = await attempt(
        update,
        ctx,
        lambda w: transitions.confirm_receipt(ctx.rt, w.session, order_id, q.from_user.id),
    )
    if v is None:
        return
    _ = await ctx.gettext()
    await answer(q, _("Thank you! The volunteer will be told."))
    await _show(update, texts.resident_detail(v, _, ctx.rt.timezone))


async def cancel_confirmed(update: Update, ctx: AppContext) -> None:
    """o:cxl: "Yes, cancel it"."""
    q = pressed(update)
    order_id = CANCEL_CONFIRMED.parse(q.data).order_id
    v = await attempt(
        update,
        ctx,
        lambda w: transitions.cancel_by_resident(ctx.rt, w.session, order_id, q.from_user.id),
    )
    if v is None:
        return
    _ = await ctx.gettext()
    await answer(q, _("Cancelled."))
    await _show(update, texts.resident_status(v, _, ctx.rt.timezone))


async def rated(update: Update, ctx: AppContext) -> None:
    """o:rate:<stars>: the resident's thanks, passed on to the runner."""
    q = pressed(update)
    values = RATED.parse(q.data)
    v = await attempt(
        update,
        ctx,
        lambda w: transitions.rate(
            ctx.rt, w.session, values.order_id, q.from_user.id, values.stars
        ),
    )
    if v is None:
        return
    _ = await ctx.gettext()
    await answer(q, _("Thank you! Your thanks were passed on."))
    await _show(update, texts.resident_detail(v, _, ctx.rt.timezone))


async def problem_reported(update: Update, ctx: AppContext) -> None:
    """o:prob:<kind>: staff covering the order are told."""
    q = pressed(update)
    values = PROBLEM_CHOSEN.parse(q.data)
    n = await attempt(
        update,
        ctx,
        lambda w: transitions.report_problem(
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


# --- the screens: the order as its resident or its runner sees it now ----------------------


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
    await answer(q)
    return v, q.from_user.id == v.resident_telegram_id, _


async def _card(update: Update, ctx: AppContext, v: OrderView, resident: bool, _: Gettext) -> None:
    """The order's own card: the resident's details, or the runner's card."""
    tz = ctx.rt.timezone
    await _show(
        update, texts.resident_detail(v, _, tz) if resident else texts.runner_card(v, _, tz)
    )


async def detail(update: Update, ctx: AppContext) -> None:
    """o:detail (also "No, keep it")."""
    seen = await _seen(update, ctx, DETAIL)
    if seen is not None:
        await _card(update, ctx, *seen)


def _keep(v: OrderView, _: Gettext) -> list[Button]:
    return [Button(_("No, keep it"), DETAIL.data(order_id=v.id))]


async def cancel_asked(update: Update, ctx: AppContext) -> None:
    """o:cancel: ask before cancelling."""
    seen = await _seen(update, ctx, CANCEL)
    if seen is None:
        return
    v, resident, _ = seen
    if not resident:
        await _card(update, ctx, *seen)
        return
    rows = [[Button(_("Yes, cancel it"), CANCEL_CONFIRMED.data(order_id=v.id))], _keep(v, _)]
    await _show(update, (_("Cancel order {title}?").format(title=texts.title(v, _)), rows))


async def problem_asked(update: Update, ctx: AppContext) -> None:
    """o:prob: what went wrong?"""
    seen = await _seen(update, ctx, PROBLEM)
    if seen is None:
        return
    v, resident, _ = seen
    if not resident:
        await _card(update, ctx, *seen)
        return
    rows = [
        [Button(_(label), PROBLEM_CHOSEN.data(order_id=v.id, kind=kind))]
        for kind, label in texts.PROBLEMS.items()
    ]
    rows.append(_keep(v, _))
    await _show(update, (_("What went wrong with {title}?").format(title=texts.title(v, _)), rows))


async def thank_asked(update: Update, ctx: AppContext) -> None:
    """o:thank: how many stars?"""
    seen = await _seen(update, ctx, THANK)
    if seen is None:
        return
    v, resident, _ = seen
    if not resident:
        await _card(update, ctx, *seen)
        return
    stars = [[Button("⭐" * n, RATED.data(order_id=v.id, stars=n))] for n in range(5, 0, -1)]
    text = _("How did {name} do? Your thanks are passed on.").format(name=v.volunteer_first_name)
    await _show(update, (text, stars))


def my_orders_handlers() -> list[Any]:
    return [
        CommandHandler("orders", my_orders, filters=filters.ChatType.PRIVATE),
        MessageHandler(filters.Regex(label_pattern(MENU_MY_ORDERS)), my_orders),
        RECEIVED.handler(received),
        CANCEL.handler(cancel_asked),
        CANCEL_CONFIRMED.handler(cancel_confirmed),
        DETAIL.handler(detail),
        PROBLEM.handler(problem_asked),
        PROBLEM_CHOSEN.handler(problem_reported),
        THANK.handler(thank_asked),
        RATED.handler(rated),
    ]
