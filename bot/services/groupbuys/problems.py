"""Something missing, wrong or damaged in a household's share of a group-buy: ⚠️ on the
household's door message asks which item (the items it took), then what (少了 / 不对 / 坏了);
the report is recorded once per household and item, told to the merchant's contact privately
(building and door, unit-room, as in the merchant's XLSX: no name, no phone), and to the staff
covering the household as a staff alert (with the household, so they can follow up; ✅ 已处理
once, through bot/services/alerts.py). A typed note or a photo may follow; it reaches the same
people. Nothing of it goes to a group or a log line."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.buttons import Button, Rows
from bot.db import affected_rows
from bot.errors import Refused, check_length, stale
from bot.i18n import N_, Gettext, gettext_for
from bot.runtime import Runtime
from bot.services import alerts
from bot.services.groupbuys import doors
from bot.services.messages import tell
from bot.services.people import languages_of
from bot.services.scope import staff_covering
from models import GroupBuyDoor, GroupBuyProblem, Resident, StaffAlert, StaffAlertCopy, Volunteer

GB_PROBLEM = "gb_problem"  # staff_alerts.kind
WHICH = N_("Which item is missing or wrong?")
WHAT = N_("{item}: what is wrong?")
REPORTED = N_(
    "Reported to the merchant and the community staff: {item} {kind}. "
    "You may now type a few words or send a photo of it (or press Done)."
)
REPORTED_DONE = N_("Thank you. The merchant and the community staff have your report.")
NOTE_ADDED = N_("Added to your report. The merchant and the community staff see it.")
DONE_BUTTON = N_("Done")
NOT_REPORTED = N_("Nothing was reported.")
ALREADY_REPORTED = N_("This item is already reported for your household.")
TO_MERCHANT = N_("⚠️ Group-buy #{id}: {building} {door}: {item} ×{quantity} {kind}.")
TO_STAFF = N_("⚠️ Group-buy #{id} ({merchant}): {item} ×{quantity} {kind}.")
NOTE_TO_MERCHANT = N_("⚠️ Group-buy #{id}: {building} {door}, about {item}: “{note}”")
NOTE_TO_STAFF = N_("⚠️ Group-buy #{id}, {building} {door} ({name}), about {item}: “{note}”")
DELIVERED_BY = N_("Carried by {name}.")


def item_data(door_id: int, item_id: int) -> str:
    return f"gb:pi:{door_id}:{item_id}"


def kind_data(door_id: int, item_id: int, kind: str) -> str:
    return f"gb:pk:{door_id}:{item_id}:{kind}"


def cancel_data(door_id: int) -> str:
    return f"gb:px:{door_id}"


def done_data(problem_id: int) -> str:
    return f"gb:pd:{problem_id}"


def which_item(_: Gettext, v: doors.DoorView) -> tuple[str, Rows]:
    """The items this household took and has not reported yet."""
    reported = {item for item, _kind in v.problems}
    rows: Rows = [
        [Button(f"{li.name} ×{li.quantity}", item_data(v.id, li.item_id))]
        for li in v.lines
        if li.item_id not in reported
    ]
    rows.append([Button(_("✖️ Cancel"), cancel_data(v.id))])
    return _(WHICH), rows


def what_kind(_: Gettext, v: doors.DoorView, item_id: int) -> tuple[str, Rows]:
    if item_id not in {li.item_id for li in v.lines}:
        raise stale()
    rows: Rows = [
        [Button(_(label), kind_data(v.id, item_id, kind)) for kind, label in doors.KINDS.items()],
        [Button(_("✖️ Cancel"), cancel_data(v.id))],
    ]
    return _(WHAT).format(item=v.item_name(item_id)), rows


@dataclass(frozen=True)
class Reported:
    problem_id: int
    door: doors.DoorView
    item: str
    kind: str


async def _resident(session: AsyncSession, resident_id: int) -> Resident:
    r = await session.get(Resident, resident_id)
    assert r is not None
    return r


async def report(
    rt: Runtime, session: AsyncSession, telegram_id: int, door_id: int, item_id: int, kind: str
) -> Reported:
    """Record the household's report on one item (once), tell the merchant and alert staff."""
    if kind not in doors.KINDS:
        raise stale()
    v = await doors.households_door(session, telegram_id, door_id)
    line = next((li for li in v.lines if li.item_id == item_id), None)
    if line is None:
        raise stale()
    # The door's row locked: two presses at once record one report (FOR UPDATE; SQLite's
    # BEGIN IMMEDIATE already serialises writers).
    await session.scalar(
        select(GroupBuyDoor.id).where(GroupBuyDoor.id == door_id).with_for_update()
    )
    exists = await session.scalar(
        select(GroupBuyProblem.id).where(
            GroupBuyProblem.door_id == door_id, GroupBuyProblem.item_id == item_id
        )
    )
    if exists is not None:
        raise Refused(ALREADY_REPORTED)
    problem = GroupBuyProblem(
        groupbuy_id=v.groupbuy_id,
        door_id=door_id,
        item_id=item_id,
        kind=kind,
        reported_at=rt.clock.now(),
    )
    session.add(problem)
    await session.flush()
    await tell(
        rt,
        session,
        v.merchant_contact,
        lambda _: _(TO_MERCHANT).format(
            id=v.groupbuy_id,
            building=v.building,
            door=v.door,
            item=line.name,
            quantity=line.quantity,
            kind=_(doors.KINDS[kind]),
        ),
    )
    household = await _resident(session, v.resident_id)
    carrier = None
    if v.volunteer_telegram_id is not None:
        carrier = await session.scalar(
            select(Volunteer.name).where(Volunteer.telegram_id == v.volunteer_telegram_id)
        )

    def staff_text(_: Gettext) -> str:
        lines = [
            _(TO_STAFF).format(
                id=v.groupbuy_id,
                merchant=v.merchant,
                item=line.name,
                quantity=line.quantity,
                kind=_(doors.KINDS[kind]),
            ),
            f"{household.name} · {household.phone} · {v.building} {v.door}",
        ]
        if carrier:
            lines.append(_(DELIVERED_BY).format(name=carrier))
        return "\n".join(lines)

    staff = await staff_covering(session, v.community_id, v.grid_id)
    told = await alerts.alert(
        rt, session, staff, staff_text, kind=GB_PROBLEM, resident_id=v.resident_id
    )
    # The alert just written (alerts.alert returns how many were told, not its row).
    alert_id = (
        await session.scalar(
            select(StaffAlert.id)
            .where(StaffAlert.kind == GB_PROBLEM, StaffAlert.resident_id == v.resident_id)
            .order_by(StaffAlert.id.desc())
            .limit(1)
        )
        if told
        else None
    )
    await affected_rows(
        session,
        update(GroupBuyProblem).where(GroupBuyProblem.id == problem.id).values(alert_id=alert_id),
    )
    return Reported(problem.id, await doors.door_view(session, door_id), line.name, kind)


def reported_text(_: Gettext, r: Reported) -> tuple[str, Rows]:
    return (
        _(REPORTED).format(item=r.item, kind=_(doors.KINDS[r.kind])),
        [[Button(_(DONE_BUTTON), done_data(r.problem_id))]],
    )


async def own_report(session: AsyncSession, telegram_id: int, problem_id: int) -> int:
    """The report, if it is this person's household's (else the stale answer)."""
    p = await session.get(GroupBuyProblem, problem_id)
    if p is None:
        raise stale()
    await doors.households_door(session, telegram_id, p.door_id)
    return p.id


async def add_note(
    rt: Runtime,
    session: AsyncSession,
    telegram_id: int,
    problem_id: int,
    note: str | None,
    photo: str | None,
) -> None:
    """A typed note or a photo after a report: kept on the report, and sent to the merchant
    and to the staff who got the alert."""
    p = await session.get(GroupBuyProblem, problem_id)
    if p is None:
        raise stale()
    v = await doors.households_door(session, telegram_id, p.door_id)
    if note is not None:
        check_length(note, 500)
    await affected_rows(
        session,
        update(GroupBuyProblem)
        .where(GroupBuyProblem.id == problem_id)
        .values(
            note=note if note is not None else p.note,
            photo=photo if photo is not None else p.photo,
        ),
    )
    item = v.item_name(p.item_id)
    household = await _resident(session, v.resident_id)
    said = note or "📷"
    staff = list(
        await session.scalars(
            select(StaffAlertCopy.telegram_id).where(StaffAlertCopy.alert_id == p.alert_id)
        )
    )
    targets = [(v.merchant_contact, False), *[(tid, True) for tid in staff]]
    langs = await languages_of(session, [t for t, _staff in targets], rt.default_language)
    for tid, is_staff in targets:
        _ = gettext_for(langs[tid])
        text = (
            _(NOTE_TO_STAFF).format(
                id=v.groupbuy_id,
                building=v.building,
                door=v.door,
                name=household.name,
                item=item,
                note=said,
            )
            if is_staff
            else _(NOTE_TO_MERCHANT).format(
                id=v.groupbuy_id, building=v.building, door=v.door, item=item, note=said
            )
        )
        outbox.enqueue(session, rt.clock, chat_id=tid, text=text, photo=photo)
