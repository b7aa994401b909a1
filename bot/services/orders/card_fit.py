"""A typed answer must fit the cards it will be shown on (Telegram's 4,096 characters): the
runner's card and the resident's own order, rendered as they would be with the answers so far.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.i18n import LANGUAGES, gettext_for
from bot.limits import TEXT_LIMIT, check_fits
from bot.runtime import Runtime
from bot.services.amounts import MAX_FEN
from bot.services.orders import cards, kinds, texts
from bot.services.orders.views import OrderView
from models import Building, Grid, OrderDraft, OrderStatus, Recipient, Resident, Urgency

# The resident's own summary of the form (handlers/ordering.py) says a little more than the
# order it becomes ("Please check your order:", the kind and the urgency on lines of their own):
# room kept for it.
SUMMARY_ROOM = 200


async def check(rt: Runtime, session: AsyncSession, d: OrderDraft, text: str) -> None:
    """A typed answer is shown whole on the runner's card and on the resident's own order: both,
    as they would be rendered with the answers so far (in every language, with the longest
    status, a volunteer, an amount and a rating), must fit Telegram's 4,096 characters, less
    SUMMARY_ROOM. Refused (TOO_LONG_TO_SEND: the length and the room left) otherwise."""
    if not d.category:
        return
    resident = await session.get(Resident, d.resident_id)
    assert resident is not None
    who: Resident | Recipient = resident
    if d.recipient_id is not None:
        who = await session.get(Recipient, d.recipient_id) or resident
    b = await session.scalar(
        select(Building)
        .where(Building.id == who.building_id)
        .options(
            selectinload(Building.grid).selectinload(Grid.community),
            selectinload(Building.compound),
        )
    )
    assert b is not None
    now = rt.clock.now()
    delivered = OrderView(
        id=d.order_id or 10**9,
        category=d.category,
        description=d.description or "",
        urgency=d.urgency or Urgency.NORMAL,
        status=OrderStatus.DELIVERED,
        compound=b.compound.name,
        building=b.name,
        unit=who.unit,
        room=who.room,
        community=b.grid.community.name,
        contact_name=who.name,
        contact_phone=who.phone,
        resident_telegram_id=resident.telegram_id or 0,
        volunteer_name="志愿者" * 4,
        volunteer_telegram_id=None,
        grid_id=b.grid_id,
        group_chat_id=None,
        created_at=now,
        updated_at=now,
        reason=None,
        details=dict(d.details or {}),
        photo=d.photo,
        voice=d.voice,
        time_window=d.time_window,
        payment=d.payment,
        doorstep=d.doorstep,
        priority=True,
        rating=5,
        amount_spent_fen=MAX_FEN,
    )
    rendered = []
    for lang in LANGUAGES:
        _ = gettext_for(lang)
        rendered.append(texts.runner_card(delivered, _, rt.timezone)[0])
        every_step = {st: now for st in kinds.FORWARD}
        rendered.append(cards.resident_card(delivered, _, rt.timezone, every_step)[0])
    check_fits(text, rendered, TEXT_LIMIT - SUMMARY_ROOM)
