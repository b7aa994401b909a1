"""Staff management: the service (validation, scope, no-op repeats, the last admin, audit)
and `paotui staff ...` run in-process."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.clock import OffsetClock
from bot.db import Database
from bot.errors import Refused
from bot.i18n import gettext_for
from bot.runtime import Runtime
from bot.seed import ensure_admins, seed_demo
from bot.services import people, scope, staff
from cli.main import main
from models import AuditEntry, Staff

EN = gettext_for("en")


async def _audit(rt: Runtime) -> list[AuditEntry]:
    async with rt.db.read() as s:
        return list(await s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


async def test_add_a_grid_leader_scopes_them_to_the_grid(rt: Runtime) -> None:
    async with rt.db.session() as s:
        res = await staff.add(
            s,
            rt.clock,
            9100,
            telegram_id=5001,
            name=" 钱  组长 ",
            role="grid_leader",
            grid="第一网格",
        )
    assert res.added and res.member.name == "钱 组长"
    assert res.member.scope == "幸福社区 · 第一网格"
    async with rt.db.read() as s:
        assert [name for _id, name in await scope.grids_of(s, 5001)] == ["第一网格"]
        assert (await people.roles_of(s, 5001)).staff_roles == ("grid_leader",)
    [entry] = await _audit(rt)
    assert (entry.actor_telegram_id, entry.action, entry.target) == (
        9100,
        "staff.added",
        "staff:5001",
    )
    assert entry.details["role"] == "grid_leader" and entry.details["via"] == "bot"


async def test_the_same_role_twice_changes_nothing(rt: Runtime) -> None:
    for _ in range(2):
        async with rt.db.session() as s:
            res = await staff.add(
                s, rt.clock, None, telegram_id=5002, name="孙", role="community", community="xingfu"
            )
    assert not res.added
    async with rt.db.read() as s:
        rows = (await s.scalars(select(Staff).where(Staff.telegram_id == 5002))).all()
    assert len(rows) == 1 and len(await _audit(rt)) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role": "community"}, "Community staff need a community"),
        ({"role": "grid_leader"}, "A grid leader needs a grid"),
        ({"role": "community", "community": "nowhere"}, "There is no community nowhere."),
        ({"role": "grid_leader", "grid": "第九网格"}, "There is no grid 第九网格."),
        ({"role": "boss"}, "Unknown role boss"),
        ({"role": "admin", "name": "  "}, "Please give the person's name."),
    ],
)
async def test_bad_input_is_refused_clearly(rt: Runtime, kwargs: dict, message: str) -> None:
    kwargs = {"name": "某人", **kwargs}
    with pytest.raises(Refused) as e:
        async with rt.db.session() as s:
            await staff.add(s, rt.clock, None, telegram_id=5003, **kwargs)
    assert message in e.value.render(EN)
    assert await _audit(rt) == []


async def test_grid_by_id_and_community_by_name(rt: Runtime) -> None:
    async with rt.db.session() as s:
        grid = await staff.find_grid(s, "第二网格")
        res = await staff.add(
            s,
            rt.clock,
            None,
            telegram_id=5004,
            name="李",
            role="grid_leader",
            grid=str(grid.id),
            community="幸福社区",
        )
    assert res.member.grid_id == grid.id


async def test_remove_and_the_last_admin(rt: Runtime) -> None:
    async with rt.db.session() as s:
        await ensure_admins(s, rt.clock, [9100])
    async with rt.db.read() as s:
        admin_row = await s.scalar(select(Staff).where(Staff.telegram_id == 9100))
        assert admin_row is not None
    with pytest.raises(Refused) as e:
        async with rt.db.session() as s:
            await staff.remove_one(s, rt.clock, 9100, admin_row.id)
    assert "last admin" in e.value.render(EN)
    with pytest.raises(Refused) as e:
        async with rt.db.session() as s:
            await staff.remove_one(s, rt.clock, 9001, admin_row.id)  # community staff, not admin
    assert "Only admins" in e.value.render(EN)
    async with rt.db.session() as s:
        removed = await staff.remove(s, rt.clock, None, telegram_id=9001)
    assert [(v.role, v.scope) for v in removed] == [("community", "幸福社区")]
    async with rt.db.read() as s:
        assert await scope.grids_of(s, 9001) == []
    assert [(a.action, a.actor_telegram_id) for a in await _audit(rt)] == [("staff.removed", None)]


async def test_list_orders_by_role(rt: Runtime) -> None:
    async with rt.db.session() as s:
        await ensure_admins(s, rt.clock, [9100])
        await staff.add(
            s, rt.clock, None, telegram_id=5001, name="钱", role="grid_leader", grid="第一网格"
        )
        rows = await staff.list_staff(s)
    assert [v.role for v in rows] == ["admin", "community", "grid_leader"]


# --- the command line, in-process -----------------------------------------------------------


def _seed(url: str) -> None:
    async def go() -> None:
        db = Database(url)
        async with db.session() as s:
            await seed_demo(s, OffsetClock())
        await db.dispose()

    asyncio.run(go())


def _rows(url: str) -> list[tuple[int, str, str]]:
    async def go() -> list[tuple[int, str, str]]:
        db = Database(url)
        async with db.read() as s:
            rows = [
                (a.actor_telegram_id, a.action, a.target)
                for a in await s.scalars(select(AuditEntry).order_by(AuditEntry.id))
            ]
        await db.dispose()
        return rows

    return asyncio.run(go())


def test_the_command_line(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = database_url
    monkeypatch.setenv("PAOTUI_DATABASE__URL", url)
    _seed(url)
    add = ["staff", "add", "--telegram-id", "5001", "--name", "钱组长"]
    assert main([*add, "--role", "grid_leader", "--grid", "第一网格"]) == 0
    assert "added: grid_leader" in capsys.readouterr().out
    assert main([*add, "--role", "grid_leader", "--grid", "第一网格"]) == 0
    assert "already there, nothing changed" in capsys.readouterr().out
    assert main([*add, "--role", "community"]) == 1
    assert "Community staff need a community" in capsys.readouterr().err
    assert main([*add, "--role", "community", "--community", "nowhere"]) == 1
    assert "There is no community nowhere." in capsys.readouterr().err
    assert main([*add, "--role", "grid_leader", "--grid", "第九网格"]) == 1
    assert "There is no grid 第九网格." in capsys.readouterr().err
    assert main(["staff", "list"]) == 0
    out = capsys.readouterr().out
    assert "5001" in out and "幸福社区 · 第一网格" in out and "2 staff role(s)" in out
    assert main(["staff", "remove", "--telegram-id", "5001", "--role", "admin"]) == 0
    assert "nothing changed" in capsys.readouterr().out
    assert main(["staff", "remove", "--telegram-id", "5001"]) == 0
    assert "removed: grid_leader" in capsys.readouterr().out
    assert _rows(url) == [
        (None, "staff.added", "staff:5001"),
        (None, "staff.removed", "staff:5001"),
    ]
    with pytest.raises(SystemExit):
        main(["staff", "add", "--role", "chief", "--telegram-id", "1", "--name", "x"])
