"""Paying the runner back for what they spent: the volunteer's payment QR code (a Telegram file
id kept on their row), what the resident and the runner are told once a task is delivered with
an amount, the resident's "I have paid" and the runner's "money received" (each recorded once,
with who and when, on the order), and the deliveries whose money nobody has confirmed, for staff.

Privacy: the QR picture goes only to the private chat of the resident of an order its owner
delivered; never to a group, a log or the operator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.buttons import Button, Rows, payment_action
from bot.db import affected_rows
from bot.errors import Refused
from bot.i18n import N_, Gettext, gettext_for, local_time
from bot.runtime import Runtime
from bot.services import audit, scope
from bot.services.amounts import yuan
from bot.services.orders import cards, texts
from bot.services.orders.views import LOAD, OrderView, order_or_refuse, view
from bot.services.people import language_of
from models import Order, OrderStatus, Volunteer

S = OrderStatus
# Delivered orders whose money may still be owed.
OWED_STATUSES = (S.DELIVERED, S.CONFIRMED)
# After this long without "money received", /unpaid marks a delivery as overdue.
OVERDUE = timedelta(hours=24)
UNPAID_SHOWN = 30

NOT_A_VOLUNTEER = N_("Only volunteers keep a payment code. Send /volunteer to join.")
NOTHING_TO_PAY = N_("Order #{id} has nothing to pay.")
NOT_YOURS = N_("This is not your order.")
NOT_THE_RUNNER = N_("Only the volunteer who delivered task #{id} can confirm the money.")
ALREADY_PAID = N_("You already said order #{id} was paid ({time}). Nothing more to do.")
ALREADY_RECEIVED = N_(
    "You already confirmed receiving the money for task #{id} ({time}). Nothing more to do."
)
RECEIVED_BEFORE_PAID = N_(
    "The volunteer already confirmed receiving the money for order #{id}. Nothing more to do."
)
PAID_BUTTON = N_("✅ I have paid")
RECEIVED_BUTTON = N_("💰 Money received")


# --- the volunteer's payment code -------------------------------------------------------------


async def _volunteer(session: AsyncSession, telegram_id: int) -> Volunteer:
    vol = await session.scalar(select(Volunteer).where(Volunteer.telegram_id == telegram_id))
    if vol is None:
        raise Refused(NOT_A_VOLUNTEER)
    return vol


async def qr_of(session: AsyncSession, telegram_id: int) -> str | None:
    """The volunteer's payment QR code (a file id), or None; refused for a non-volunteer."""
    return (await _volunteer(session, telegram_id)).pay_qr


async def set_qr(rt: Runtime, session: AsyncSession, telegram_id: int, file_id: str | None) -> bool:
    """Keep (or with None, remove) the volunteer's payment QR code picture."""
    vol = await _volunteer(session, telegram_id)
    vol.pay_qr = file_id
    return True


# --- what a delivery with an amount owes ---------------------------------------------------------


def owes(o: OrderView) -> bool:
    return bool(o.amount_spent_fen) and o.status in OWED_STATUSES


def resident_payment(o: OrderView, with_qr: bool, _: Gettext) -> tuple[str, Rows]:
    """What the resident is asked to pay, to whom and how, with "I have paid"."""
    amount = yuan(o.amount_spent_fen or 0)
    if o.relayed:
        return _by_phone(
            o,
            _(
                "💰 {title} ({who}): {name} paid ¥{amount} for it. Please call the household "
                "and ask them to pay the volunteer (cash or a transfer); when they have, press "
                "“I have paid”."
            ),
            _,
        )
    if with_qr:
        how = _(
            "💰 {title}: please pay {name} ¥{amount}, what was spent on your order. Scan their "
            "payment code in this picture, then press “I have paid”."
        )
    else:
        how = _(
            "💰 {title}: please pay {name} ¥{amount}, what was spent on your order, the way "
            "the volunteer tells you (cash, or a WeChat or Alipay transfer). Then press "
            "“I have paid”."
        )
    text = how.format(title=texts.title(o, _), name=o.volunteer_first_name, amount=amount)
    return text, [[Button(_(PAID_BUTTON), payment_action("paid", o.id))]]


def runner_payment(o: OrderView, has_qr: bool, _: Gettext) -> tuple[str, Rows]:
    """The runner: what they are owed, and "money received" for when they have it."""
    lines = [
        _(
            "💰 {title}: the resident owes you ¥{amount}. When you have the money (a transfer "
            "or cash), press “Money received”."
        ).format(title=texts.title(o, _), amount=yuan(o.amount_spent_fen or 0))
    ]
    if not has_qr:
        lines.append(
            _("Tip: send /payqr to add your payment QR code; residents can then scan it to pay.")
        )
    return "\n".join(lines), [[Button(_(RECEIVED_BUTTON), payment_action("got", o.id))]]


async def on_delivered(rt: Runtime, session: AsyncSession, o: OrderView) -> None:
    """A task delivered with an amount: the resident is asked to pay (with the runner's QR code
    if they keep one), the runner gets "money received". Both privately."""
    if not owes(o) or o.volunteer_telegram_id is None:
        return
    qr = await _ask_resident(rt, session, o, resident_payment)
    _v = gettext_for(await language_of(session, o.volunteer_telegram_id, rt.default_language))
    text, rows = runner_payment(o, qr is not None, _v)
    outbox.enqueue(session, rt.clock, chat_id=o.volunteer_telegram_id, text=text, buttons=rows)


async def _ask_resident(
    rt: Runtime,
    session: AsyncSession,
    o: OrderView,
    render: Callable[[OrderView, bool, Gettext], tuple[str, Rows]],
) -> str | None:
    """The resident asked to pay (on delivery, or reminded), in their language, with the
    runner's payment QR code if they keep one; only ever their private chat (the id is their
    user id). The code's file id, if any."""
    qr = await session.scalar(
        select(Volunteer.pay_qr).where(Volunteer.telegram_id == o.volunteer_telegram_id)
    )
    if o.relayed:
        qr = None  # to whoever took the call: the household pays, not them
    _ = gettext_for(await language_of(session, o.resident_telegram_id, rt.default_language))
    text, rows = render(o, qr is not None, _)
    outbox.enqueue(
        session, rt.clock, chat_id=o.resident_telegram_id, text=text, buttons=rows, photo=qr
    )
    return qr


# --- the two presses ----------------------------------------------------------------------------


def _when(rt: Runtime, at: datetime | None) -> str:
    return local_time(at, rt.timezone, "%m-%d %H:%M") if at else ""


async def _owed_order(session: AsyncSession, order_id: int) -> Order:
    o = await order_or_refuse(session, order_id)
    if not o.amount_spent_fen or S(o.status) not in OWED_STATUSES:
        raise Refused(NOTHING_TO_PAY, id=o.id)
    return o


def _pressed(v: OrderView) -> dict[str, object]:
    """What the audit log (the ledger's 操作记录) keeps of a press on the money's way, beside
    the order: how much, and the volunteer it is owed to."""
    return {"amount": yuan(v.amount_spent_fen or 0), "volunteer": v.volunteer_name}


async def mark_paid(
    rt: Runtime, session: AsyncSession, order_id: int, telegram_id: int
) -> OrderView:
    """The resident says they paid: recorded once (a second press is answered with when);
    the runner is told, with "money received" again."""
    o = await _owed_order(session, order_id)
    # A household without Telegram pays through whoever took its order by phone.
    proxy = o.resident.telegram_id is None and o.entered_by == telegram_id
    if o.resident.telegram_id != telegram_id and not proxy:
        raise Refused(NOT_YOURS)
    now = rt.clock.now()
    done = await affected_rows(
        session,
        update(Order)
        .where(Order.id == o.id, Order.paid_at.is_(None), Order.paid_confirmed_at.is_(None))
        .values(paid_at=now, paid_by=telegram_id)
        .execution_options(synchronize_session=False),
    )
    o = await order_or_refuse(session, order_id)
    if done != 1:
        if o.paid_at is not None:
            raise Refused(ALREADY_PAID, id=o.id, time=_when(rt, o.paid_at))
        raise Refused(RECEIVED_BEFORE_PAID, id=o.id)
    v = view(o)
    await audit.record(
        session, rt.clock, telegram_id, "payment.paid", f"order:{v.id}", **_pressed(v)
    )
    await cards.show(rt, session, v.id)  # the live card: "paid", and no more button
    if v.volunteer_telegram_id is not None:
        runner = v.volunteer_telegram_id
        _ = gettext_for(await language_of(session, runner, rt.default_language))
        text = _(
            "💰 {title}: the resident says they have paid you ¥{amount}. Please check, then "
            "press “Money received”."
        ).format(title=texts.title(v, _), amount=yuan(v.amount_spent_fen or 0))
        rows = [[Button(_(RECEIVED_BUTTON), payment_action("got", v.id))]]
        outbox.enqueue(session, rt.clock, chat_id=runner, text=text, buttons=rows)
    return v


async def confirm_received(
    rt: Runtime, session: AsyncSession, order_id: int, telegram_id: int
) -> OrderView:
    """The runner has the money (after the resident's "paid", or cash on their own word):
    recorded once; the resident is thanked."""
    o = await _owed_order(session, order_id)
    if o.volunteer is None or o.volunteer.telegram_id != telegram_id:
        raise Refused(NOT_THE_RUNNER, id=o.id)
    now = rt.clock.now()
    done = await affected_rows(
        session,
        update(Order)
        .where(Order.id == o.id, Order.paid_confirmed_at.is_(None))
        .values(paid_confirmed_at=now, paid_confirmed_by=telegram_id)
        .execution_options(synchronize_session=False),
    )
    o = await order_or_refuse(session, order_id)
    if done != 1:
        raise Refused(ALREADY_RECEIVED, id=o.id, time=_when(rt, o.paid_confirmed_at))
    v = view(o)
    await audit.record(
        session, rt.clock, telegram_id, "payment.received", f"order:{v.id}", **_pressed(v)
    )
    await cards.show(rt, session, v.id)  # the live card: "received by the volunteer"
    resident = v.resident_telegram_id
    _ = gettext_for(await language_of(session, resident, rt.default_language))
    outbox.enqueue(
        session,
        rt.clock,
        chat_id=resident,
        text=_("✅ {name} has received your ¥{amount} for {title}. Thank you!").format(
            name=v.volunteer_first_name,
            amount=yuan(v.amount_spent_fen or 0),
            title=texts.title(v, _),
        ),
    )
    return v


# --- the sweep: one kind reminder to a resident who has not paid ----------------------------------


def _by_phone(o: OrderView, text: str, _: Gettext) -> tuple[str, Rows]:
    """Said to whoever took a phone order: the household to call, no QR code (it is not them
    who pays)."""
    said = text.format(
        title=texts.title(o, _),
        who=f"{o.contact_name}，{o.contact_phone}",
        name=o.volunteer_first_name,
        amount=yuan(o.amount_spent_fen or 0),
    )
    return said, [[Button(_(PAID_BUTTON), payment_action("paid", o.id))]]


def reminder(o: OrderView, with_qr: bool, _: Gettext) -> tuple[str, Rows]:
    """The one reminder: kind, the amount, to whom, how, and "I have paid"."""
    if o.relayed:
        return _by_phone(
            o,
            _(
                "🔔 {title} ({who}): {name} paid ¥{amount} for it and has not received it yet. "
                "Please call the household to remind them kindly; if they have paid, press "
                "“I have paid”."
            ),
            _,
        )
    text = _(
        "🔔 {title}: a gentle reminder. {name} paid ¥{amount} for your order out of their own "
        "pocket and has not received it yet."
    ).format(
        title=texts.title(o, _), name=o.volunteer_first_name, amount=yuan(o.amount_spent_fen or 0)
    )
    text += "\n" + (
        _("You can scan their payment code in this picture.")
        if with_qr
        else _("Please pay them the way they tell you (cash, or a WeChat or Alipay transfer).")
    )
    text += "\n" + _("If you have already paid, just press “I have paid”. Thank you!")
    return text, [[Button(_(PAID_BUTTON), payment_action("paid", o.id))]]


async def remind_due(rt: Runtime) -> int:
    """Remind the resident of each delivery with an amount who has not said "paid", and whose
    money the runner has not received, `[delivery] unpaid_remind_hours` after delivery: once.
    The claim is a conditional UPDATE of ``pay_reminded_at`` in the transaction that owes the
    message, so several sweeps (or instances) send it once. Returns how many were reminded."""
    hours = rt.settings.delivery.unpaid_remind_hours
    if not hours:
        return 0
    now = rt.clock.now()
    owed = (
        Order.amount_spent_fen > 0,
        Order.status.in_(OWED_STATUSES),
        Order.paid_at.is_(None),
        Order.paid_confirmed_at.is_(None),
        Order.pay_reminded_at.is_(None),
    )
    reminded = 0
    async with rt.db.session() as session:
        due = (
            await session.scalars(
                select(Order.id)
                .where(*owed, Order.delivered_at <= now - timedelta(hours=hours))
                .order_by(Order.id)
                .limit(200)
            )
        ).all()
        for order_id in due:
            claimed = await affected_rows(
                session,
                update(Order)
                .where(Order.id == order_id, *owed)
                .values(pay_reminded_at=now)
                .execution_options(synchronize_session=False),
            )
            if claimed != 1:
                continue  # another sweep reminded them, or it was paid meanwhile
            await _ask_resident(
                rt, session, view(await order_or_refuse(session, order_id)), reminder
            )
            reminded += 1
    return reminded


# --- staff: the money nobody has confirmed --------------------------------------------------------


@dataclass(frozen=True)
class Unpaid:
    """Deliveries with an amount whose money the runner has not confirmed, oldest first."""

    orders: list[OrderView]
    total: int  # how many there are (more than shown when long)
    now: datetime


async def unpaid(rt: Runtime, session: AsyncSession, staff_id: int) -> Unpaid:
    """The unpaid deliveries of the staff member's grids."""
    staff_scope = await scope.require_staff(session, staff_id)
    where = [
        Order.amount_spent_fen > 0,
        Order.paid_confirmed_at.is_(None),
        Order.status.in_(OWED_STATUSES),
        staff_scope.clause(Order.community_id, Order.grid_id),
    ]
    total = await session.scalar(select(func.count()).select_from(Order).where(*where))
    rows = await session.scalars(
        select(Order)
        .where(*where)
        .order_by(Order.delivered_at, Order.id)
        .limit(UNPAID_SHOWN)
        .options(*LOAD)
    )
    return Unpaid([view(o) for o in rows], int(total or 0), rt.clock.now())


def unpaid_text(u: Unpaid, _: Gettext, tz: str) -> str:
    """The list for staff: where, how much, who ran it, when, and whether the resident says it
    is paid. No resident's name, phone or room (staff find them with /care if needed)."""
    if not u.orders:
        return _("💰 No unpaid deliveries: every amount spent has been received.")
    lines = [
        _(
            "💰 Unpaid deliveries: {n}. The volunteer has not confirmed receiving the money; "
            "⏰ marks those delivered more than a day ago."
        ).format(n=u.total)
    ]
    for o in u.orders:
        delivered = o.delivered_at or o.updated_at
        late = "⏰ " if u.now - delivered >= OVERDUE else ""
        if o.paid_at:
            state = _("the resident says paid {time}").format(
                time=local_time(o.paid_at, tz, "%m-%d %H:%M")
            )
        elif o.pay_reminded_at:
            state = _("not paid yet, 🔔 reminded {time}").format(
                time=local_time(o.pay_reminded_at, tz, "%m-%d %H:%M")
            )
        else:
            state = _("not paid yet")
        lines.append(
            f"{late}{texts.title(o, _)} · {o.compound} {o.building} · "
            f"¥{yuan(o.amount_spent_fen or 0)} · {o.volunteer_name or ''} · "
            + _("delivered {time}").format(time=local_time(delivered, tz, "%m-%d %H:%M"))
            + f" · {state}"
        )
    if u.total > len(u.orders):
        lines.append(_("… and {n} more.").format(n=u.total - len(u.orders)))
    return "\n".join(lines)
