"""A phone order whose taker can no longer act for the household (they left the staff, their
grid changed, or a volunteer lost the right to take phone orders) is handed to someone who can:
the grid's leader, else the community's staff, else an admin. The household's card, its
call-back prompts and its buttons then go to them; the one who left keeps nothing that acts
(their old card loses its buttons) and is told nothing more of the household.

The sweep's first part, so that nothing else the sweep owes (an escalation step's "nobody has
taken it yet") reaches the one who left. A phone repeat of theirs pauses itself instead
(`repeat_sweep`): a colleague chooses whether it goes on."""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import affected_rows
from bot.errors import Refused
from bot.i18n import N_
from bot.runtime import Runtime
from bot.services import audit, phone_orders, scope
from bot.services.messages import tell
from bot.services.orders import cards
from bot.services.orders.views import ACTIVE
from models import Order, Resident

logger = logging.getLogger(__name__)

HANDED_OVER = N_(
    "📞 The phone order #{id} is yours now: the person who took it no longer takes this "
    "household's orders. Its card follows; please call the household back when it asks you to."
)


async def hand_over_due(rt: Runtime) -> int:
    """The sweep's part: every open phone order whose taker no longer reaches its grid is
    handed over, once (a conditional UPDATE on the taker read). How many were."""
    async with rt.db.read() as s:
        rows = (
            await s.execute(
                select(Order.id, Order.entered_by, Order.community_id, Order.grid_id)
                .join(Resident, Resident.id == Order.resident_id)
                .where(
                    Order.entered_by.is_not(None),
                    Resident.telegram_id.is_(None),
                    Order.status.in_(ACTIVE),
                )
                .order_by(Order.id)
            )
        ).all()
        # One scope per taker, not a query per order: most takers still reach their orders.
        reach: dict[int, scope.Scope | None] = {}
        orphans: list[tuple[int, int]] = []
        for order_id, taker, community_id, grid_id in rows:
            if taker is None:  # never: the query asks for a taker (said for the type checker)
                continue
            if taker not in reach:
                try:
                    reach[taker] = await phone_orders.reach(s, taker)
                except Refused:
                    reach[taker] = None
            held = reach[taker]
            if held is None or not held.covers(community_id, grid_id):
                orphans.append((order_id, taker))
    handed = 0
    for order_id, taker in orphans:
        async with rt.db.session() as s:
            if await _hand_over(rt, s, order_id, taker):
                handed += 1
    return handed


async def _successor(session: AsyncSession, community_id: int, grid_id: int) -> int | None:
    """Who answers for the household now: the people on the spot first (asked in turn)."""
    found = await scope.grid_leaders(session, grid_id)
    if not found:
        found = await scope.staff_covering(session, community_id, grid_id, admins=False)
    if not found:
        found = await scope.staff_covering(session, community_id, grid_id)
    return found[0] if found else None


async def _hand_over(rt: Runtime, session: AsyncSession, order_id: int, taker: int) -> bool:
    o = await session.get(Order, order_id)
    if o is None or o.entered_by != taker:
        return False
    new = await _successor(session, o.community_id, o.grid_id)
    if new is None or new == taker:
        logger.warning("phone order %s: nobody to hand it to", order_id)
        return False
    moved = await affected_rows(
        session,
        update(Order)
        .where(Order.id == order_id, Order.entered_by == taker)
        .values(entered_by=new)
        .execution_options(synchronize_session=False),
    )
    if moved != 1:
        return False  # handed over meanwhile (another instance's sweep)
    await session.refresh(o)  # the card below is addressed by the order's taker
    await audit.record(
        session, rt.clock, None, "phone_order.handed_over", f"order:{order_id}", was=taker
    )
    await tell(rt, session, new, lambda _: _(HANDED_OVER).format(id=order_id))
    # A new card in their chat; the old one (in the chat of the one who left) loses its buttons.
    await cards.show(rt, session, order_id, anew=True)
    return True
