"""Distribution points, checkpoints and building status, end to end (issue 17): staff import
the places in the bot and see which buildings each serves; a building moved from 防范区 to
封控区 changes how its next order is delivered and tells its residents, who confirm with
✅ 收到; a change set for later fires once at its time, across a restart; a status that
forbids single errands refuses 📝 with the reason, by phone too; the labels come from the
config."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.errors import Refused
from bot.i18n import gettext_for
from bot.services import building_status, places
from bot.services.orders import drafts
from bot.status_config import StatusDef
from handlers import phone_orders as phone_handlers
from handlers.keyboards import STAFF_PHONE_ORDER
from models import Building, BuildingStatus, Notice, NoticeDelivery, Order, Place, Resident
from tests.factories import (
    ANSWERS,
    GROUP_1,
    STAFF,
    VOLUNTEERS_1,
    Harness,
    Person,
    Z,
    buttons,
    deliver_with_proof,
    text_of,
)

HEADER = "community_code,place,kind,location,pickup_times,buildings\n"
PLACES = (
    HEADER
    + 'xingfu,北门配送点,point,北门外空地,"每天 9:00-11:00, 16:00-18:00",xf1 xf2 xf3\n'
    + "xingfu,和平里卡口,卡口,和平里东门,,hp5 hp6\n"
)


async def _places(h: Harness) -> None:
    async with h.rt.db.session() as s:
        result = await places.import_csv(h.rt, s, PLACES)
    assert not result.errors


async def _notice(h: Harness, p: Person, words: str) -> dict[str, Any]:
    """The status notice ``p`` got, with its ✅ 收到 button."""
    return await p.expect(lambda m: words in text_of(m) and "n:ok:" in str(m.get("reply_markup")))


async def _confirm(p: Person, msg: dict[str, Any]) -> None:
    data = next(d for _, d in buttons(msg) if d.startswith("n:ok:"))
    answer = await p.press_data(msg, data)
    assert answer is not None and Z("Thank you, noted.") in answer.get("text", "")


async def _order_of(h: Harness, order_id: int) -> Order:
    async with h.rt.db.read() as s:
        o = await s.get(Order, order_id)
        assert o is not None
        return o


async def _last_order(h: Harness) -> int:
    async with h.rt.db.read() as s:
        oid = await s.scalar(select(Order.id).order_by(Order.id.desc()))
        assert oid is not None
        return oid


async def test_staff_import_places_in_the_bot_and_see_them(harness: Harness) -> None:
    h = harness
    boss = h.person(STAFF)
    bad = HEADER + "xingfu,北门配送点,point,,,xf1 xf9\n"
    h.emu.send_document(STAFF, bad.encode(), file_name="places.csv", mime_type="text/csv")
    report = await boss.expect(Z("Fix these lines and send the file again."))
    assert "xf9" in text_of(report)
    assert await h.count(Building, Building.place_id.is_not(None)) == 0

    h.emu.send_document(STAFF, PLACES.encode("utf-8-sig"), file_name="p.csv")
    done = await boss.expect(Z("Imported. Created, updated, unchanged:"))
    assert "2 / 0 / 0" in text_of(done) and "0 / 5 / 0" in text_of(done)

    boss.say("/places")
    view = text_of(await boss.expect("北门配送点"))
    assert "📍 北门配送点（物资配送点，北门外空地） · 取货时间 每天 9:00-11:00, 16:00-18:00" in view
    assert "📍 和平里卡口（卡口，和平里东门）" in view
    north, gate = view.split("和平里卡口（")[0], view.split("和平里卡口（")[1]
    assert "幸福小区 1栋 (xf1)" in north and "和平里 5栋 (hp5)" in gate
    assert "/setstatus" in view

    # A resident is not staff.
    await h.register(1001, "周阿姨")
    h.person(1001).say("/places")
    await h.person(1001).expect(Z("Only staff can see the places and buildings."))


async def test_precaution_to_sealed_changes_the_next_order_and_tells_residents(
    harness: Harness,
) -> None:
    h = harness
    await _places(h)
    boss = h.person(STAFF)
    zhou = await h.register(1001, "周阿姨", building_code="xf1", room="301")
    wu = await h.register(1002, "吴大爷", building_code="xf1", room="502")
    other = await h.register(1003, "郑老师", building_code="hp5", room="101")

    # 防范区: residents may go down, so an errand is left at the building's point.
    boss.say("/setstatus xf1 防范区")
    said = await boss.expect("防范区")
    assert "幸福小区 1栋" in text_of(said) and "2" in text_of(said)
    for p in (zhou, wu):
        told = await _notice(h, p, "防范区")
        assert "北门配送点" in text_of(told) and "每天 9:00-11:00, 16:00-18:00" in text_of(told)
        assert Z("📝 You may order single errands in the bot.") in text_of(told)
        await _confirm(p, told)
    assert not [m for m in other.chat() if "防范区" in text_of(m)]  # another building

    zhou.say("/order")
    kinds = await zhou.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
    ans = {**ANSWERS["groceries"], "urgency": "normal"}
    h.past_the_evening(ans)
    summary = await h.answer_form(zhou, kinds, "groceries", ans)
    # The form already says where it will be left (not "at your door").
    assert "📍 物品会放在北门配送点" in text_of(summary)
    assert Z("Contactless: the volunteer knocks and leaves it at your door.") not in text_of(
        summary
    )
    await zhou.press_data(summary, next(d for _, d in buttons(summary) if d.startswith("d:ok:")))
    card = await h.emu.wait_for(
        zhou.user_id,
        lambda m: any(d.startswith("o:cancel:") for _, d in buttons(m)),
        15.0,
        after_message_id=summary["message_id"],
    )
    first = await _last_order(h)
    assert "📍 物品会放在北门配送点（物资配送点，北门外空地），请到那里取。" in text_of(card)
    assert (await _order_of(h, first)).place_id is not None
    runner = h.person(VOLUNTEERS_1[0])
    runner.say("/help")
    post = await h.emu.wait_for(GROUP_1, lambda m: f"o:claim:{first}" in str(m))
    assert "📍 幸福小区 1栋 · 放到北门配送点" in text_of(post)
    await runner.press_data(post, f"o:claim:{first}")
    task = await h.emu.wait_for(runner.user_id, lambda m: f"o:rel:{first}" in str(m))
    assert "按楼栋管控要求，请放在北门配送点" in text_of(task)
    assert "不要送到门口" in text_of(task)
    for verb, nxt in (("buy", "go"), ("go", "done")):
        await runner.press_data(task, f"o:{verb}:{first}")
        task = await h.wait_edit(
            runner.user_id, task["message_id"], lambda m, n=nxt: f"o:{n}:{first}" in str(m)
        )
    assert ("📦 已放到北门配送点", f"o:done:{first}") in buttons(task)
    await deliver_with_proof(h, runner, task, first)
    left = await zhou.expect("已经放到北门配送点")
    assert "请到那里取" in text_of(left) and "每天 9:00-11:00, 16:00-18:00" in text_of(left)
    zhou.seen = max(m["message_id"] for m in zhou.chat())

    # 封控区: nobody may come down; volunteers carry everything to the door.
    boss.say("/setstatus xf1 封控区")
    await boss.expect("封控区")
    for p in (zhou, wu):
        told = await _notice(h, p, "封控区")
        assert Z("🚪 Volunteers bring supplies and errands to your door.") in text_of(told)
        await _confirm(p, told)
    async with h.rt.db.read() as s:
        b = await s.scalar(select(Building).where(Building.code == "xf1"))
        assert b is not None and b.status == "sealed"
        history = list(
            await s.scalars(
                select(BuildingStatus.status)
                .where(BuildingStatus.building_id == b.id)
                .order_by(BuildingStatus.id)
            )
        )
        assert history == ["precaution", "sealed"]
        notice_id = await s.scalar(
            select(Notice.id).where(Notice.audience_id == b.id).order_by(Notice.id.desc())
        )
        confirmed = await s.scalar(
            select(NoticeDelivery.confirmed_at).where(
                NoticeDelivery.notice_id == notice_id, NoticeDelivery.chat_id == 1002
            )
        )
        assert confirmed is not None

    second_card = await h.order(wu, urgency="normal")
    second = await _last_order(h)
    assert second != first and (await _order_of(h, second)).place_id is None
    assert "北门配送点" not in text_of(second_card)
    assert Z("Contactless: the volunteer knocks and leaves it at your door.") in text_of(
        second_card
    )


async def test_a_change_set_for_later_fires_once_at_its_time_across_a_restart(
    harness: Harness,
) -> None:
    h = harness
    await h.own_the_sweep()
    await _places(h)
    boss = h.person(STAFF)
    zhou = await h.register(1001, "周阿姨", building_code="xf2")
    at = (h.rt.clock.now() + timedelta(hours=2)).astimezone(ZoneInfo(h.rt.timezone))
    boss.say(f"/setstatus xf2 管控区 {at:%Y-%m-%d %H:%M}")
    said = await boss.expect("管控区")
    assert f"{at:%Y-%m-%d %H:%M}" in text_of(said)
    await h.sweep()
    assert not [m for m in zhou.chat() if "管控区" in text_of(m)]  # not yet
    boss.say("/places")
    view = text_of(await boss.expect("北门配送点"))
    assert f"幸福小区 2栋 (xf2) · 🕘 {at:%m-%d %H:%M} 起为管控区" in view
    # Another change, for xf3, set and then cancelled: it never fires.
    boss.say(f"/setstatus xf3 封控区 {at:%Y-%m-%d %H:%M}")
    await boss.expect("封控区")
    boss.say("/setstatus xf3 取消")
    await boss.expect("已撤销 1 项")

    h.advance(hours=2, minutes=1)
    await h.restart()
    await h.sweep()
    told = await _notice(h, zhou, "管控区")
    await _confirm(zhou, told)
    fired = await h.sweep()
    assert fired["building statuses"] == 0
    await h.restart()
    assert (await h.sweep())["building statuses"] == 0
    assert len([m for m in zhou.chat() if "管控区" in text_of(m)]) == 1
    async with h.rt.db.read() as s:
        b = await s.scalar(select(Building).where(Building.code == "xf2"))
        assert b is not None and b.status == "controlled"
        assert b.status_since is not None and abs(b.status_since - at) < timedelta(minutes=1)
        assert await s.scalar(select(Notice.id).where(Notice.audience_id == b.id)) is not None
        xf3 = await s.scalar(select(Building).where(Building.code == "xf3"))
        assert xf3 is not None and xf3.status is None


FOUR_COLOURS = [
    StatusDef(key="red", label="红色", delivery="door", errands=False),
    StatusDef(key="yellow", label="黄色", delivery="door", errands=True),
    StatusDef(key="green", label="绿色", delivery="pickup", errands=True),
]


async def test_a_status_without_errands_refuses_them_with_the_reason(harness: Harness) -> None:
    h = harness
    conf = h.rt.settings.building_status.model_copy(
        update={"communities": {"xingfu": FOUR_COLOURS}}
    )
    h.rt.settings = h.rt.settings.model_copy(update={"building_status": conf})
    await _places(h)
    boss = h.person(STAFF)
    zhou = await h.register(1001, "周阿姨", building_code="xf3")

    # The community's own labels: the default ones are not its statuses.
    boss.say("/setstatus xf3 封控区")
    refused = await boss.expect("封控区")
    assert "红色、黄色、绿色" in text_of(refused)

    boss.say("/setstatus xf3 红色")
    await boss.expect("红色")
    told = await _notice(h, zhou, "红色")
    assert Z(
        "🚫 Single errands are not taken for now: supplies come through the community "
        "(group-buys and deliveries to your building)."
    ) in text_of(told)

    zhou.say("/order")
    why = await zhou.expect("红色")
    assert "幸福小区 3栋" in text_of(why) and "0371-12345678" in text_of(why)
    assert not any(d.startswith("d:cat:") for _, d in buttons(why))
    assert await h.count(Order) == 0

    # Taken by phone (📞 代下单): the same rule, said when the building is chosen.
    boss.say(Z(STAFF_PHONE_ORDER))
    find = await boss.expect(Z(phone_handlers.FIND))
    await boss.press(find, "幸福小区")
    built = await h.wait_edit(STAFF, find["message_id"], lambda m: "3栋" in str(m["reply_markup"]))
    data = next(d for t, d in buttons(built) if "3栋" in t)
    alerted = await boss.press_data(built, data)
    assert alerted is not None and "红色" in alerted.get("text", "")
    assert "暂停个人跑腿下单" in alerted.get("text", "")
    async with h.rt.db.session() as s:
        rid = await s.scalar(select(Resident.id).where(Resident.telegram_id == 1001))
        assert rid is not None
        with pytest.raises(Refused) as e:
            await drafts.start_phone_draft(h.rt, s, STAFF, rid)
    assert "红色" in e.value.render(gettext_for("zh_CN"))

    # Back to a status with errands: the form opens again.
    boss.say("/setstatus xf3 yellow")
    await _notice(h, zhou, "黄色")
    zhou.say("/order")
    await zhou.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))


async def test_stats_and_the_ledger_show_buildings_by_status(harness: Harness) -> None:
    from bot.services import reports
    from bot.services.scope import scope_of

    h = harness
    await _places(h)
    boss = h.person(STAFF)
    boss.say("/setstatus xf1,xf2 封控区")  # several at once
    both = await boss.expect("封控区")
    assert "幸福小区 1栋" in text_of(both) and "幸福小区 2栋" in text_of(both)
    boss.say("/setstatus hp5,nowhere 防范区")  # all or none
    await boss.expect("nowhere")
    boss.say("/setstatus hp5 防范区")
    await boss.expect("防范区")
    zhou = await h.register(1001, "周阿姨", building_code="xf1")
    order_id = await h.order_by_service(zhou.user_id)
    from tests.factories import run_to_door

    await run_to_door(h, order_id, VOLUNTEERS_1[0], GROUP_1)

    boss.say("/stats")
    stats = text_of(await boss.expect(Z("🏢 Buildings by status:")))
    line = next(x for x in stats.splitlines() if x.startswith("• 幸福社区"))
    assert "封控区 2 · 防范区 1 · 未设状态 2" in line

    async with h.rt.db.read() as s:
        scope = await scope_of(s, STAFF)
        today = h.rt.today()
        sheets = await reports.ledger(s, scope, today, today, h.rt.timezone)
    sheet = next(x for x in sheets if x.title == "楼栋状态")
    assert sheet.headings == (
        "社区",
        "网格",
        "楼栋",
        "楼栋编码",
        "配送点/卡口",
        "状态",
        "生效时间",
        "送达订单数",
        "团购送达户数",
    )
    rows = {r[3]: r for r in sheet.rows}
    assert rows["xf1"][4] == "北门配送点" and rows["xf1"][5] == "封控区" and rows["xf1"][7] == 1
    assert rows["hp5"][4] == "和平里卡口" and rows["hp5"][5] == "防范区" and rows["hp5"][7] == 0
    assert rows["xf3"][5] == "" and rows["xf3"][6] is None
    assert sheet.totals is not None and sheet.totals[7] == 1


async def test_staff_set_a_whole_point_by_buttons(harness: Harness) -> None:
    h = harness
    await _places(h)
    boss = h.person(STAFF)
    zhou = await h.register(1001, "周阿姨", building_code="xf1")
    wu = await h.register(1002, "吴大爷", building_code="xf3")
    zheng = await h.register(1003, "郑老师", building_code="hp5")

    boss.say("/places")
    view = await boss.expect(lambda m: "bs:p:" in str(m.get("reply_markup")))
    await boss.press(view, "北门配送点")
    which = await boss.expect("设置哪栋楼的状态")
    assert [t for t, _ in buttons(which)][:3] == [
        "幸福小区 1栋 · —",
        "幸福小区 2栋 · —",
        "幸福小区 3栋 · —",
    ]
    await boss.press(which, "全部 3 栋楼")
    statuses = await h.wait_edit(STAFF, which["message_id"], lambda m: "bs:s:" in str(m))
    assert [t for t, _ in buttons(statuses)][:3] == [
        "封控区 · 送到门口",
        "管控区 · 到配送点取",
        "防范区 · 到配送点取",
    ]
    await boss.press(statuses, "封控区")
    done = await h.wait_edit(STAFF, which["message_id"], lambda m: not buttons(m))
    assert text_of(done).count("即日起为封控区") == 3
    for p in (zhou, wu):
        await _confirm(p, await _notice(h, p, "封控区"))
    assert not [m for m in zheng.chat() if "封控区" in text_of(m)]
    async with h.rt.db.read() as s:
        got = dict(
            (await s.execute(select(Building.code, Building.status).order_by(Building.id))).all()
        )
    assert got == {"xf1": "sealed", "xf2": "sealed", "xf3": "sealed", "hp5": None, "hp6": None}

    # A grid leader of the other grid sees its point only, and a forged press for the north
    # point's buildings is refused.
    leader = await h.add_grid_leader(9100, "孙网格长", grid_id=2)
    leader.say("/places")
    own = await leader.expect(lambda m: "bs:p:" in str(m.get("reply_markup")))
    assert "和平里卡口" in text_of(own) and "北门配送点" not in text_of(own)
    async with h.rt.db.read() as s:
        north = await s.scalar(select(Place.id).where(Place.name == "北门配送点"))
    refused = await leader.press_data(own, f"bs:s:{north}:0:precaution", force=True)
    assert refused is not None and Z(building_status.NOT_YOURS) in refused.get("text", "")
    assert await h.count(Building, Building.status == "precaution") == 0

    await boss.press(view, "北门配送点")
    again = await boss.expect("设置哪栋楼的状态")
    assert "封控区" in str(buttons(again))
    await boss.press(again, "✖️")
    await h.wait_edit(
        STAFF, again["message_id"], lambda m: Z("No status was changed.") in text_of(m)
    )
