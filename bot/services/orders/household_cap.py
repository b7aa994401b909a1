"""The household's cap on orders under way (DESIGN rule 14): counted on the resident's locked
row, so two orders sent at once cannot both pass it. Checked when a form starts, when it is sent,
when an order is copied and before a repeat's occurrence (bot/services/repeat_sweep.py).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import Refused
from bot.i18n import P_
from bot.runtime import Runtime
from bot.services.orders.views import ACTIVE
from models import Order, Resident


async def open_orders(session: AsyncSession, resident_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.resident_id == resident_id, Order.status.in_(ACTIVE))
        )
        or 0
    )


async def check(
    rt: Runtime, session: AsyncSession, resident_id: int, *, by_phone: bool = False
) -> None:
    """The household's cap on orders under way, counted on its locked row (DESIGN rule 14):
    two orders sent at once cannot both pass it."""
    await session.execute(select(Resident.id).where(Resident.id == resident_id).with_for_update())
    cap = rt.settings.limits.max_open_orders
    if await open_orders(session, resident_id) >= cap and by_phone:
        # Said to the person taking a phone order, about the household that called.
        raise Refused(
            P_(
                "This household already has {n} order under way. Please wait until it is "
                "finished, or cancel it on its card.",
                "This household already has {n} orders under way. Please wait until one is "
                "finished, or cancel one on its card.",
            ),
            n=cap,
        )
    if await open_orders(session, resident_id) >= cap:
        raise Refused(
            P_(
                "You already have {n} order under way. Please wait until it is finished, or "
                "cancel it in 📋 My orders.",
                "You already have {n} orders under way. Please wait until one is finished, or "
                "cancel one in 📋 My orders.",
            ),
            n=cap,
        )
