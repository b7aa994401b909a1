"""/care by buttons (issue 15 point 8): staff browse compound → building → household, search
by phone or room, name the responsible person from the people of the grid and set home
isolation with a press; no Telegram id, "me" or "clear" is ever typed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.services import care_browse as browse_service
from handlers import care as care_handlers
from handlers import care_browse
from models import Resident
from tests.factories import STAFF, VOLUNTEERS_1, Harness, Z, buttons, text_of

WANG = VOLUNTEERS_1[0]  # 王刚, 第一网格
ZHOU_PHONE, WU_PHONE = "13800000001", "13900000002"


def _has(prefix: str) -> Any:
    return lambda m: any(d.startswith(prefix) for _, d in buttons(m))


async def _rid(h: Harness, tid: int) -> int:
    async with h.rt.db.read() as s:
        rid = await s.scalar(select(Resident.id).where(Resident.telegram_id == tid))
    assert rid is not None
    return rid


async def test_browse_to_a_household_and_name_who_looks_after_it(harness: Harness) -> None:
    h = harness
    await h.register(1001, "周阿姨", building_code="xf1", unit="1", room="101", phone=ZHOU_PHONE)
    await h.register(1002, "吴大爷", building_code="hp5", unit="1", room="101", phone=WU_PHONE)
    boss, wang = h.person(STAFF, "赵书记"), h.person(WANG, "王刚")
    for p in (boss, wang):
        p.say("/help")
        await p.expect(lambda m: True)
    zhou = await _rid(h, 1001)

    # The list offers the two ways to a household.
    boss.say("/care")
    listing = await boss.expect(_has(care_browse.BROWSE.data()))
    assert _has(care_browse.SEARCH.data())(listing)
    mid = listing["message_id"]

    # Compound → building (named with its compound) → household.
    await boss.press_data(listing, care_browse.BROWSE.data())
    compounds = await h.wait_edit(
        STAFF, mid, lambda m: Z(care_browse.CHOOSE_COMPOUND) in text_of(m)
    )
    labels = [t for t, _ in buttons(compounds)]
    assert any("幸福小区" in t for t in labels) and any("和平里" in t for t in labels)
    await boss.press(compounds, "幸福小区")
    blds = await h.wait_edit(STAFF, mid, _has("cr:bld:"))
    assert any("幸福小区 1栋 (1)" == t for t, _ in buttons(blds))
    await boss.press(blds, "幸福小区 1栋")
    homes = await h.wait_edit(STAFF, mid, _has(f"cr:open:{zhou}"))
    assert "幸福小区 1栋" in text_of(homes)
    assert [t for t, d in buttons(homes) if d.startswith("cr:open:")] == ["1栋 1-101 周阿姨"]
    await boss.press_data(homes, f"cr:open:{zhou}")
    card = await h.wait_edit(STAFF, mid, _has(f"cr:who:{zhou}"))
    assert ZHOU_PHONE in text_of(card)

    # 👤: the people of 第一网格, as buttons; 王刚 is named and told.
    await boss.press_data(card, f"cr:who:{zhou}")
    who = await h.wait_edit(STAFF, mid, _has(f"cr:as:{zhou}:"))
    labels = [t for t, _ in buttons(who)]
    assert any("赵书记" in t and Z(care_browse.ME) in t for t in labels)
    assert any("王刚" in t for t in labels) and not any("陈静" in t for t in labels)
    await boss.press(who, "王刚")
    card = await h.wait_edit(STAFF, mid, lambda m: "王刚" in text_of(m) and _has("cr:flag:")(m))
    await wang.expect(lambda m: "周阿姨" in text_of(m) and ZHOU_PHONE in text_of(m))
    async with h.rt.db.read() as s:
        assert (await s.get(Resident, zhou)).responsible_telegram_id == WANG

    # A stale press on the old list of people names nobody else: it acts on today's state.
    await boss.press_data(card, f"cr:who:{zhou}")
    who = await h.wait_edit(STAFF, mid, _has(f"cr:as:{zhou}:none"))
    await boss.press_data(who, f"cr:as:{zhou}:none")
    await h.wait_edit(STAFF, mid, lambda m: "王刚" not in text_of(m) and _has("cr:flag:")(m))
    async with h.rt.db.read() as s:
        assert (await s.get(Resident, zhou)).responsible_telegram_id is None

    # 🏠: seven days of home isolation with one press.
    card = next(m for m in h.emu.messages(STAFF) if m["message_id"] == mid)
    await boss.press_data(card, f"cr:iso:{zhou}")
    days = await boss.expect(_has(f"cr:isod:{zhou}:7"))
    await boss.press_data(days, f"cr:isod:{zhou}:7")
    until = (h.rt.today() + timedelta(days=7)).isoformat()
    await h.wait_edit(STAFF, days["message_id"], lambda m: until in text_of(m))
    async with h.rt.db.read() as s:
        assert (await s.get(Resident, zhou)).isolation_until.isoformat() == until
    await h.settle()


async def test_search_by_phone_and_by_room(harness: Harness) -> None:
    h = harness
    await h.register(1001, "周阿姨", building_code="xf1", unit="1", room="101", phone=ZHOU_PHONE)
    await h.register(1002, "吴大爷", building_code="hp5", unit="1", room="101", phone=WU_PHONE)
    boss = h.person(STAFF, "赵书记")
    boss.say("/help")
    await boss.expect(lambda m: True)
    zhou, wu = await _rid(h, 1001), await _rid(h, 1002)

    # 🔎 then the last digits of a phone number: her card.
    boss.say("/care")
    listing = await boss.expect(_has(care_browse.SEARCH.data()))
    await boss.press_data(listing, care_browse.SEARCH.data())
    await boss.expect(Z(care_handlers.ASK_FIND))
    boss.say("0002")
    card = await boss.expect(_has(f"cr:flag:{wu}:"))
    assert "吴大爷" in text_of(card) and WU_PHONE in text_of(card)

    # A room shared by two buildings: both offered, each a button.
    await boss.press_data(listing, care_browse.SEARCH.data())
    await boss.expect(Z(care_handlers.ASK_FIND))
    boss.say("101")
    found = await boss.expect(Z(care_browse.FOUND))
    opened = {d for _, d in buttons(found)}
    assert opened == {f"cr:open:{zhou}", f"cr:open:{wu}"}
    await boss.press_data(found, f"cr:open:{zhou}")
    await h.wait_edit(STAFF, found["message_id"], _has(f"cr:flag:{zhou}:"))

    # Something that matches nobody: said kindly, and another try works.
    await boss.press_data(listing, care_browse.SEARCH.data())
    await boss.expect(Z(care_handlers.ASK_FIND))
    boss.say("9栋 9 909")
    await boss.expect(Z(browse_service.NOTHING_FOUND))
    boss.say("1栋 1-101")
    await boss.expect(lambda m: "周阿姨" in text_of(m) and _has(f"cr:flag:{zhou}:")(m))
    await h.settle()
