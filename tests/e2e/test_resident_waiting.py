"""Nobody has come (issue 15, point 3): at each escalation step of an unclaimed order the
resident is told what is being done, with the community's hotline; 🔔 催一催 reminds the staff
covering the order once per `urge_every_minutes`, is refused kindly in between, and staff
views (/stats) show the order as urged. Time moves on the sandbox clock."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.buttons import order_action, urge_action
from bot.i18n import gettext_for
from bot.seed import DEMO
from bot.services import volunteers, waiting
from bot.services.orders import drafts, transitions
from bot.services.reports import stats
from models import Community, Order, OrderEvent
from tests.factories import ANSWERS, STAFF, VOLUNTEERS_1, Harness, Person, Z, buttons, text_of

AUNT = 1001
RUNNER = VOLUNTEERS_1[0]
_ZH = gettext_for("zh_CN")


async def _setup(h: Harness) -> tuple[Person, Person]:
    boss = h.person(STAFF)
    boss.say("/help")
    aunt = await h.register(AUNT, "周阿姨")
    async with h.rt.db.session() as s:
        await volunteers.set_duty(h.rt, s, RUNNER, True)
    await h.settle()
    await h.own_the_sweep()
    boss.seen = max([m["message_id"] for m in boss.chat()] or [0])
    return aunt, boss


async def _urgent_medicine(h: Harness) -> int:
    async with h.rt.db.session() as s:
        d = await drafts.start_draft(h.rt, s, AUNT, category="medicine")
        await drafts.update_draft(h.rt, s, d.id, AUNT, urgency="urgent", **ANSWERS["medicine"])
        oid = (await drafts.submit_draft(h.rt, s, d.id, AUNT)).order.id
    h.rt.wake_outbox()
    await h.settle()
    return oid


def _told(step: str) -> Any:
    return lambda m: (
        Z(waiting.STILL_WAITING) in text_of(m) and _ZH(waiting.STEP_DONE[step]) in text_of(m)
    )


def _urged_alerts(boss: Person, oid: int) -> list[dict[str, Any]]:
    return [
        m for m in boss.chat() if Z(waiting.STAFF_URGED) in text_of(m) and f"#{oid}" in text_of(m)
    ]


async def test_the_resident_hears_each_step_with_the_hotline_and_can_urge(
    harness: Harness,
) -> None:
    h = harness
    aunt, boss = await _setup(h)
    oid = await _urgent_medicine(h)  # urgent: ping again at 10 min, community at 30

    h.advance(minutes=11)
    assert (await h.sweep())["escalation"] == 1
    first = await aunt.expect(_told("ping_again"))
    assert f"#{oid}" in text_of(first) and DEMO.hotline in text_of(first)
    # Cancelling stays on the order's live card, the one message whose order buttons act.
    assert buttons(first) == [(_ZH(waiting.URGE), urge_action(oid))]

    # 催一催: the staff covering the order hear that she is waiting, once; /stats lists the
    # order as urged though it has not waited its 30 minutes yet.
    ans = await aunt.press_data(first, urge_action(oid))
    assert ans is not None and ans["text"] == _ZH(waiting.URGED)
    await aunt.expect(_ZH(waiting.URGED))
    alert = await boss.expect(Z(waiting.STAFF_URGED))
    assert f"#{oid}" in text_of(alert) and "周阿姨" in text_of(alert)
    async with h.rt.db.read() as s:
        o = await s.get(Order, oid)
        assert o is not None and o.urge_count == 1 and o.urged_at is not None
        notes = list(await s.scalars(select(OrderEvent.note).where(OrderEvent.order_id == oid)))
    assert notes.count("urged") == 1
    boss.say("/stats")
    report = await boss.expect(Z("⚠️ Unclaimed for more than {n} minutes:"))
    line = next(x for x in text_of(report).splitlines() if f"#{oid}" in x)
    assert _ZH(stats.URGED).format(n=1) in line

    # Again soon after: refused kindly with when she may press again; staff hear nothing new.
    h.advance(minutes=3)
    ans = await aunt.press_data(first, urge_action(oid))
    assert ans is not None and ans["show_alert"]
    too_soon = _ZH(waiting.TOO_SOON)
    assert too_soon.split("{time}")[0] in ans["text"] and "7" in ans["text"]
    await h.settle()
    assert len(_urged_alerts(boss, oid)) == 1

    # The next step: told again, with the hotline; and she may remind them again.
    h.advance(minutes=17)
    assert (await h.sweep())["escalation"] == 1
    second = await aunt.expect(_told("community"))
    assert DEMO.hotline in text_of(second) and f"#{oid}" in text_of(second)
    ans = await aunt.press_data(second, urge_action(oid))
    assert ans is not None and ans["text"] == _ZH(waiting.URGED)
    await boss.expect(lambda m: Z(waiting.STAFF_URGED) in text_of(m) and "2" in text_of(m))
    assert len(_urged_alerts(boss, oid)) == 2

    # Taken: the old button says so, and nothing reaches the staff.
    async with h.rt.db.session() as s:
        await transitions.claim(h.rt, s, oid, RUNNER)
    h.rt.wake_outbox()
    h.advance(minutes=15)
    ans = await aunt.press_data(first, urge_action(oid))
    assert ans is not None and ans["show_alert"] and "王刚" in ans["text"]
    await h.settle()
    assert len(_urged_alerts(boss, oid)) == 2


async def test_the_config_hotline_stands_in_and_cancel_still_works(harness: Harness) -> None:
    h = harness
    async with h.rt.db.session() as s:
        community = await s.scalar(select(Community).where(Community.code == DEMO.code))
        assert community is not None
        community.hotline = None
    h.rt.settings.community.hotline = "12345"
    aunt, _boss = await _setup(h)
    oid = await _urgent_medicine(h)
    h.advance(minutes=11)
    assert (await h.sweep())["escalation"] == 1
    told = await aunt.expect(_told("ping_again"))
    assert "12345" in text_of(told)

    # The resident's cancel is on the order's card, as before: asked first, then cancelled.
    card = await h.card(oid)
    await aunt.press_data(card, order_action("cancel", oid))
    ask = await h.emu.wait_for(AUNT, lambda m: f"o:cxl:{oid}" in str(m.get("reply_markup")))
    yes = next(d for _, d in buttons(ask) if d.startswith(f"o:cxl:{oid}"))
    await aunt.press_data(ask, yes)
    await h.settle()
    async with h.rt.db.read() as s:
        o = await s.get(Order, oid)
        assert o is not None and o.status == "cancelled"
    # The waiting message's 🔔 after the order was cancelled:
    ans = await aunt.press_data(told, urge_action(oid), force=True)
    assert ans is not None and ans["show_alert"]
    assert ans["text"] == _ZH(waiting.NOT_WAITING).format(id=oid)
