"""/care, 👤 (issue 11 point 6, issue 15 point 8): the responsible person is chosen from the
people of the household's grid; someone outside it is not offered, a forged press naming them
is refused, nothing is saved and they are sent nothing; someone of the grid is accepted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from handlers import care_browse as care_handlers
from models import Resident, Volunteer
from tests.factories import STAFF, VOLUNTEERS_1, VOLUNTEERS_2, Harness, Z, buttons, text_of

WANG, CHEN = VOLUNTEERS_1[0], VOLUNTEERS_2[0]  # 王刚 (第一网格), 陈静 (第二网格)
PHONE = "13800000001"


def _has(prefix: str) -> Any:
    return lambda m: any(d.startswith(prefix) for _, d in buttons(m))


async def test_the_responsible_person_must_be_of_the_households_grid(harness: Harness) -> None:
    h = harness
    await h.register(1001, "周阿姨", room="101", phone=PHONE)
    boss, wang, chen = h.person(STAFF, "赵书记"), h.person(WANG), h.person(CHEN)
    for p in (boss, wang, chen):
        p.say("/help")
        await p.expect(lambda m: True)
    async with h.rt.db.read() as s:
        rid = await s.scalar(select(Resident.id).where(Resident.telegram_id == 1001))

    boss.say(f"/care {PHONE}")
    card = await boss.expect(_has(f"cr:who:{rid}"))
    await boss.press_data(card, f"cr:who:{rid}")
    who = await h.wait_edit(STAFF, card["message_id"], _has(f"cr:as:{rid}:"))
    assert Z(care_handlers.CHOOSE_WHO) in text_of(who) and "第一网格" in text_of(who)
    # Only people of 第一网格 are offered: 王刚, not 陈静 (第二网格).
    labels = [t for t, _ in buttons(who)]
    assert any("王刚" in t for t in labels) and not any("陈静" in t for t in labels)
    # A forged press naming 陈静: refused, nothing saved, she is sent nothing.
    async with h.rt.db.read() as s:
        chen_vid = await s.scalar(select(Volunteer.id).where(Volunteer.telegram_id == CHEN))
    refused = await boss.press_data(who, f"cr:as:{rid}:v{chen_vid}", force=True)
    assert refused is not None and refused.get("show_alert")
    async with h.rt.db.read() as s:
        assert (await s.get(Resident, rid)).responsible_telegram_id is None
    # 王刚 of 第一网格 is named and told.
    await boss.press(who, "王刚")
    await h.wait_edit(
        STAFF, card["message_id"], lambda m: "王刚" in text_of(m) and _has("cr:flag:")(m)
    )
    await wang.expect(lambda m: "周阿姨" in text_of(m) and PHONE in text_of(m))
    await h.settle()
    assert not any(PHONE in text_of(m) or "周阿姨" in text_of(m) for m in chen.chat())
    async with h.rt.db.read() as s:
        assert (await s.get(Resident, rid)).responsible_telegram_id == WANG
