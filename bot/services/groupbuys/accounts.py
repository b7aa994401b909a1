"""Staff's check of a group-buy once closed (/gbcheck): how many doors were delivered,
confirmed received and paid; the problems nobody has handled yet (✅ 已处理 each, through the
staff alerts), and the households that have not paid (💵 marks one paid). Only the households
of the staff member's scope (a grid leader: their grid), in their private chat: names and
doors are shown there, as staff see everything in their scope."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons import Button, Rows
from bot.errors import Refused, stale
from bot.i18n import N_, Gettext
from bot.runtime import Runtime
from bot.services import alerts
from bot.services.amounts import yuan
from bot.services.groupbuys import doors
from bot.services.scope import Scope, require_staff
from models import (
    Building,
    GroupBuy,
    GroupBuyDoor,
    GroupBuyProblem,
    GroupBuyRun,
    Merchant,
    Resident,
    StaffAlert,
)

USAGE = N_("Which group-buy? e.g. /gbcheck 3")
NONE_YET = N_("No group-buy in your communities has closed yet.")
STILL_OPEN = N_("Group-buy #{id} is still collecting: check it after its deadline.")
HEAD = N_("🧾 Group-buy #{id} ({merchant}) · {how}")
COUNTS = N_(
    "At the door: {delivered}/{doors} · received: {received} · paid: {paid} (¥{paid_sum} of "
    "¥{total})"
)
OPEN_PROBLEMS = N_("Problems not handled yet ({n}):")
NO_PROBLEMS = N_("No open problems.")
UNPAID = N_("Not paid yet ({n}):")
ALL_PAID = N_("Every household has paid.")
HANDLE = N_("✅ Handled {n}")
MAX_SHOWN = 30  # lines (and buttons) per list: a message must fit


def handled_data(problem_id: int) -> str:
    return f"gb:ph:{problem_id}"


def staff_cash_data(door_id: int) -> str:
    return f"gb:sp:{door_id}"


@dataclass(frozen=True)
class Problem:
    id: int
    label: str  # building door name: item kind (rendered at read: the kinds are msgids)
    item: str
    kind: str
    note: str | None


@dataclass(frozen=True)
class Unpaid:
    door_id: int
    label: str  # building door name
    door: str  # unit-room
    amount_fen: int


@dataclass(frozen=True)
class Check:
    id: int
    merchant: str
    payment: str
    doors: int
    delivered: int
    received: int
    paid: int
    paid_fen: int
    total_fen: int
    problems: list[Problem]
    unpaid: list[Unpaid]


async def _groupbuy(session: AsyncSession, scope: Scope, groupbuy_id: int | None) -> GroupBuy:
    if groupbuy_id is None:  # the latest delivered one the scope covers
        for gb in await session.scalars(
            select(GroupBuy).where(GroupBuy.status != "open").order_by(GroupBuy.id.desc())
        ):
            if scope.covers(gb.community_id) or await _grids_covered(session, scope, gb):
                return gb
        raise Refused(NONE_YET)
    found = await session.get(GroupBuy, groupbuy_id)
    if found is None or not (
        scope.covers(found.community_id) or await _grids_covered(session, scope, found)
    ):
        raise stale()
    if found.status == "open":
        raise Refused(STILL_OPEN, id=found.id)
    return found


async def _grids_covered(session: AsyncSession, scope: Scope, gb: GroupBuy) -> list[int]:
    """The grids of the group-buy's households that the scope covers (a grid leader's)."""
    grids = await session.scalars(
        select(Building.grid_id)
        .join(GroupBuyRun, GroupBuyRun.building_id == Building.id)
        .where(GroupBuyRun.groupbuy_id == gb.id)
        .distinct()
    )
    return [g for g in grids if scope.covers(gb.community_id, g)]


async def check(session: AsyncSession, telegram_id: int, groupbuy_id: int | None) -> Check:
    scope = await require_staff(session, telegram_id)
    gb = await _groupbuy(session, scope, groupbuy_id)
    merchant = await session.get(Merchant, gb.merchant_id)
    assert merchant is not None
    rows = (
        await session.execute(
            select(GroupBuyDoor.id, Building.grid_id, Resident.name)
            .join(GroupBuyRun, GroupBuyRun.id == GroupBuyDoor.run_id)
            .join(Building, Building.id == GroupBuyRun.building_id)
            .join(Resident, Resident.id == GroupBuyDoor.resident_id)
            .where(GroupBuyRun.groupbuy_id == gb.id)
            .order_by(Building.id, Resident.unit, Resident.room)
        )
    ).all()
    mine = [
        (door_id, name) for door_id, grid_id, name in rows if scope.covers(gb.community_id, grid_id)
    ]
    views = {door_id: (await doors.door_view(session, door_id), name) for door_id, name in mine}
    open_problems = (
        await session.execute(
            select(GroupBuyProblem)
            .outerjoin(StaffAlert, StaffAlert.id == GroupBuyProblem.alert_id)
            .where(
                GroupBuyProblem.groupbuy_id == gb.id,
                GroupBuyProblem.door_id.in_(list(views)),
                StaffAlert.handled_at.is_(None),
            )
            .order_by(GroupBuyProblem.id)
        )
    ).scalars()
    problems = []
    for p in open_problems:
        v, name = views[p.door_id]
        problems.append(
            Problem(p.id, f"{v.building} {v.door} {name}", v.item_name(p.item_id), p.kind, p.note)
        )
    vs = [v for v, _name in views.values()]
    return Check(
        gb.id,
        merchant.name,
        gb.payment,
        len(vs),
        sum(v.delivered_at is not None for v in vs),
        sum(v.received_at is not None for v in vs),
        sum(v.paid_at is not None for v in vs),
        sum(v.amount_fen for v in vs if v.paid_at is not None),
        sum(v.amount_fen for v in vs),
        problems,
        [
            Unpaid(v.id, f"{v.building} {v.door} {name}", v.door, v.amount_fen)
            for v, name in views.values()
            if v.paid_at is None
        ],
    )


def render(_: Gettext, c: Check) -> tuple[str, Rows]:
    lines = [
        _(HEAD).format(id=c.id, merchant=c.merchant, how=_(doors.PAYMENT.get(c.payment, ""))),
        _(COUNTS).format(
            delivered=c.delivered,
            doors=c.doors,
            received=c.received,
            paid=c.paid,
            paid_sum=yuan(c.paid_fen),
            total=yuan(c.total_fen),
        ),
        "",
    ]
    rows: Rows = []
    if c.problems:
        lines.append(_(OPEN_PROBLEMS).format(n=len(c.problems)))
        for n, p in enumerate(c.problems[:MAX_SHOWN], 1):
            note = f" “{p.note}”" if p.note else ""
            lines.append(f"{n}. {p.label}: {p.item} {_(doors.KINDS.get(p.kind, p.kind))}{note}")
            rows.append([Button(_(HANDLE).format(n=n), handled_data(p.id))])
    else:
        lines.append(_(NO_PROBLEMS))
    lines.append("")
    if c.unpaid:
        lines.append(_(UNPAID).format(n=len(c.unpaid)))
        for u in c.unpaid[:MAX_SHOWN]:
            lines.append(f"• {u.label} ¥{yuan(u.amount_fen)}")
            rows.append(
                [
                    Button(
                        _(doors.CASH_BUTTON).format(door=u.door, amount=yuan(u.amount_fen)),
                        staff_cash_data(u.door_id),
                    )
                ]
            )
    else:
        lines.append(_(ALL_PAID))
    return "\n".join(lines), rows


async def handle_problem(
    rt: Runtime, session: AsyncSession, telegram_id: int, problem_id: int
) -> tuple[alerts.Handled, Check]:
    """✅ on the check: the problem's alert handled (once; a later press is told who did)."""
    p = await session.get(GroupBuyProblem, problem_id)
    if p is None or p.alert_id is None:
        raise stale()
    done = await alerts.handle(rt, session, telegram_id, p.alert_id, on_alert=False)
    return done, await check(session, telegram_id, p.groupbuy_id)


async def staff_paid(rt: Runtime, session: AsyncSession, telegram_id: int, door_id: int) -> Check:
    """💵 on the check: the household marked paid by staff (once)."""
    v = await doors.cash_paid(rt, session, telegram_id, door_id)
    return await check(session, telegram_id, v.groupbuy_id)
