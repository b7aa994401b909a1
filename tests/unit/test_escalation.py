"""The escalation ladder as data, its configuration, and a step firing once under concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.config import ConfigError, load_settings
from bot.runtime import Runtime
from bot.services import escalation, ladder, residents
from bot.services.orders import drafts
from models import OrderEvent
from tests.factories import ANSWERS

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "config.example.toml").read_text(encoding="utf-8")
T0 = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)


def test_the_ladder_per_status_and_urgency(rt: Runtime) -> None:
    cfg = rt.settings.escalation
    assert ladder.due_at(cfg, "open", "urgent", T0) == T0 + timedelta(minutes=10)
    assert ladder.due_at(cfg, "open", "urgent", T0, 1) == T0 + timedelta(minutes=30)
    assert ladder.due_at(cfg, "open", "today", T0) == T0 + timedelta(minutes=30)
    assert ladder.due_at(cfg, "open", "normal", T0, 1) == T0 + timedelta(minutes=240)
    assert ladder.due_at(cfg, "open", "normal", T0, 2) is None
    for running in ("claimed", "purchasing", "delivering"):
        assert ladder.due_at(cfg, running, "urgent", T0) == T0 + timedelta(hours=2)
        assert ladder.due_at(cfg, running, "normal", T0, 1) == T0 + timedelta(hours=4)
    for settled in ("delivered", "confirmed", "cancelled", "unfulfillable"):
        assert ladder.due_at(cfg, settled, "urgent", T0) is None


def test_steps_must_come_in_order(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        GOOD.replace("community_minutes = 30", "community_minutes = 5"), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "escalation.urgent" in str(info.value)
    assert "community_minutes must be more than ping_again_minutes" in str(info.value)
    path.write_text(
        GOOD.replace("stalled_leader_hours = 4.0", "stalled_leader_hours = 1.0"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "stalled_leader_hours must be more than stalled_runner_hours" in str(info.value)


async def _order(rt: Runtime) -> int:
    async with rt.db.session() as s:
        await residents.register(
            s,
            rt.clock,
            telegram_id=1001,
            name="周阿姨",
            phone="13800001001",
            building_id=1,
            unit="1",
            room="101",
        )
        d = await drafts.start_draft(rt, s, 1001, category="other")
        await drafts.update_draft(rt, s, d.id, 1001, urgency="urgent", **ANSWERS["other"])
        return (await drafts.submit_draft(rt, s, d.id, 1001)).order.id


async def test_a_due_step_fires_once_among_concurrent_sweeps(rt: Runtime) -> None:
    oid = await _order(rt)
    assert await escalation.run_due(rt) == 0
    rt.clock.advance(timedelta(minutes=11))  # type: ignore[attr-defined]
    fired = await asyncio.gather(*(escalation.run_due(rt) for _ in range(8)))
    assert sum(fired) == 1
    async with rt.db.read() as s:
        n = await s.scalar(
            select(func.count())
            .select_from(OrderEvent)
            .where(OrderEvent.order_id == oid, OrderEvent.note == "escalation: ping_again")
        )
    assert n == 1
    # Far past both steps: the next sweep fires the community step, then nothing is left.
    rt.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    assert await escalation.run_due(rt) == 1
    assert await escalation.run_due(rt) == 0
