"""Notice audiences and scope, the recipients of each audience, and typed send times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.errors import Refused
from bot.runtime import Runtime
from bot.services import notices, residents
from bot.services.scope import scope_of
from models import (
    CareFlag,
    Notice,
    NoticeDelivery,
    OutboxMessage,
    Resident,
    ResidentCareFlag,
    Staff,
    StaffRole,
)
from tests.factories import STAFF

LEADER, ADMIN, NOBODY = 9101, 9201, 1234


async def _staff(rt: Runtime) -> None:
    async with rt.db.session() as s:
        now = rt.clock.now()
        s.add(
            Staff(
                telegram_id=LEADER,
                name="组长",
                role=StaffRole.GRID_LEADER,
                grid_id=2,
                created_at=now,
            )
        )
        s.add(Staff(telegram_id=ADMIN, name="管理员", role=StaffRole.ADMIN, created_at=now))


async def _resident(
    rt: Runtime, tid: int, building_id: int, flag: CareFlag | None = None, by: int = 0
) -> None:
    async with rt.db.session() as s:
        await residents.register(
            s,
            rt.clock,
            telegram_id=tid,
            name=f"R{tid}",
            phone="13800000000",
            building_id=building_id,
            unit="1",
            room="101",
        )
        if flag is not None:
            res = await s.scalar(select(Resident).where(Resident.telegram_id == tid))
            assert res is not None
            s.add(ResidentCareFlag(resident_id=res.id, flag=flag, set_by=by, set_at=rt.clock.now()))


async def test_audiences_by_role(rt: Runtime) -> None:
    await _staff(rt)
    async with rt.db.read() as s:
        community = await scope_of(s, STAFF)
        leader = await scope_of(s, LEADER)
        admin = await scope_of(s, ADMIN)
        nobody = await scope_of(s, NOBODY)
        assert notices.audiences_for(nobody) == []
        assert notices.EVERYONE in notices.audiences_for(admin)
        assert notices.EVERYONE not in notices.audiences_for(community)
        assert notices.COMMUNITY in notices.audiences_for(community)
        assert notices.audiences_for(leader) == ["grid", "building", "care", "volunteers"]
        # A grid leader's targets are their own grid and its buildings only.
        assert [k for k, _ in await notices.targets(s, leader, "grid")] == ["g2"]
        assert [k for k, _ in await notices.targets(s, leader, "building")] == ["b4", "b5"]
        assert [k for k, _ in await notices.targets(s, leader, "care")] == ["g2"]
        assert [k for k, _ in await notices.targets(s, community, "care")] == ["c1"]
        assert await notices.targets(s, leader, "everyone") == []
        with pytest.raises(Refused):
            await notices.resolve(s, leader, "building", "b1")
        with pytest.raises(Refused):
            await notices.resolve(s, community, "everyone", "all")
        t = await notices.resolve(s, leader, "building", "b4")
        assert (t.community_id, t.grid_id, t.building_id) == (1, 2, 4)


async def test_recipients_per_audience(rt: Runtime) -> None:
    await _staff(rt)
    await _resident(rt, 1, 1)
    await _resident(rt, 2, 2, CareFlag.ELDERLY_ALONE, by=STAFF)  # marked by staff
    await _resident(rt, 3, 4, CareFlag.MOBILITY, by=3)  # declared by the household
    await _resident(rt, 4, 5)

    async def chats(who: int, audience: str, key: str) -> set[int]:
        async with rt.db.session() as s:
            n = await notices.create(rt, s, who, audience, key, "hello")
            got = set(
                await s.scalars(
                    select(NoticeDelivery.chat_id).where(NoticeDelivery.notice_id == n.id)
                )
            )
        return got

    g1, g2 = -1001000000001, -1001000000002
    assert await chats(STAFF, "community", "c1") == {1, 2, 3, 4, g1, g2}
    assert await chats(STAFF, "grid", "g1") == {1, 2, g1}
    assert await chats(LEADER, "building", "b5") == {4}
    assert await chats(STAFF, "care", "c1") == {2, 3}
    assert await chats(LEADER, "care", "g2") == {3}
    assert await chats(LEADER, "volunteers", "g2") == {2101, 2102, g2}
    everyone = await chats(ADMIN, "everyone", "all")
    assert {1, 2, 3, 4, 2001, 2101, g1, g2} <= everyone
    with pytest.raises(Refused):
        await chats(LEADER, "grid", "g1")


async def test_send_claims_once_and_counts(rt: Runtime) -> None:
    await _resident(rt, 1, 1)
    async with rt.db.session() as s:
        n = await notices.create(
            rt, s, STAFF, "grid", "g1", "later", send_at=datetime(2100, 1, 1, tzinfo=UTC)
        )
    assert await notices.send_due(rt) == 0
    async with rt.db.session() as s:
        assert await notices.send(rt, s, n.id) == 2  # one household and the group
        assert await notices.send(rt, s, n.id) == 0  # claimed already
        c = await notices.counts(s, n.id)
        assert (c.recipients, c.pending, c.groups) == (1, 1, 1)
        assert await notices.confirm(rt, s, n.id, 1) is True
        assert await notices.confirm(rt, s, n.id, 1) is False
        with pytest.raises(Refused):
            await notices.confirm(rt, s, n.id, 99)
        rows = (await s.scalars(select(OutboxMessage))).all()
        assert [r.priority for r in rows] == [notices.NOTICE_PRIORITY] * 2
        notice = await s.get(Notice, n.id)
        assert notice is not None and notice.recipients == 1


@pytest.mark.parametrize("chunk", [1000, 2])
async def test_a_notice_written_in_chunks(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Written a few recipients at a time (a district's notice: 1,000 at a time), a notice has
    one delivery and one outbox row per chat, each delivery pointing at its own chat's row, a
    person both resident and volunteer once, and a pin per group chat."""
    monkeypatch.setattr(notices.sending, "WRITE_CHUNK", chunk)
    await _staff(rt)
    for tid, building in ((1, 1), (2, 2), (3, 4), (2101, 5)):  # 2101: also a volunteer
        await _resident(rt, tid, building)
    async with rt.db.session() as s:
        n = await notices.create(rt, s, ADMIN, "everyone", "all", "hello", pin=True)
    async with rt.db.read() as s:
        deliveries = (
            await s.execute(
                select(NoticeDelivery.chat_id, OutboxMessage.chat_id, NoticeDelivery.resident_id)
                .join(OutboxMessage, OutboxMessage.id == NoticeDelivery.outbox_id)
                .where(NoticeDelivery.notice_id == n.id)
            )
        ).all()
        pins = list(
            await s.scalars(select(OutboxMessage.chat_id).where(OutboxMessage.kind == "pin"))
        )
        notice = await s.get(Notice, n.id)
        everyone = await notices.recipients_of(s, notice) if notice else []
    chats = [d for d, _, _ in deliveries]
    assert all(d == o for d, o, _ in deliveries)
    assert len(chats) == len(set(chats)) == len(everyone)
    assert {1, 2, 3, 2101, 2001, -1001000000001, -1001000000002} <= set(chats)
    assert sorted(pins) == [-1001000000002, -1001000000001]
    assert notice is not None and notice.recipients == len(chats) - 2
    assert [r for _, _, r in deliveries if r is not None] != []


def test_parse_when() -> None:
    now = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    tz = "Asia/Shanghai"
    assert notices.parse_when("18:30", now, tz) == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    assert notices.parse_when("2024-05-02 08:00", now, tz) == datetime(2024, 5, 2, 0, 0, tzinfo=UTC)
    for bad in ("tomorrow", "25:00", "2024-13-01 08:00", ""):
        with pytest.raises(Refused):
            notices.parse_when(bad, now, tz)
    with pytest.raises(Refused):
        notices.parse_when("09:00", now, tz)  # already past today
