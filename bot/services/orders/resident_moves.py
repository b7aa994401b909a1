"""The resident's own moves on an order: cancel it, confirm receipt, report a missing or wrong
item, thank the runner. Status changes go through `transitions.transition` like every other.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import affected_rows
from bot.errors import Refused, check_length, stale
from bot.i18n import LANGUAGES, N_, gettext_for
from bot.limits import TEXT_LIMIT, check_fits
from bot.runtime import Runtime
from bot.services import alerts, scope
from bot.services.messages import tell
from bot.services.orders import cards, routing, runner_cards, texts
from bot.services.orders.transitions import transition
from bot.services.orders.views import OrderView, order_or_refuse, residents_order, view
from models import Actor, Order, OrderProblem, OrderStatus

S = OrderStatus


CHANGED_MEANWHILE = N_(
    "Order #{id} has changed since you were asked; nothing was done. Here it is as it is now."
)


async def cancel_by_resident(
    rt: Runtime,
    session: AsyncSession,
    order_id: int,
    telegram_id: int,
    seen: str | None = None,
) -> OrderView:
    """The resident cancels, after answering the question asked in state ``seen`` (its warning
    said what that state means): an order that moved on since is not cancelled."""
    o = await residents_order(session, order_id, telegram_id)
    if seen is not None and S(o.status) != seen:
        raise Refused(CHANGED_MEANWHILE, id=o.id)
    runner = o.volunteer.telegram_id if o.volunteer else None
    runner_card = o.runner_card_id
    at_the_door = Refused(
        N_("Order #{id} is already at your door; it can no longer be cancelled."), id=o.id
    )
    o = await transition(
        rt,
        session,
        o,
        S.CANCELLED,
        Actor.RESIDENT,
        telegram_id,
        refusals={S.DELIVERED: at_the_door},
        closed_at=rt.clock.now(),
    )
    v = view(o)
    _g = gettext_for(rt.default_language)
    await routing.edit_group_posts(rt, session, o, texts.group_closed(v, _g))
    if runner is not None:
        await runner_cards.refresh(rt, session, runner_card, runner, v)
        await tell(rt, session, runner, lambda _: texts.runner_cancelled(v, _))
    await cards.changed(rt, session, v, notice=False)
    return v


async def confirm_receipt(
    rt: Runtime, session: AsyncSession, order_id: int, telegram_id: int
) -> OrderView:
    o = await residents_order(session, order_id, telegram_id)
    o = await transition(
        rt,
        session,
        o,
        S.CONFIRMED,
        Actor.RESIDENT,
        telegram_id,
        refusals={S.CONFIRMED: Refused(N_("Already confirmed. Thank you!"))},
        closed_at=rt.clock.now(),
    )
    v = view(o)
    if v.volunteer_telegram_id is not None:
        await tell(rt, session, v.volunteer_telegram_id, lambda _: texts.runner_confirmed(v, _))
    await cards.changed(rt, session, v, notice=False)
    return v


async def report_problem(
    rt: Runtime,
    session: AsyncSession,
    order_id: int,
    telegram_id: int,
    kind: str,
    text: str | None = None,
) -> int:
    """A missing or wrong item: recorded, and sent to the staff in charge. Returns how many
    staff were told."""
    o = await residents_order(session, order_id, telegram_id)
    if S(o.status) not in (S.DELIVERED, S.CONFIRMED):
        raise Refused(N_("A problem can be reported once the order has been delivered."))
    if kind not in texts.PROBLEMS:
        raise stale()
    v = view(o)
    if text is not None:
        check_length(text, rt.settings.limits.max_text_length)
        # As the staff get it (the order, the household, the volunteer and the quote).
        check_fits(
            text,
            (texts.staff_problem(v, kind, text, gettext_for(lang)) for lang in LANGUAGES),
            TEXT_LIMIT,
        )
    session.add(
        OrderProblem(
            order_id=o.id, kind=kind, text=text, reporter_telegram_id=telegram_id, at=rt.clock.now()
        )
    )
    staff = await scope.staff_covering(session, o.community_id, o.grid_id)
    await alerts.alert(
        rt,
        session,
        staff,
        lambda _: texts.staff_problem(v, kind, text, _),
        kind=alerts.PROBLEM,
        order_id=o.id,
    )
    return len(staff)


async def rate(
    rt: Runtime, session: AsyncSession, order_id: int, telegram_id: int, stars: int
) -> OrderView:
    """Thank and rate the runner, once per order (a conditional UPDATE on an empty rating)."""
    o = await residents_order(session, order_id, telegram_id)
    if S(o.status) != S.CONFIRMED or o.volunteer is None:
        raise Refused(N_("You can thank the volunteer once you have received the order."))
    if not 1 <= stars <= 5:
        raise stale()
    res = await affected_rows(
        session,
        update(Order)
        .where(Order.id == o.id, Order.rating.is_(None))
        .values(rating=stars)
        .execution_options(synchronize_session=False),
    )
    if res != 1:
        raise Refused(N_("You have already thanked the volunteer for this order."))
    o = await order_or_refuse(session, order_id)
    v = view(o)
    assert v.volunteer_telegram_id is not None
    await tell(rt, session, v.volunteer_telegram_id, lambda _: texts.runner_thanked(v, _))
    await cards.show(rt, session, v.id)
    return v
