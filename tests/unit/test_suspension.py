"""Suspending a volunteer (issue 11 point 4) at the service level, and `paotui volunteer
suspend|reinstate` run in-process with its exit codes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import OffsetClock
from bot.db import Database
from bot.errors import Refused
from bot.runtime import Runtime
from bot.seed import seed_demo
from bot.services import roster, staff, suspension, volunteers
from bot.services.orders import drafts, routing, transitions, views
from bot.services.people import SUSPENDED
from cli.main import main
from models import AuditEntry, Order, OutboxMessage, Shift, Volunteer, VolunteerStatus
from tests.factories import ANSWERS, STAFF, VOLUNTEERS_1

RUNNER = VOLUNTEERS_1[0]


async def _order(rt: Runtime) -> int:
    from bot.services import directory, residents

    async with rt.db.session() as s:
        if not await s.scalar(select(Order.id).limit(1)):
            b = await directory.building_by_code(s, "xf1")
            assert b is not None
            await residents.register(
                s,
                rt.clock,
                telegram_id=1001,
                name="周阿姨",
                phone="13800000001",
                building_id=b.id,
                unit="1",
                room="101",
            )
        d = await drafts.start_draft(rt, s, 1001, category="groceries")
        await drafts.update_draft(rt, s, d.id, 1001, urgency="today", **ANSWERS["groceries"])
        return (await drafts.submit_draft(rt, s, d.id, 1001)).order.id


async def test_a_suspended_volunteer_is_off_duty_off_the_roster_and_refused(rt: Runtime) -> None:
    oid = await _order(rt)
    tomorrow = rt.today() + timedelta(days=1)
    async with rt.db.session() as s:
        vol = await s.scalar(select(Volunteer).where(Volunteer.telegram_id == RUNNER))
        assert vol is not None
        await volunteers.set_duty(rt, s, RUNNER, True)
        await transitions.claim(rt, s, oid, RUNNER)
        await transitions.advance(rt, s, oid, RUNNER, "buy")
        await roster.set_shift(rt, s, STAFF, vol.grid_id, tomorrow, "night", vol.id, True)
    async with rt.db.session() as s:
        res = await suspension.suspend(rt, s, STAFF, telegram_id=RUNNER, reason=" left  the group ")
    assert res.changed and res.handed_back == (oid,) and res.shifts_removed == 1
    async with rt.db.read() as s:
        vol = await s.get(Volunteer, vol.id)
        assert vol.status == VolunteerStatus.SUSPENDED and vol.on_duty_since is None
        assert vol.suspended_reason == "left the group"
        o = await s.get(Order, oid)
        assert (o.status, o.volunteer_id) == ("open", None)
        assert await s.scalar(select(Shift.id).where(Shift.volunteer_id == vol.id)) is None
        assert RUNNER not in await routing.on_duty_by_load(s, vol.grid_id)
        assert RUNNER not in [c.telegram_id for c in await roster.colleagues(s, vol.grid_id)]
        # The resident was told kindly; nothing they were sent says why.
        to_resident = (
            await s.scalars(select(OutboxMessage.text).where(OutboxMessage.chat_id == 1001))
        ).all()
        assert any("另一位志愿者" in t for t in to_resident)
        assert not any("suspended" in t or "停用" in t or "暂停" in t for t in to_resident)
    for act in (
        lambda s: transitions.claim(rt, s, oid, RUNNER),
        lambda s: volunteers.set_duty(rt, s, RUNNER, True),
        lambda s: views.tasks_of_volunteer(s, RUNNER),
        lambda s: views.runner_view(s, oid, RUNNER),
        lambda s: roster.upcoming(rt, s, RUNNER),
    ):
        with pytest.raises(Refused) as e:
            async with rt.db.session() as s:
                await act(s)
        assert e.value.message == SUSPENDED
    # Again: nothing changes; reinstated, they claim again.
    async with rt.db.session() as s:
        assert not (await suspension.suspend(rt, s, STAFF, telegram_id=RUNNER)).changed
    async with rt.db.session() as s:
        assert (await suspension.reinstate(rt, s, STAFF, telegram_id=RUNNER)).changed
    async with rt.db.session() as s:
        assert (await transitions.claim(rt, s, oid, RUNNER)).volunteer_telegram_id == RUNNER


async def test_only_staff_in_scope_may_suspend(rt: Runtime) -> None:
    async with rt.db.session() as s:
        await staff.add(
            s, rt.clock, None, telegram_id=5002, name="钱", role="grid_leader", grid="第二网格"
        )
    for actor in (5002, VOLUNTEERS_1[1]):  # another grid's leader; a fellow volunteer
        with pytest.raises(Refused) as e:
            async with rt.db.session() as s:
                await suspension.suspend(rt, s, actor, telegram_id=RUNNER)
        assert e.value.message == suspension.NOT_IN_SCOPE
    async with rt.db.read() as s:
        status = await s.scalar(select(Volunteer.status).where(Volunteer.telegram_id == RUNNER))
        assert status == VolunteerStatus.APPROVED
        actions = (await s.scalars(select(AuditEntry.action))).all()
        assert actions == ["staff.added"]


def _run(url: str, coro_fn: object) -> object:
    async def go() -> object:
        db = Database(url)
        try:
            return await coro_fn(db)  # type: ignore[operator]
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_the_volunteer_command_line(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = database_url
    monkeypatch.setenv("PAOTUI_DATABASE__URL", url)

    async def seed(db: Database) -> None:
        async with db.session() as s:
            await seed_demo(s, OffsetClock())
            s.add(
                Volunteer(
                    telegram_id=2999,
                    name="新人",
                    grid_id=1,
                    status=VolunteerStatus.PENDING,
                    created_at=OffsetClock().now(),
                )
            )

    _run(url, seed)
    assert main(["volunteer", "suspend", "--telegram-id", "999"]) == 1
    assert "There is no volunteer 999." in capsys.readouterr().err
    assert main(["volunteer", "suspend", "--telegram-id", "2999"]) == 1
    assert "新人 is not an approved volunteer (waiting)" in capsys.readouterr().err
    cmd = ["volunteer", "suspend", "--telegram-id", str(RUNNER), "--reason", "left the group"]
    assert main(cmd) == 0
    assert "suspended: 王刚 (2001, 幸福社区 · 第一网格)" in capsys.readouterr().out
    assert main(cmd) == 0
    assert "already suspended; nothing changed" in capsys.readouterr().out
    assert main(["volunteer", "reinstate", "--telegram-id", str(RUNNER)]) == 0
    assert "reinstated: 王刚" in capsys.readouterr().out
    assert main(["volunteer", "reinstate", "--telegram-id", str(RUNNER)]) == 0
    assert "already approved; nothing changed" in capsys.readouterr().out

    async def audit_and_outbox(db: Database) -> tuple[list[tuple], list[str]]:
        async with db.read() as s:
            log = [
                (a.actor_telegram_id, a.action, a.details.get("via"), a.details.get("reason"))
                for a in await s.scalars(select(AuditEntry).order_by(AuditEntry.id))
            ]
            told = (
                await s.scalars(select(OutboxMessage.text).where(OutboxMessage.chat_id == RUNNER))
            ).all()
        return log, list(told)

    log, told = _run(url, audit_and_outbox)  # type: ignore[misc]
    assert log == [
        (None, "volunteer.suspended", "cli", "left the group"),
        (None, "volunteer.reinstated", "cli", None),
    ]
    # Told once when suspended, once when reinstated (that message brings the volunteer's
    # menu, so the button to go on duty follows it).
    assert len(told) == 3 and told[2].startswith("⚪")
    with pytest.raises(SystemExit):
        main(["volunteer", "suspend"])  # --telegram-id is required
