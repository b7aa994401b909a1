"""A building's status (issue 17): staff set it, now or from a time; each change is a row
(`BuildingStatus`), so the status at any time is the last change in effect then. A change for
later is a timer: the sweep applies it once (`apply_due`; `apply` claims the row with a
conditional UPDATE on ``applied_at``, so a restart or a second instance never applies it
twice). Applying a change sets the building's current status and tells its residents the
rules (how supplies reach them, where and when to pick up, whether they may order errands)
through the notice machinery: paced, with ✅ receipts.

What a status means comes from the config (`bot/status_config.py`): `errands_refusal` is what
the order form says when a status forbids single errands, `pickup_place` where an errand is
left instead of the door."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import affected_rows
from bot.errors import Refused
from bot.i18n import N_, Gettext, gettext_for
from bot.runtime import Runtime
from bot.services import audit
from bot.services.notices import sending
from bot.services.notices.audiences import BUILDING
from bot.services.places import place_label
from bot.services.scope import scope_of
from bot.status_config import PICKUP, StatusDef
from models import Building, BuildingStatus, Community, Compound, Grid, Notice, Place

NO_BUILDING = N_("There is no building with the code {code}.")
NOT_YOURS = N_("This building is not in your community or grid.")
UNKNOWN = N_("{word} is not a building status here. The statuses: {labels}.")


@dataclass(frozen=True)
class Target:
    building: Building
    community: Community
    compound: str

    @property
    def name(self) -> str:
        return f"{self.compound} {self.building.name}"


async def _target(session: AsyncSession, building_id: int) -> Target:
    row = (
        await session.execute(
            select(Building, Community, Compound.name)
            .join(Grid, Grid.id == Building.grid_id)
            .join(Community, Community.id == Grid.community_id)
            .join(Compound, Compound.id == Building.compound_id)
            .where(Building.id == building_id)
        )
    ).one()
    return Target(row[0], row[1], row[2])


async def find_building(session: AsyncSession, telegram_id: int, code: str) -> Target:
    """The building with this code, if this staff member covers it (its grid or community)."""
    bid = await session.scalar(select(Building.id).where(Building.code == code))
    if bid is None:
        raise Refused(NO_BUILDING, code=code)
    return await _covered(session, telegram_id, bid)


async def _covered(session: AsyncSession, telegram_id: int, building_id: int) -> Target:
    t = await _target(session, building_id)
    if not (await scope_of(session, telegram_id)).covers(t.community.id, t.building.grid_id):
        raise Refused(NOT_YOURS)
    return t


async def place_buildings(
    rt: Runtime, session: AsyncSession, telegram_id: int, place_id: int
) -> tuple[Place, list[StatusDef], list[tuple[int, str, str | None, str]]]:
    """A place, its community's statuses and the buildings it serves that this staff member
    covers: (id, "幸福小区 1栋", status label or None, code). Refused if they cover none."""
    place = await session.get(Place, place_id)
    if place is None:
        raise Refused(N_("This place no longer exists."))
    comm = await session.get(Community, place.community_id)
    assert comm is not None
    scope = await scope_of(session, telegram_id)
    conf = rt.settings.building_status
    rows = await session.execute(
        select(Building, Compound.name)
        .join(Compound, Compound.id == Building.compound_id)
        .where(Building.place_id == place_id)
        .order_by(Compound.name, Building.name)
    )
    out = []
    for b, compound in rows.all():
        if scope.covers(comm.id, b.grid_id):
            s = conf.get(comm.code, b.status)
            out.append((b.id, f"{compound} {b.name}", s.label if s else b.status, b.code))
    if not out:
        raise Refused(NOT_YOURS)
    return place, conf.of(comm.code), out


async def set_many(
    rt: Runtime, session: AsyncSession, telegram_id: int, building_ids: list[int], key: str
) -> list[Change]:
    """The same status from now for several buildings (a place's, chosen by buttons)."""
    codes = []
    for bid in building_ids:
        codes.append((await _covered(session, telegram_id, bid)).building.code)
    return [await set_status(rt, session, telegram_id, code, key) for code in codes]


@dataclass(frozen=True)
class Change:
    id: int
    building: str  # "阳光花园 1栋"
    label: str
    effective_at: datetime
    applied: bool
    told: int  # households told (0 until applied)
    pickup_without_place: bool  # "pickup", but no place serves the building: the door


async def set_status(
    rt: Runtime,
    session: AsyncSession,
    telegram_id: int,
    code: str,
    word: str,
    at: datetime | None = None,
) -> Change:
    """Give the building ``code`` the status ``word`` (a key or a label of its community's
    statuses) from ``at`` (None: now); applied at once if it is due."""
    t = await find_building(session, telegram_id, code)
    conf = rt.settings.building_status
    sdef = conf.find(t.community.code, word)
    if sdef is None:
        labels = "、".join(s.label for s in conf.of(t.community.code))
        raise Refused(UNKNOWN, word=word, labels=labels)
    now = rt.clock.now()
    row = BuildingStatus(
        building_id=t.building.id,
        status=sdef.key,
        label=sdef.label,
        effective_at=at if at is not None and at > now else now,
        set_by=telegram_id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session, rt.clock, telegram_id, "building.status", code, status=sdef.key, change=row.id
    )
    told = await apply(rt, session, row.id) if row.effective_at <= now else None
    return Change(
        row.id,
        t.name,
        sdef.label,
        row.effective_at,
        told is not None,
        told or 0,
        sdef.delivery == PICKUP and t.building.place_id is None,
    )


async def cancel_pending(
    rt: Runtime, session: AsyncSession, telegram_id: int, code: str
) -> tuple[str, int]:
    """Cancel the building's changes not yet applied; (its name, how many were cancelled)."""
    t = await find_building(session, telegram_id, code)
    n = await affected_rows(
        session,
        update(BuildingStatus)
        .where(
            BuildingStatus.building_id == t.building.id,
            BuildingStatus.applied_at.is_(None),
            BuildingStatus.cancelled_at.is_(None),
        )
        .values(cancelled_at=rt.clock.now())
        .execution_options(synchronize_session=False),
    )
    if n:
        await audit.record(session, rt.clock, telegram_id, "building.status_cancelled", code)
    return t.name, n


async def apply(rt: Runtime, session: AsyncSession, change_id: int) -> int | None:
    """Apply a change once (a conditional UPDATE claims it): the building's status, and the
    notice to its residents. The households told, or None if it was applied already (or
    cancelled)."""
    now = rt.clock.now()
    claimed = await affected_rows(
        session,
        update(BuildingStatus)
        .where(
            BuildingStatus.id == change_id,
            BuildingStatus.applied_at.is_(None),
            BuildingStatus.cancelled_at.is_(None),
        )
        .values(applied_at=now)
        .execution_options(synchronize_session=False),
    )
    if claimed != 1:
        return None
    row = await session.get(BuildingStatus, change_id, populate_existing=True)
    assert row is not None
    # The building's status now, in one conditional UPDATE: a change set earlier for a later
    # time must not undo a newer one applied since (by this instance or another).
    moved = await affected_rows(
        session,
        update(Building)
        .where(
            Building.id == row.building_id,
            or_(Building.status_since.is_(None), Building.status_since <= row.effective_at),
        )
        .values(status=row.status, status_since=row.effective_at)
        .execution_options(synchronize_session=False),
    )
    if moved != 1:
        return 0
    t = await _target(session, row.building_id)
    b = t.building
    await session.refresh(b)
    sdef = rt.settings.building_status.get(t.community.code, row.status)
    if sdef is None:  # (the config changed since it was set: nothing to tell)
        return 0
    place = await session.get(Place, b.place_id) if b.place_id else None
    _ = gettext_for(rt.default_language)
    notice = Notice(
        community_id=t.community.id,
        grid_id=b.grid_id,
        audience=BUILDING,
        audience_id=b.id,
        author_telegram_id=row.set_by,
        text=rules_text(_, t.name, sdef, place, row.effective_at, rt.timezone),
        pin=False,
        recipients=0,
        created_at=now,
    )
    session.add(notice)
    await session.flush()
    row.notice_id = notice.id
    await sending.send(rt, session, notice.id)
    return notice.recipients


async def apply_due(rt: Runtime) -> int:
    """The sweep's part: each change whose time has come, applied once."""
    now = rt.clock.now()
    async with rt.db.read() as s:
        due = (
            await s.scalars(
                select(BuildingStatus.id)
                .where(
                    BuildingStatus.applied_at.is_(None),
                    BuildingStatus.cancelled_at.is_(None),
                    BuildingStatus.effective_at <= now,
                )
                .order_by(BuildingStatus.effective_at, BuildingStatus.id)
            )
        ).all()
    applied = 0
    for change_id in due:
        async with rt.db.session() as s:
            if await apply(rt, s, change_id) is not None:
                applied += 1
    return applied


async def status_at(session: AsyncSession, building_id: int, at: datetime) -> str | None:
    """The building's status (its key) at a time: the last change in effect then."""
    return await session.scalar(
        select(BuildingStatus.status)
        .where(
            BuildingStatus.building_id == building_id,
            BuildingStatus.cancelled_at.is_(None),
            BuildingStatus.effective_at <= at,
        )
        .order_by(BuildingStatus.effective_at.desc(), BuildingStatus.id.desc())
        .limit(1)
    )


def place_words(p: Place, _: Gettext) -> str:
    """ "北门配送点 (distribution point, 北门外)"."""
    return place_label(p.name, p.kind, p.location, _)


def rules_text(
    _: Gettext, building: str, s: StatusDef, place: Place | None, since: datetime, tz: str
) -> str:
    """What the residents are told when the status takes effect."""
    from zoneinfo import ZoneInfo

    when = since.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")
    lines = [
        _("🏢 {building} is now {status} (from {when}).").format(
            building=building, status=s.label, when=when
        )
    ]
    if s.delivery == PICKUP and place is not None:
        lines.append(
            _("📦 Supplies and errands are left at {place}: please pick them up there.").format(
                place=place_words(place, _)
            )
        )
        if place.pickup_times:
            lines.append(_("🕘 Pickup times: {times}").format(times=place.pickup_times))
    else:
        lines.append(_("🚪 Volunteers bring supplies and errands to your door."))
    lines.append(
        _("📝 You may order single errands in the bot.")
        if s.errands
        else _(
            "🚫 Single errands are not taken for now: supplies come through the community "
            "(group-buys and deliveries to your building)."
        )
    )
    lines.append(_("Please press ✅ Received below."))
    return "\n".join(lines)


async def _rule(rt: Runtime, session: AsyncSession, building_id: int) -> tuple[Target, StatusDef]:
    t = await _target(session, building_id)
    sdef = rt.settings.building_status.get(t.community.code, t.building.status)
    return t, sdef  # type: ignore[return-value]


async def check_errands(
    rt: Runtime, session: AsyncSession, building_id: int, *, by_phone: bool = False
) -> None:
    """Refused, saying why and what to do instead, if the building's status forbids single
    errands."""
    t, sdef = await _rule(rt, session, building_id)
    if sdef is None or sdef.errands:
        return
    hotline = t.community.hotline or rt.settings.community.hotline
    if by_phone:
        raise Refused(
            N_(
                "{building} is {status}: single errands are not taken for it now. Supplies "
                "reach its households through the community (group-buys, deliveries to the "
                "building)."
            ),
            building=t.name,
            status=sdef.label,
        )
    raise Refused(
        N_(
            "Your building ({building}) is {status}: single errands are not taken for now. "
            "Supplies come through the community: group-buys and deliveries to your building. "
            "For something urgent (medicine, an emergency) call the community: {hotline}."
        ),
        building=t.name,
        status=sdef.label,
        hotline=hotline or "—",
    )


async def pickup_place(rt: Runtime, session: AsyncSession, building_id: int) -> int | None:
    """The place an errand of this building is left at instead of the door: its point, when
    its status says "pickup" (a building no place serves gets it at the door)."""
    t, sdef = await _rule(rt, session, building_id)
    if sdef is None or sdef.delivery != PICKUP:
        return None
    return t.building.place_id


@dataclass(frozen=True)
class Pickup:
    """Where an order being filled in will be left instead of the door (texts.HasPickup)."""

    pickup_name: str
    pickup_kind: str
    pickup_location: str | None
    pickup_times: str | None


async def pickup_of_building(rt: Runtime, session: AsyncSession, building_id: int) -> Pickup | None:
    """The building's pickup place, as the order form's summary says it (None: the door)."""
    place_id = await pickup_place(rt, session, building_id)
    place = await session.get(Place, place_id) if place_id else None
    if place is None:
        return None
    return Pickup(place.name, place.kind, place.location, place.pickup_times)
