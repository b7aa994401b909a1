"""The care list's responsible person (issue 11 point 6) receives a household's name, phone and
address: only staff or approved volunteers whose scope covers the household's grid may be named,
and a responsible person who lost that (suspended) is no longer alerted."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.errors import Refused
from bot.runtime import Runtime
from bot.services import care, care_checkins, directory, residents, staff, suspension
from models import AuditEntry, CareCheck, OutboxMessage, Resident

STAFF, WANG, CHEN = 9001, 2001, 2101  # community staff; volunteers of 第一 and 第二网格
LEADER_2 = 5002  # grid leader of 第二网格
PHONE = "13800000001"


async def _zhou(rt: Runtime) -> int:
    """周阿姨 of 1栋 (第一网格)."""
    async with rt.db.session() as s:
        b = await directory.building_by_code(s, "xf1")
        assert b is not None
        await residents.register(
            s, rt.clock, telegram_id=1001, name="周阿姨", phone=PHONE, building_id=b.id,
            unit="1", room="101",
        )  # fmt: skip
        await staff.add(
            s, rt.clock, None, telegram_id=LEADER_2, name="钱", role="grid_leader", grid="第二网格"
        )
    async with rt.db.session() as s:
        return await care.find(s, STAFF, PHONE)


async def _told(rt: Runtime, chat_id: int) -> list[str]:
    async with rt.db.read() as s:
        rows = await s.scalars(select(OutboxMessage.text).where(OutboxMessage.chat_id == chat_id))
        return list(rows)


async def _responsible(rt: Runtime, rid: int) -> int | None:
    async with rt.db.read() as s:
        return await s.scalar(select(Resident.responsible_telegram_id).where(Resident.id == rid))


async def test_only_someone_whose_scope_covers_the_household_can_be_responsible(
    rt: Runtime,
) -> None:
    rid = await _zhou(rt)
    async with rt.db.session() as s:  # 王刚 is suspended: no longer an approved volunteer
        await suspension.suspend(rt, s, STAFF, telegram_id=WANG)
    refused = {
        str(CHEN): care.NOT_HERE,  # an approved volunteer of another grid
        str(LEADER_2): care.NOT_HERE,  # another grid's leader
        str(WANG): care.NOT_HELPER,  # a suspended volunteer of this grid
        "1001": care.NOT_HELPER,  # a resident
    }
    for text, reason in refused.items():
        with pytest.raises(Refused) as e:
            async with rt.db.session() as s:
                await care.assign(rt, s, STAFF, rid, text)
        assert e.value.message == reason, text
        assert await _responsible(rt, rid) is None  # nothing saved
        assert not any(PHONE in t for t in await _told(rt, int(text)))  # nothing sent
    async with rt.db.read() as s:
        assert "care.assign" not in (await s.scalars(select(AuditEntry.action))).all()

    # Accepted: an approved volunteer of the household's grid, staff in scope, "me".
    async with rt.db.session() as s:
        await suspension.reinstate(rt, s, STAFF, telegram_id=WANG)
    for text, tid in ((str(WANG), WANG), ("me", STAFF)):
        async with rt.db.session() as s:
            h = await care.assign(rt, s, STAFF, rid, text)
        assert h.responsible_telegram_id == tid == await _responsible(rt, rid)
        assert any(PHONE in t for t in await _told(rt, tid))


async def test_a_suspended_responsible_person_is_no_longer_alerted(rt: Runtime) -> None:
    tz = ZoneInfo(rt.timezone)
    now = rt.clock.now().astimezone(tz)
    nine = datetime.combine(now.date() + timedelta(days=1), time(9, 30), tzinfo=tz)
    rid = await _zhou(rt)
    async with rt.db.session() as s:
        await care.toggle_flag(rt, s, STAFF, rid, "elderly_alone")
        await care.assign(rt, s, STAFF, rid, str(WANG))
        await suspension.suspend(rt, s, STAFF, telegram_id=WANG)
    rt.clock.advance(nine - now)  # type: ignore[attr-defined]
    assert await care_checkins.ask_due(rt) == 1
    async with rt.db.read() as s:
        check_id = await s.scalar(select(CareCheck.id))
    before = len(await _told(rt, WANG))
    async with rt.db.session() as s:
        got = await care_checkins.answer(rt, s, 1001, check_id, "call")
    assert got.told == 1
    assert len(await _told(rt, WANG)) == before  # not the suspended volunteer
    assert any(PHONE in t for t in await _told(rt, STAFF))  # the grid's staff instead
