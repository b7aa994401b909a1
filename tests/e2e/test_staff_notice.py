"""Staff send a notice to one grid through /notice; deep links pre-fill the building."""

from __future__ import annotations

from sqlalchemy import select

from handlers.notices import PREVIEW_TO
from handlers.registration import PHONE_WHY
from models import Notice, Resident
from tests.factories import GROUP_1, GROUP_2, STAFF, Harness, Z, buttons, text_of


async def test_staff_notice_to_one_grid(harness: Harness) -> None:
    h = harness
    a = await h.register(1001, "周阿姨", building_code="xf1")
    b = await h.register(1002, "吴大爷", building_code="hp5")  # the other grid
    boss = h.person(STAFF)
    boss.say("/notice")
    whom = await boss.expect(Z("Send a notice to whom?"))
    assert not any("n:a:everyone" == d for _, d in buttons(whom))  # admins only
    await boss.press(whom, Z("🗺 A grid"))
    grids = await h.wait_edit(STAFF, whom["message_id"], lambda m: "n:t:g1" in str(buttons(m)))
    await boss.press(grids, "第一网格")
    boss.say("致辖区居民的一封信：明早7点核酸检测")
    preview = await boss.expect(Z(PREVIEW_TO))
    assert "明早7点" in text_of(preview) and "第一网格" in text_of(preview)
    await boss.press(preview, Z("✅ Send now"))
    await boss.expect(Z("Notice #{id} is on its way to {n} households."))
    await h.settle()
    got = await a.expect("明早7点")
    assert buttons(got) == [(Z("✅ Received"), "n:ok:1")]
    await a.expect_in(GROUP_1, "明早7点")
    assert not any("明早7点" in text_of(m) for m in h.emu.messages(1002))
    assert not any("明早7点" in text_of(m) for m in h.emu.messages(GROUP_2))
    async with h.rt.db.read() as s:
        notice = await s.scalar(select(Notice))
    assert notice is not None and notice.recipients == 1 and notice.grid_id == 1
    assert notice.audience == "grid" and notice.sent_at is not None
    assert b.user_id == 1002


async def test_notice_is_refused_to_non_staff(harness: Harness) -> None:
    h = harness
    a = await h.register(1001, "周阿姨")
    a.say("/notice")
    await a.expect(Z("Only community staff can send notices."))
    assert await h.count(Notice) == 0


async def test_building_deep_link_prefills_the_address(harness: Harness) -> None:
    h = harness
    grandpa = h.person(1002, "吴大爷")
    grandpa.say("/start b_hp5")
    units = await grandpa.expect("和平里 5栋")
    await grandpa.press(units, "4")
    await grandpa.expect(Z("Your room number? For example 302."))
    grandpa.say("1202")
    await grandpa.expect(Z("How should the volunteer call you? (your name, e.g. 周阿姨)"))
    grandpa.say("吴大爷")
    await grandpa.expect(Z(PHONE_WHY))
    grandpa.say("139-1234-5678")  # typed rather than shared
    await grandpa.expect("13912345678")
    async with h.rt.db.read() as s:
        me = await s.scalar(select(Resident))
    assert me is not None and (me.unit, me.room, me.phone) == ("4", "1202", "13912345678")
