"""/care, 👤 (issue 11 point 6): naming someone outside the household's grid as its responsible
person is refused with a clear message, nothing is saved and they are sent nothing; the question
stays, and someone of the grid is then accepted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.services import care
from handlers import care as care_handlers
from models import Resident
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
    await boss.expect(Z(care_handlers.ASK_WHO))
    # 陈静 volunteers in 第二网格: refused, nothing saved, she is sent nothing.
    boss.say(str(CHEN))
    refused = await boss.expect(Z(care.NOT_HERE))
    assert str(CHEN) in text_of(refused) and "第一网格" in text_of(refused)
    async with h.rt.db.read() as s:
        assert (await s.get(Resident, rid)).responsible_telegram_id is None
    # The question stays: 王刚 of 第一网格 is accepted and told.
    boss.say(str(WANG))
    await boss.expect(lambda m: "王刚" in text_of(m) and _has("cr:flag:")(m))
    await wang.expect(lambda m: "周阿姨" in text_of(m) and PHONE in text_of(m))
    await h.settle()
    assert not any(PHONE in text_of(m) or "周阿姨" in text_of(m) for m in chen.chat())
    async with h.rt.db.read() as s:
        assert (await s.get(Resident, rid)).responsible_telegram_id == WANG
