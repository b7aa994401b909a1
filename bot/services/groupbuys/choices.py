"""What the buttons that open a group-buy offer a staff member: the merchants serving their
communities, the buildings (by compound) of the merchant's communities within their scope, the
merchant's products. The final check is `buys.open_groupbuy`'s, whatever was pressed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import stale
from bot.services.groupbuys import merchants
from bot.services.scope import require_staff
from models import Building, Compound, Grid, Merchant, MerchantCommunity, Product


@dataclass(frozen=True)
class CompoundChoice:
    id: int
    name: str
    buildings: list[tuple[int, str]]


async def merchant_choices(session: AsyncSession, telegram_id: int) -> list[Merchant]:
    return await merchants.serving(session, await require_staff(session, telegram_id))


async def building_choices(
    session: AsyncSession, telegram_id: int, merchant_id: int
) -> list[CompoundChoice]:
    scope = await require_staff(session, telegram_id)
    if merchant_id not in {m.id for m in await merchants.serving(session, scope)}:
        raise stale()
    rows = (
        await session.execute(
            select(Building, Compound.name)
            .join(Grid, Grid.id == Building.grid_id)
            .join(Compound, Compound.id == Building.compound_id)
            .where(
                scope.grid_clause(),
                Grid.community_id.in_(
                    select(MerchantCommunity.community_id).where(
                        MerchantCommunity.merchant_id == merchant_id
                    )
                ),
            )
            .order_by(Compound.id, Building.id)
        )
    ).all()
    out: dict[int, CompoundChoice] = {}
    for b, compound in rows:
        c = out.setdefault(b.compound_id, CompoundChoice(b.compound_id, compound, []))
        c.buildings.append((b.id, b.name))
    return list(out.values())


async def product_choices(
    session: AsyncSession, telegram_id: int, merchant_id: int
) -> list[Product]:
    scope = await require_staff(session, telegram_id)
    if merchant_id not in {m.id for m in await merchants.serving(session, scope)}:
        raise stale()
    return await merchants.products(session, merchant_id)
