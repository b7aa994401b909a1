"""🛒 团购 in the resident's menu: a household that registers after a group-buy of its
building was announced is told so at registration, and 🛒 团购 (or /groupbuys) brings its own
card with ＋/－; a household of another building hears there is none."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings
from handlers.groupbuy_list import NONE_OPEN
from handlers.keyboards import MENU_GROUPBUYS
from tests.conftest import make_settings
from tests.e2e.test_groupbuys import GOOD_CSV, add_merchant, import_by_bot, quantities
from tests.factories import STAFF, Harness, Z, buttons, register_by_buttons, text_of


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, limits={"messages_per_minute": 600})


def data(msg: dict[str, Any]) -> list[str]:
    return [d for _, d in buttons(msg)]


async def test_a_household_registered_later_finds_the_group_buy(harness: Harness) -> None:
    h = harness
    staff = h.person(STAFF)
    await add_merchant(h)
    await import_by_bot(h, staff, GOOD_CSV)
    deadline = (h.rt.clock.now() + timedelta(hours=3)).astimezone(ZoneInfo(h.rt.timezone))
    day = (deadline + timedelta(days=1)).strftime("%Y-%m-%d")
    staff.say(f"/groupbuy 爱心超市 xf2 {deadline:%Y-%m-%d %H:%M} {day} 白菜:3 鸡蛋:2")
    await staff.expect(lambda m: "团购 #1" in text_of(m))

    # 周阿姨 registers in 2栋 afterwards: the announcement did not reach her; she is told.
    aunt = h.person(1001, "周阿姨")
    await register_by_buttons(h, aunt)
    aunt.contact("13800001001")
    done = await aunt.expect(lambda m: "13800001001" in text_of(m))
    assert "🛒 您的楼栋有 1 个团购正在接龙" in text_of(done)
    keyboard = str(done.get("reply_markup"))
    assert Z(MENU_GROUPBUYS) in keyboard

    aunt.say(Z(MENU_GROUPBUYS))
    card = await aunt.expect(lambda m: any(d.startswith("gb:a:") for d in data(m)))
    assert "爱心超市" in text_of(card)
    cabbage = next(d for d in data(card) if d.startswith("gb:a:"))
    await aunt.press_data(card, cabbage)
    await h.wait_edit(1001, card["message_id"], lambda m: "白菜 ×1" in text_of(m))
    assert await quantities(h) == {(1001, "白菜"): 1}

    # Someone of 1栋: none open for their building.
    other = await h.register(3001, "甲", "xf1", "1", "101")
    other.say("/groupbuys")
    await other.expect(Z(NONE_OPEN))


async def test_a_group_buy_names_the_buildings_distribution_point(harness: Harness) -> None:
    """With places imported, a group-buy says where the merchant delivers and where the
    building's share waits: the announcement and the card, the group's post."""
    from bot.seed import seed_demo_places
    from tests.e2e.test_groupbuys import card_of

    h = harness
    async with h.rt.db.session() as s:
        await seed_demo_places(h.rt, s)
    staff = h.person(STAFF)
    await add_merchant(h)
    await import_by_bot(h, staff, GOOD_CSV)
    aunt = await h.register(3001, "甲", "xf2", "1", "101")
    deadline = (h.rt.clock.now() + timedelta(hours=3)).astimezone(ZoneInfo(h.rt.timezone))
    day = (deadline + timedelta(days=1)).strftime("%Y-%m-%d")
    staff.say(f"/groupbuy 爱心超市 xf2 {deadline:%Y-%m-%d %H:%M} {day} 白菜:3")
    await staff.expect(lambda m: "团购 #1" in text_of(m))
    card = await card_of(h, aunt)
    assert "送到幸福小区北门配送点（北门外空地）" in text_of(card)
