"""What a resident types or sends outside any conversation while an order of theirs is under
way: kept first (a `ResidentInput` row), then, as they choose, passed on to the volunteer
through the relay (`bot/services/relay.py`: no phone numbers change hands) or not.

With one order taken by a volunteer the resident is asked "send it to the volunteer?"; with
several, which order it is about. An order nobody has taken yet keeps it for its runner
(`relay.hold`): with that one order only, at once (they may take it back). Nothing typed is
silently dropped: it is in the database until the resident decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import affected_rows
from bot.errors import Refused, check_length, stale
from bot.i18n import N_
from bot.runtime import Runtime
from bot.services import relay
from bot.services.orders import views
from bot.services.orders.views import OrderView
from models import Order, OrderMessage, OrderStatus, Resident, ResidentInput

S = OrderStatus
RELAYED = "relayed"
HELD = "held"
DECLINED = "declined"
# A resident's orders a message may be about: not finished (delivered still is: "where?").
UNDER_WAY = (S.OPEN, S.CLAIMED, S.PURCHASING, S.DELIVERING, S.DELIVERED)

ALREADY = N_("You already decided about this message.")
PASSED_ON = N_("The volunteer has already got this message.")


@dataclass(frozen=True)
class Kept:
    input_id: int
    orders: list[OrderView]  # the resident's orders under way, newest first
    # With one order, nobody has taken it: held for its runner already.
    held_for: OrderView | None = None


async def under_way(session: AsyncSession, telegram_id: int) -> list[OrderView]:
    rows = await session.scalars(
        select(Order)
        .join(Resident, Resident.id == Order.resident_id)
        .where(Resident.telegram_id == telegram_id, Order.status.in_(UNDER_WAY))
        .order_by(Order.id.desc())
        .limit(10)
        .options(*views.LOAD)
    )
    return [views.view(o) for o in rows]


async def keep(
    rt: Runtime, session: AsyncSession, telegram_id: int, text: str | None, photo: str | None
) -> Kept | None:
    """Keep what was sent if an order of the sender's is under way (None: none is)."""
    orders = await under_way(session, telegram_id)
    if not orders:
        return None
    body = (text or "").strip() or None
    check_length(body or "", rt.settings.limits.max_text_length)
    row = ResidentInput(telegram_id=telegram_id, text=body, photo=photo, at=rt.clock.now())
    session.add(row)
    await session.flush()
    if len(orders) == 1 and S(orders[0].status) == S.OPEN:
        await _pass_on(rt, session, row, orders[0].id)
        return Kept(row.id, orders, held_for=orders[0])
    return Kept(row.id, orders)


@dataclass(frozen=True)
class Decided:
    outcome: str  # relayed | held | declined
    order: OrderView | None


async def decide(
    rt: Runtime, session: AsyncSession, input_id: int, telegram_id: int, order_id: int | None
) -> Decided:
    """The resident's answer: pass it on about ``order_id``, or (None) keep it to themselves,
    which also takes back a message still held for a runner."""
    row = await session.get(ResidentInput, input_id)
    if row is None or row.telegram_id != telegram_id:
        raise stale()
    if order_id is None:
        return await _decline(session, row)
    if row.outcome is not None:
        raise _already(row)
    outcome = await _pass_on(rt, session, row, order_id)
    return Decided(outcome, await views.get_view(session, order_id))


async def _pass_on(rt: Runtime, session: AsyncSession, row: ResidentInput, order_id: int) -> str:
    """Relayed now, or held for the runner of an order nobody has taken; claimed for this row
    by a conditional UPDATE (two presses at once pass it on once)."""
    o = await views.residents_order(session, order_id, row.telegram_id)
    if S(o.status) not in UNDER_WAY:
        # Finished meanwhile: the relay says so (CLOSED).
        await relay.can_message(session, order_id, row.telegram_id)
    message = await relay.hold(rt, session, order_id, row.telegram_id, row.text, row.photo)
    outcome = HELD if message.held else RELAYED
    won = await affected_rows(
        session,
        update(ResidentInput)
        .where(ResidentInput.id == row.id, ResidentInput.outcome.is_(None))
        .values(outcome=outcome, order_id=order_id, message_id=message.id)
        .execution_options(synchronize_session=False),
    )
    if won != 1:
        raise _already(row)  # rolls back the message just written
    return outcome


async def _decline(session: AsyncSession, row: ResidentInput) -> Decided:
    if row.outcome == HELD and row.message_id is not None:
        # Taken back before any runner saw it (a message already passed on stays sent). The
        # reference goes first: the message is then free to delete.
        message_id = row.message_id
        await session.execute(
            update(ResidentInput)
            .where(ResidentInput.id == row.id)
            .values(outcome=DECLINED, message_id=None)
            .execution_options(synchronize_session=False)
        )
        gone = await affected_rows(
            session,
            delete(OrderMessage)
            .where(OrderMessage.id == message_id, OrderMessage.held.is_(True))
            .execution_options(synchronize_session=False),
        )
        if gone != 1:
            raise Refused(PASSED_ON)  # rolls the row back too
        return Decided(DECLINED, None)
    won = await affected_rows(
        session,
        update(ResidentInput)
        .where(ResidentInput.id == row.id, ResidentInput.outcome.is_(None))
        .values(outcome=DECLINED)
        .execution_options(synchronize_session=False),
    )
    if won != 1:
        raise _already(row)
    return Decided(DECLINED, None)


async def undecided(session: AsyncSession, input_id: int, telegram_id: int) -> bool:
    """Whether this resident's message still waits for their answer (sent, held or not)."""
    row = await session.get(ResidentInput, input_id)
    return row is not None and row.telegram_id == telegram_id and row.outcome is None


def _already(row: ResidentInput) -> Refused:
    return Refused(ALREADY)
