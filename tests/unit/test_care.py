"""The care list services: finding and marking households in scope, the daily check-in claimed
once, the first answer counting, and the no-answer alert fired once."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from bot.errors import Refused
from bot.runtime import Runtime
from bot.services import care, care_checkins, directory, isolation, residents
from models import AuditEntry, CareCheck, OutboxMessage

STAFF, WANG = 9001, 2001


def _to_local(rt: Runtime, hhmm: str) -> None:
    tz = ZoneInfo(rt.timezone)
    now = rt.clock.now().astimezone(tz)
    hh, mm = map(int, hhmm.split(":"))
    target = datetime.combine(now.date(), time(hh, mm), tzinfo=tz)
    if target <= now:
        target += timedelta(days=1)
    rt.clock.advance(target - now)  # type: ignore[attr-defined]


async def _register(rt: Runtime, tid: int, name: str, room: str, phone: str) -> int:
    async with rt.db.session() as s:
        b = await directory.building_by_code(s, "xf1")
        assert b is not None
        await residents.register(
            s,
            rt.clock,
            telegram_id=tid,
            name=name,
            phone=phone,
            building_id=b.id,
            unit="1",
            room=room,
        )
    async with rt.db.session() as s:
        return await care.find(s, STAFF, phone)


async def _outbox_to(rt: Runtime, chat_id: int) -> list[str]:
    async with rt.db.read() as s:
        rows = await s.scalars(select(OutboxMessage.text).where(OutboxMessage.chat_id == chat_id))
        return list(rows)


def test_isolating_and_flags() -> None:
    today = date(2026, 11, 23)
    assert isolation.isolating(today, today)
    assert not isolation.isolating(today - timedelta(days=1), today)
    assert not isolation.isolating(None, today)


async def test_find_mark_assign_in_scope(rt: Runtime) -> None:
    _to_local(rt, "13:00")
    rid = await _register(rt, 1001, "周阿姨", "101", "13800000001")
    async with rt.db.session() as s:
        assert await care.find(s, STAFF, "1栋 1 101") == rid
        assert await care.find(s, STAFF, "xf1 1-101") == rid
        with pytest.raises(Refused):
            await care.find(s, 1001, "13800000001")  # not staff
        with pytest.raises(Refused):
            await care.find(s, STAFF, "13899999999")
        h = await care.toggle_flag(rt, s, STAFF, rid, "mobility")
        assert h.flags == ("mobility",)
        with pytest.raises(Refused):
            await care.assign(rt, s, STAFF, rid, "123456")  # nobody we know
        h = await care.assign(rt, s, STAFF, rid, str(WANG))
        assert h.responsible_telegram_id == WANG and h.responsible == "王刚"
        with pytest.raises(Refused):
            await care.set_isolation(rt, s, STAFF, rid, "2000-01-01")
        with pytest.raises(Refused):
            await care.toggle_flag(rt, s, 1001, rid, "chronic")  # a resident
    async with rt.db.read() as s:
        actions = list(await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-2:] == ["care.mark", "care.assign"]
    assert any("周阿姨" in t for t in await _outbox_to(rt, WANG))


async def test_check_in_once_first_answer_and_alert_once(rt: Runtime) -> None:
    _to_local(rt, "13:00")
    zhou = await _register(rt, 1001, "周阿姨", "101", "13800000001")
    wu = await _register(rt, 1002, "吴大爷", "102", "13800000002")
    async with rt.db.session() as s:
        await care.toggle_flag(rt, s, STAFF, zhou, "elderly_alone")
        await care.assign(rt, s, STAFF, zhou, "me")
        await care.toggle_flag(rt, s, STAFF, wu, "chronic")
    assert await care_checkins.ask_due(rt) == 0  # afternoon: not asked
    _to_local(rt, "08:59")
    assert await care_checkins.ask_due(rt) == 0
    _to_local(rt, "09:00")
    assert await care_checkins.ask_due(rt) == 2
    assert await care_checkins.ask_due(rt) == 0
    async with rt.db.read() as s:
        checks = {c.resident_id: c.id for c in await s.scalars(select(CareCheck))}
    async with rt.db.session() as s:
        with pytest.raises(Refused):
            await care_checkins.answer(rt, s, 1002, checks[zhou], "ok")  # not hers
        first = await care_checkins.answer(rt, s, 1001, checks[zhou], "call")
        again = await care_checkins.answer(rt, s, 1001, checks[zhou], "ok")
    assert first.first and first.answer == care_checkins.CALL and first.told == 1
    assert not again.first and again.answer == care_checkins.CALL
    assert sum(t.startswith("📞") and "13800000001" in t for t in await _outbox_to(rt, STAFF)) == 1
    assert await care_checkins.alert_due(rt) == 0  # before 12:00
    _to_local(rt, "12:00")
    assert await care_checkins.alert_due(rt) == 1  # 吴大爷, to the staff in scope
    assert await care_checkins.alert_due(rt) == 0
    async with rt.db.read() as s:
        alerted = await s.scalar(
            select(func.count()).select_from(CareCheck).where(CareCheck.alerted_at.is_not(None))
        )
    assert alerted == 1
    assert sum("13800000002" in t for t in await _outbox_to(rt, STAFF)) == 1


async def test_care_list_reads_households_in_a_few_queries(rt: Runtime) -> None:
    _to_local(rt, "09:30")
    rids = [
        await _register(rt, 1001 + i, f"住户{i}", f"10{i + 1}", f"1380000000{i + 1}")
        for i in range(4)
    ]
    async with rt.db.session() as s:
        await care.toggle_flag(rt, s, STAFF, rids[0], "elderly_alone")
        await care.assign(rt, s, STAFF, rids[1], "me")
        await care.assign(rt, s, STAFF, rids[2], str(WANG))
    assert await care_checkins.ask_due(rt) == 1

    statements = 0

    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    async def listed() -> tuple[list[care.Household], int]:
        nonlocal statements
        async with rt.db.session() as s:
            statements = 0
            homes = await care.care_list(rt, s, STAFF)
            return homes, statements

    engine = rt.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        homes, three = await listed()
        async with rt.db.session() as s:
            await care.assign(rt, s, STAFF, rids[3], str(WANG))
        more, four = await listed()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [h.resident_id for h in homes] == rids[:3]
    assert [h.responsible for h in homes] == [None, "赵书记", "王刚"]
    assert {h.compound for h in homes} == {"幸福小区"}
    assert homes[0].check_id is not None and homes[0].answer is None
    assert homes[1].check_id is None and homes[2].check_id is None
    assert [h.resident_id for h in more] == rids and more[3].responsible == "王刚"
    assert four == three  # one more household, no more queries
