"""The demo's supplies for `make run` without a token: a partner merchant (爱心商家) with a
product list, and a group-buy (团购) open for two buildings, so that anyone trying the sandbox
can take part as a resident, confirm it as staff, and deliver it as the merchant. Made once,
with the demo community; never in the tests' world (they build their own)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.runtime import Runtime
from bot.seed import DEMO, Demo
from bot.services.groupbuys import buys, merchants
from models import Building, Product

PRODUCTS = "name,unit,price\n白菜,斤,2.50\n鸡蛋,盒,15\n大米,袋,45\n牛奶,箱,60\n"
# The group-buy's items and the most one household may take of each.
ITEMS = {"白菜": 5, "鸡蛋": 2, "大米": 1, "牛奶": 1}


async def seed_demo_supplies(rt: Runtime, demo: Demo = DEMO) -> None:
    """Called right after the demo community is made (``seed_demo`` returned True)."""
    contact, _name = demo.merchants[0]
    staff_id = demo.staff[0][0]
    async with rt.db.session() as s:
        info, _created = await merchants.add(
            s,
            rt.clock,
            None,
            name=demo.merchant_name,
            kind=demo.merchant_kind,
            contact_telegram_id=contact,
            communities=[demo.code],
        )
        merchant = await merchants.find(s, demo.merchant_name)
        done = await merchants.import_products(s, rt.clock, None, merchant, PRODUCTS)
        assert not done.errors, done.errors
        products = {p.name: p.id for p in await s.scalars(select(Product))}
        buildings = list(
            await s.scalars(select(Building.id).where(Building.code.in_(demo.groupbuy_buildings)))
        )
        zone = ZoneInfo(rt.timezone)
        tomorrow = rt.clock.now().astimezone(zone).date() + timedelta(days=1)
        deadline = datetime.combine(tomorrow, time(18, 0), tzinfo=zone)
        await buys.open_groupbuy(
            rt,
            s,
            staff_id,
            info.id,
            buildings,
            deadline,
            tomorrow + timedelta(days=1),
            {products[name]: limit for name, limit in ITEMS.items()},
        )
