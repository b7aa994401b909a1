"""Distribution points (物资配送点) and checkpoints (卡口) of a community, and which buildings
each serves (issue 17).

`import_csv` reads one CSV (one line per place) the way the setup file is read (one reader,
`csvfile`; every line checked first; one bad line and nothing is written). A place is known by
its community and name: importing the same file again changes nothing, a changed location or
pickup time updates it. The ``buildings`` column lists the codes of the buildings it serves
(separated by spaces, commas or 、); a building listed moves to this place, one not listed keeps
the place it has. `overview` is what staff read: each place and the buildings it serves, with
their status."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, Gettext, gettext_for
from bot.runtime import Runtime
from bot.services import csvfile
from bot.services.csvfile import Column, Reason
from bot.services.setup import CODE, EMPTY, NAME_MAX, NOT_YOURS, Counts
from models import Building, BuildingStatus, Community, Compound, Grid, Place
from models.places import CHECKPOINT, POINT

CSV_COLUMNS = ("community_code", "place", "kind", "buildings")
OPTIONAL_COLUMNS = ("location", "pickup_times")
TEXT_MAX = 200
# What staff may write in the kind column.
KINDS = {
    "point": POINT,
    "配送点": POINT,
    "物资配送点": POINT,
    "checkpoint": CHECKPOINT,
    "卡口": CHECKPOINT,
}
KIND_LABELS = {POINT: N_("distribution point"), CHECKPOINT: N_("checkpoint")}
# A place as told: "北门配送点（物资配送点，北门外空地）" in Chinese punctuation.
PLACE_WITH_WHERE = N_("{name} ({kind}, {location})")
PLACE_WITH_KIND = N_("{name} ({kind})")


def place_label(name: str, kind: str, location: str | None, _: Gettext) -> str:
    """The place's name with its kind and where it is, in the reader's language."""
    said = _(KIND_LABELS.get(kind, kind))
    if location:
        return _(PLACE_WITH_WHERE).format(name=name, kind=said, location=location)
    return _(PLACE_WITH_KIND).format(name=name, kind=said)


_SPLIT = re.compile(r"[\s,，、;；]+")


@dataclass
class ImportResult:
    rows: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    places: Counts = field(default_factory=Counts)
    buildings: Counts = field(default_factory=Counts)


@dataclass(frozen=True)
class Row:
    line: int
    community_code: str
    name: str
    kind: str
    buildings: tuple[str, ...]
    location: str = ""
    pickup_times: str = ""


def _check_row(line: int, value: dict[str, str]) -> tuple[Row | None, list[str]]:
    reasons: list[str] = []
    if not value["community_code"]:
        reasons.append(Reason(EMPTY, column=Column("community_code")))
    if not value["place"]:
        reasons.append(Reason(EMPTY, column=Column("place")))
    elif len(value["place"]) > NAME_MAX:
        reasons.append(
            Reason(N_("{column} is longer than {n} characters"), column=Column("place"), n=NAME_MAX)
        )
    kind = KINDS.get(value["kind"].lower())
    if kind is None:
        reasons.append(
            Reason(
                N_("{column} {value} must be point (配送点) or checkpoint (卡口)"),
                column=Column("kind"),
                value=repr(value["kind"]),
            )
        )
    for col in OPTIONAL_COLUMNS:
        if len(value[col]) > TEXT_MAX:
            reasons.append(
                Reason(N_("{column} is longer than {n} characters"), column=Column(col), n=TEXT_MAX)
            )
    codes = tuple(c for c in _SPLIT.split(value["buildings"]) if c)
    for c in codes:
        if not CODE.fullmatch(c):
            reasons.append(
                Reason(
                    N_("{column} {value} must be 1-32 letters, digits or _"),
                    column=Column("buildings"),
                    value=repr(c),
                )
            )
    if reasons or kind is None:
        return None, reasons
    row = Row(
        line,
        value["community_code"],
        value["place"],
        kind,
        codes,
        value["location"],
        value["pickup_times"],
    )
    return row, []


def parse_csv(text: str, result: ImportResult) -> list[Row]:
    table = csvfile.read(text, CSV_COLUMNS, OPTIONAL_COLUMNS)
    result.rows = table.count
    result.errors.extend(table.errors)
    return csvfile.check_lines(table.lines, _check_row, result.errors)


def is_places_file(text: str) -> bool:
    """Whether a CSV sent in the bot is a places file (its header names a place column)."""
    first = text.removeprefix("\ufeff").lstrip().split("\n", 1)[0]
    return "place" in [c.strip().strip('"').lower() for c in first.split(",")]


async def import_csv(
    rt: Runtime,
    session: AsyncSession,
    text: str,
    only_codes: set[str] | None = None,
    *,
    _: Gettext | None = None,
) -> ImportResult:
    """Check every line, then write them all in the caller's transaction, or nothing.
    ``only_codes``: the communities the person may set up (`setup.allowed_codes`)."""
    result = ImportResult()
    rows = await asyncio.to_thread(parse_csv, text, result)
    if only_codes is not None:
        not_yours = (_ or gettext_for("en"))(NOT_YOURS)
        result.errors += [
            (r.line, not_yours.format(code=r.community_code))
            for r in rows
            if r.community_code not in only_codes
        ]
        result.errors.sort()
    communities = {c.code: c for c in await session.scalars(select(Community))}
    # Each building's code -> (its id, its community's code, its place id).
    buildings: dict[str, tuple[int, str, int | None]] = {}
    for b, code in await session.execute(
        select(Building, Community.code)
        .join(Grid, Grid.id == Building.grid_id)
        .join(Community, Community.id == Grid.community_id)
    ):
        buildings[b.code] = (b.id, code, b.place_id)
    names: dict[tuple[str, str], int] = {}
    served: dict[str, int] = {}

    def across(line: int, r: Row) -> tuple[Row | None, list[str]]:
        reasons: list[str] = []
        if r.community_code not in communities:
            reasons.append(
                Reason(
                    N_("there is no community {code}: import its buildings first"),
                    code=repr(r.community_code),
                )
            )
        seen = names.setdefault((r.community_code, r.name), line)
        if seen != line:
            reasons.append(Reason(N_("{place} is already on line {line}"), place=r.name, line=seen))
        for c in r.buildings:
            b = buildings.get(c)
            if b is None or b[1] != r.community_code:
                reasons.append(
                    Reason(
                        N_("the community {code} has no building {building}"),
                        code=repr(r.community_code),
                        building=repr(c),
                    )
                )
            elif served.setdefault(c, line) != line:
                reasons.append(
                    Reason(
                        N_("the building {building} is already served by line {line}"),
                        building=repr(c),
                        line=served[c],
                    )
                )
        return r, reasons

    good = csvfile.check_lines(((r.line, r) for r in rows), across, result.errors)
    if result.errors:
        return result
    existing = {(p.community_id, p.name): p for p in await session.scalars(select(Place))}
    for r in good:
        comm = communities[r.community_code]
        place = existing.get((comm.id, r.name))
        new = (r.kind, r.location or None, r.pickup_times or None)
        if place is None:
            place = Place(
                community_id=comm.id,
                name=r.name,
                kind=r.kind,
                location=new[1],
                pickup_times=new[2],
            )
            session.add(place)
            await session.flush()
            result.places.created += 1
        elif (place.kind, place.location, place.pickup_times) != new:
            place.kind, place.location, place.pickup_times = new
            result.places.updated += 1
        else:
            result.places.unchanged += 1
        for c in r.buildings:
            bid, _code, old = buildings[c]
            if old == place.id:
                result.buildings.unchanged += 1
                continue
            building = await session.get(Building, bid)
            assert building is not None
            building.place_id = place.id
            result.buildings.updated += 1
    await session.flush()
    return result


def place_line(p: Place, _: Gettext) -> str:
    """ "📍 北门配送点 (distribution point, 北门外) · pickup 每天 9:00-11:00"."""
    line = "📍 " + place_label(p.name, p.kind, p.location, _)
    if p.pickup_times:
        line += " · " + _("pickup {times}").format(times=p.pickup_times)
    return line


@dataclass(frozen=True)
class BuildingLine:
    id: int
    grid_id: int
    code: str
    name: str  # "阳光花园 1栋"
    status: str | None
    status_since: datetime | None
    # Changes set for later, not yet applied: (label, from when).
    pending: tuple[tuple[str, datetime], ...] = ()


@dataclass
class PlaceView:
    place: Place | None  # None: the buildings no place serves
    buildings: list[BuildingLine] = field(default_factory=list)


async def overview(session: AsyncSession, community_id: int) -> list[PlaceView]:
    """The community's places in name order, each with the buildings it serves, and last the
    buildings no place serves (if any)."""
    places = list(
        await session.scalars(
            select(Place)
            .where(Place.community_id == community_id)
            .order_by(Place.kind.desc(), Place.name)  # points, then checkpoints
        )
    )
    views = {p.id: PlaceView(p) for p in places}
    alone = PlaceView(None)
    rows = await session.execute(
        select(Building, Compound.name)
        .join(Grid, Grid.id == Building.grid_id)
        .join(Compound, Compound.id == Building.compound_id)
        .where(Grid.community_id == community_id)
        .order_by(Compound.name, Building.name)
    )
    pending: dict[int, list[tuple[str, datetime]]] = {}
    for bid, label, at in await session.execute(
        select(BuildingStatus.building_id, BuildingStatus.label, BuildingStatus.effective_at)
        .join(Building, Building.id == BuildingStatus.building_id)
        .join(Grid, Grid.id == Building.grid_id)
        .where(
            Grid.community_id == community_id,
            BuildingStatus.applied_at.is_(None),
            BuildingStatus.cancelled_at.is_(None),
        )
        .order_by(BuildingStatus.effective_at)
    ):
        pending.setdefault(bid, []).append((label, at))
    for b, compound in rows:
        line = BuildingLine(
            b.id,
            b.grid_id,
            b.code,
            f"{compound} {b.name}",
            b.status,
            b.status_since,
            tuple(pending.get(b.id, ())),
        )
        views.get(b.place_id or 0, alone).buildings.append(line)
    out = list(views.values())
    if alone.buildings:
        out.append(alone)
    return out


NOT_STAFF = N_("Only staff can see the places and buildings.")


async def in_scope(
    session: AsyncSession, telegram_id: int
) -> list[tuple[Community, list[PlaceView]]]:
    """Each community this staff member covers (wholly, or a grid of it), with its places and
    the buildings of the grids they cover."""
    from bot.services.scope import require_staff

    scope = await require_staff(session, telegram_id, NOT_STAFF)
    out = []
    for comm in await session.scalars(select(Community).order_by(Community.id)):
        views = []
        for v in await overview(session, comm.id):
            v.buildings = [b for b in v.buildings if scope.covers(comm.id, b.grid_id)]
            if v.buildings or (v.place is not None and scope.covers_community(comm.id)):
                views.append(v)
        if views:
            out.append((comm, views))
    return out
