"""A resident waiting for a volunteer: told at each escalation step of their unclaimed order
what is being done, with the community's hotline, and 🔔 催一催, their reminder to the staff.

The escalation (`bot/services/escalation.py`) calls `tell_resident` in the step's own
transaction, so the resident hears of a step exactly once. 催一催 is rate-limited by one
conditional UPDATE on the order's `urged_at` (judged by its row count, so two presses at once
count once); it records an order event and tells the staff covering the order, who see the
order marked as urged (/stats).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons import Button, Rows, urge_action
from bot.db import affected_rows
from bot.errors import Refused
from bot.i18n import N_, Gettext, local_time
from bot.runtime import Runtime
from bot.services import alerts, scope
from bot.services.messages import tell
from bot.services.orders import texts, views
from bot.services.orders.views import OrderView
from models import Actor, Community, Order, OrderEvent, OrderStatus

S = OrderStatus

# What each step of the open ladder does, as the resident is told it.
STEP_DONE = {
    "ping_again": N_("We have asked the volunteers on duty and your grid leader again."),
    "community": N_(
        "We have now asked the volunteers of the whole community, and the community staff "
        "are looking for someone."
    ),
}
# An order taken by phone: told to whoever took it, about the household, to call it.
STEP_DONE_BY_PHONE = {
    "ping_again": N_("The volunteers on duty and the grid leader have been asked again."),
    "community": N_("The volunteers of the whole community have now been asked."),
}
WAITING_BY_PHONE = N_(
    "⏳ The order {title} you took by phone for {name} ({phone}) has waited {waited} and no "
    "volunteer has taken it yet."
)
CALL_THEM = N_(
    "📞 Please call the household and tell them. To stop waiting, cancel it on its card."
)
STILL_WAITING = N_(
    "⏳ Your order {title} has waited {waited} and no volunteer has taken it yet. "
    "Sorry to keep you waiting."
)
CALL_HOTLINE = N_("If it is urgent, please call the community hotline: {phone}")
URGE_HINT = N_(
    "You can press 🔔 Remind them to tell the staff you are waiting. To stop waiting, cancel "
    "the order on its card."
)
URGE = N_("🔔 Remind them")

URGED = N_("🔔 Reminded. The community staff know you are waiting.")
TOO_SOON = N_(
    "You reminded them a moment ago; the staff are on it. You can remind them again at "
    "{time} (in {minutes} min)."
)
TAKEN = N_("Good news: {name} has already taken order #{id}.")
NOT_WAITING = N_("Order #{id} is no longer waiting for a volunteer.")
STAFF_URGED = N_(
    "🔔 The resident is waiting: task #{id} ({place}, {kind}) has had no volunteer for "
    "{waited}. Reminders from them so far: {n}. Please find someone, or call them."
)


def waited(minutes: int, _: Gettext) -> str:
    """How long someone has waited, in minutes, or hours past two."""
    if minutes < 120:
        return _("{n} min").format(n=minutes)
    return _("{n} h").format(n=f"{round(minutes / 60, 1):g}")  # "4 小时", not "4.0"


async def hotline_of(rt: Runtime, session: AsyncSession, community_id: int) -> str | None:
    """The community's hotline (the setup CSV's), else the config's `[community] hotline`."""
    own = await session.scalar(select(Community.hotline).where(Community.id == community_id))
    return own or rt.settings.community.hotline or None


def waiting_rows(order_id: int, _: Gettext) -> Rows:
    # Cancelling stays on the order's live card (bot/services/orders/cards.py), the one
    # message whose order buttons act.
    return [[Button(_(URGE), urge_action(order_id))]]


async def tell_resident(
    rt: Runtime, session: AsyncSession, o: Order, step: str, minutes: int
) -> None:
    """A step of the open ladder fired: the resident hears what is being done (a new message,
    so the phone notifies), the hotline, and may remind the staff (or cancel on the card)."""
    if step not in STEP_DONE:
        return
    v = views.view(o)
    if v.relayed:
        await tell(rt, session, v.resident_telegram_id, lambda _: _by_phone(v, step, minutes, _))
        return
    phone = await hotline_of(rt, session, o.community_id)

    def render(_: Gettext) -> tuple[str, Rows]:
        lines = [
            _(STILL_WAITING).format(title=texts.title(v, _), waited=waited(minutes, _)),
            _(STEP_DONE[step]),
        ]
        if phone:
            lines.append(_(CALL_HOTLINE).format(phone=phone))
        lines.append(_(URGE_HINT))
        return "\n".join(lines), waiting_rows(v.id, _)

    await tell(rt, session, v.resident_telegram_id, render)


def _by_phone(v: OrderView, step: str, minutes: int, _: Gettext) -> str:
    """No hotline and no 🔔 for the person who took the call: they are the one to phone."""
    head = _(WAITING_BY_PHONE).format(
        title=texts.title(v, _),
        name=v.contact_name,
        phone=v.contact_phone,
        waited=waited(minutes, _),
    )
    return "\n".join([head, _(STEP_DONE_BY_PHONE[step]), _(CALL_THEM)])


@dataclass(frozen=True)
class Urged:
    order: OrderView
    staff: int  # how many staff were told
    count: int  # the order's reminders so far


async def urge(rt: Runtime, session: AsyncSession, order_id: int, telegram_id: int) -> Urged:
    """🔔: once per `escalation.urge_every_minutes` per order, while nobody has taken it."""
    o = await views.residents_order(session, order_id, telegram_id)
    v = views.view(o)
    _refuse_unless_open(v)
    now = rt.clock.now()
    every = timedelta(minutes=rt.settings.escalation.urge_every_minutes)
    done = await affected_rows(
        session,
        update(Order)
        .where(
            Order.id == o.id,
            Order.status == S.OPEN,
            or_(Order.urged_at.is_(None), Order.urged_at <= now - every),
        )
        .values(urged_at=now, urge_count=Order.urge_count + 1)
        .execution_options(synchronize_session=False),
    )
    if done != 1:
        await _refuse_too_soon(rt, session, o.id, now, every)
    count = int(await session.scalar(select(Order.urge_count).where(Order.id == o.id)) or 0)
    session.add(
        OrderEvent(
            order_id=o.id,
            actor=Actor.RESIDENT,
            actor_telegram_id=telegram_id,
            from_status=o.status,
            to_status=o.status,
            note="urged",
            at=now,
        )
    )
    minutes = max(1, int((now - o.created_at).total_seconds() // 60))
    staff = await scope.staff_covering(session, o.community_id, o.grid_id)

    def render(_: Gettext) -> tuple[str, Rows]:
        text = _(STAFF_URGED).format(
            id=v.id,
            place=f"{v.compound} {v.building}",
            kind=_(texts.CATEGORY.get(v.category, v.category)),
            waited=waited(minutes, _),
            n=count,
        )
        # Who to call, for the staff in charge only (a private chat; never a group).
        text += "\n" + f"{v.contact_name} · {v.contact_phone}"
        return text, texts.group_post(v, _, rt.timezone)[1]

    await alerts.alert(rt, session, staff, render, kind=alerts.WAITING, order_id=o.id)
    return Urged(v, len(staff), count)


async def may_urge(session: AsyncSession, order_id: int) -> bool:
    """Whether 🔔 still applies to the order: nobody has taken it and it is not over."""
    status = await session.scalar(select(Order.status).where(Order.id == order_id))
    return status is not None and S(status) == S.OPEN


def _refuse_unless_open(v: OrderView) -> None:
    if S(v.status) == S.OPEN:
        return
    if S(v.status) in (S.CLAIMED, S.PURCHASING, S.DELIVERING) and v.volunteer_first_name:
        raise Refused(TAKEN, name=v.volunteer_first_name, id=v.id)
    raise Refused(NOT_WAITING, id=v.id)


async def _refuse_too_soon(
    rt: Runtime, session: AsyncSession, order_id: int, now: datetime, every: timedelta
) -> None:
    """The UPDATE changed nothing: too soon after the last reminder, or no longer open."""
    status, last = (
        await session.execute(select(Order.status, Order.urged_at).where(Order.id == order_id))
    ).one()
    if S(status) != S.OPEN or last is None:
        v = await views.get_view(session, order_id)
        assert v is not None
        _refuse_unless_open(v)
        raise Refused(NOT_WAITING, id=order_id)
    again = last + every
    minutes = max(1, math.ceil((again - now).total_seconds() / 60))
    raise Refused(TOO_SOON, time=local_time(again, rt.timezone), minutes=minutes)
