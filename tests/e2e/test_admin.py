"""Admins manage the staff in the bot: /staff add gives a grid leader their grid's roster;
non-admins are refused; ✖️ removes after confirming; every change is in the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.seed import ensure_admins
from handlers.admin import NOT_ADMIN, USAGE
from models import AuditEntry, Staff
from tests.factories import STAFF, Harness, Z, buttons, text_of

ADMIN = 9100


def _has(prefix: str) -> Any:
    return lambda m: any(d.startswith(prefix) for _, d in buttons(m))


LEADER = 5001


async def test_admin_adds_and_removes_a_grid_leader(harness: Harness) -> None:
    h = harness
    async with h.rt.db.session() as s:
        await ensure_admins(s, h.rt.clock, [ADMIN])
    admin, leader, boss = h.person(ADMIN, "孙老师"), h.person(LEADER, "钱组长"), h.person(STAFF)

    # Community staff are not admins: refused, and told their id.
    boss.say("/staff")
    refused = await boss.expect(Z(NOT_ADMIN))
    assert str(STAFF) in text_of(refused)
    # Before: the new leader is no one's staff.
    leader.say("/roster")
    await leader.expect(Z("Only the grid leader or community staff can set the duty roster."))

    admin.say("/staff add 5001 boss 第一网格 钱组长")
    await admin.expect(Z("Unknown role {role}: use admin, community or grid_leader."))
    admin.say("/staff add x")
    await admin.expect(Z(USAGE))
    admin.say("/staff add 5001 grid_leader 第九网格 钱组长")
    await admin.expect(Z("There is no grid {name}."))
    admin.say("/staff add 5001 grid_leader 第一网格 钱组长")
    added = await admin.expect(Z("✅ Added: {who}"))
    assert "第一网格" in text_of(added) and "钱组长" in text_of(added)
    admin.say("/staff add 5001 grid_leader 第一网格 钱组长")
    await admin.expect(Z("Already on the staff, nothing changed: {who}"))

    # The grid leader now sets the roster of their own grid only.
    leader.say("/roster")
    screen = await leader.expect(lambda m: any(d.startswith("r:") for _, d in buttons(m)))
    grids = {d.split(":")[2] for _, d in buttons(screen) if d.startswith(("r:g:", "r:d:"))}
    assert grids == {"1"}

    # The admin's list: a ✖️ per staff role; removing asks first.
    admin.say("/staff")
    listing = await admin.expect(Z("👥 Staff ({n}):"))
    async with h.rt.db.read() as s:
        row_id = await s.scalar(select(Staff.id).where(Staff.telegram_id == LEADER))
    assert f"sf:rm:{row_id}" in [d for _, d in buttons(listing)]
    # A forged press by a non-admin (in their own chat) gets an alert, changes nothing.
    forged = await boss.press_data(refused, f"sf:rm:{row_id}", force=True)
    assert forged is not None and Z("Only admins can add or remove staff.") in str(forged)
    assert await h.count(Staff, Staff.telegram_id == LEADER) == 1
    await admin.press_data(listing, f"sf:rm:{row_id}")
    confirm = await h.wait_edit(ADMIN, listing["message_id"], _has("sf:yes:"))
    assert Z("Remove {who} from the staff?") in text_of(confirm)
    await admin.press_data(confirm, "sf:list")  # keep: back to the list, nothing removed
    back = await h.wait_edit(ADMIN, listing["message_id"], _has("sf:rm:"))
    assert await h.count(Staff, Staff.telegram_id == LEADER) == 1
    await admin.press_data(back, f"sf:rm:{row_id}")
    confirm = await h.wait_edit(ADMIN, listing["message_id"], _has("sf:yes:"))
    await admin.press_data(confirm, f"sf:yes:{row_id}")
    await h.wait_edit(ADMIN, listing["message_id"], lambda m: Z("Removed: {who}") in text_of(m))
    assert await h.count(Staff, Staff.telegram_id == LEADER) == 0
    leader.say("/roster")
    await leader.expect(Z("Only the grid leader or community staff can set the duty roster."))

    async with h.rt.db.read() as s:
        log = [
            (a.actor_telegram_id, a.action, a.target)
            for a in await s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert log == [
        (ADMIN, "staff.added", f"staff:{LEADER}"),
        (ADMIN, "staff.removed", f"staff:{LEADER}"),
    ]
