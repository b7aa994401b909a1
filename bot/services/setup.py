"""Setting up a community from a file, and the building posters residents scan to register.

`import_csv` reads one CSV (one line per building) and creates the communities, grids,
compounds and buildings it names, reusing those already there: a community by its code, a grid
or a compound by its name within the community, a building by its code. Every line is checked
before anything is written; one bad line and nothing is imported (the roster import does the
same); in the bot, community staff may only name their own community (`allowed_codes`).
`posters_pdf` draws one A4 page per building with the QR code of the deep link
`https://t.me/<bot>?start=b_<code>`, which fills in the building when a resident registers.
"""

from __future__ import annotations

import asyncio
import io
import re
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.errors import Refused
from bot.i18n import N_, Gettext, gettext_for
from bot.runtime import Runtime
from bot.services import csvfile
from bot.services.csvfile import Column, Reason
from bot.services.scope import community_codes, scope_of
from models import Building, Community, Compound, Grid

CSV_COLUMNS = (
    "community",
    "community_code",
    "grid",
    "compound",
    "building",
    "building_code",
    "units",
)
# A later column, so older files still import: the community's hotline (told to a resident
# whose order nobody takes); on any line of the community, the same on each that names one.
OPTIONAL_COLUMNS = ("hotline",)
HOTLINE = re.compile(r"[0-9 +()\-]{3,32}")
CODE = re.compile(r"[A-Za-z0-9_]{1,32}")
BOT_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")
NAME_MAX = 100  # the length of the name columns
UNITS_MAX = 1000
POSTER_TEXT = "扫码登记，足不出户请志愿者跑腿"
NOT_ALLOWED = N_("Only admins and community staff can set up a community.")
NOT_YOURS = N_("the community {code} is not yours")
EMPTY = N_("{column} is empty")


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


@dataclass
class ImportResult:
    rows: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    communities: Counts = field(default_factory=Counts)
    grids: Counts = field(default_factory=Counts)
    compounds: Counts = field(default_factory=Counts)
    buildings: Counts = field(default_factory=Counts)


@dataclass(frozen=True)
class Row:
    line: int
    community: str
    community_code: str
    grid: str
    compound: str
    building: str
    building_code: str
    units: int
    hotline: str = ""


@dataclass(frozen=True)
class _Existing:
    """A building already in the database, with the names that identify it."""

    id: int
    community_code: str
    compound: str
    name: str
    grid_id: int
    units: int


def _check_row(line: int, value: dict[str, str]) -> tuple[Row | None, list[str]]:
    reasons: list[str] = []
    for col in ("community", "grid", "compound", "building"):
        if not value[col]:
            reasons.append(Reason(EMPTY, column=Column(col)))
        elif len(value[col]) > NAME_MAX:
            reasons.append(
                Reason(N_("{column} is longer than {n} characters"), column=Column(col), n=NAME_MAX)
            )
    for col in ("community_code", "building_code"):
        v = value[col]
        if not v:
            reasons.append(Reason(EMPTY, column=Column(col)))
        elif not CODE.fullmatch(v):
            reasons.append(
                Reason(
                    N_("{column} {value} must be 1-32 letters, digits or _"),
                    column=Column(col),
                    value=repr(v),
                )
            )
    units = 1
    u = value["units"]
    if u:
        if not u.isdigit() or not 1 <= int(u) <= UNITS_MAX:
            reasons.append(
                Reason(
                    N_("{column} {value} must be a whole number from 1 to {n}"),
                    column=Column("units"),
                    value=repr(u),
                    n=UNITS_MAX,
                )
            )
        else:
            units = int(u)
    hotline = value.get("hotline", "")
    if hotline and not (HOTLINE.fullmatch(hotline) and any(c.isdigit() for c in hotline)):
        reasons.append(f"the hotline {hotline!r} must be a phone number (digits, spaces, + - ( ))")
    if reasons:
        return None, reasons
    return Row(
        line,
        value["community"],
        value["community_code"],
        value["grid"],
        value["compound"],
        value["building"],
        value["building_code"],
        units,
        hotline,
    ), []


def parse_csv(text: str, result: ImportResult) -> list[Row]:
    """The rows of the file, each checked on its own; bad ones go to ``result.errors``."""
    table = csvfile.read(text, CSV_COLUMNS, OPTIONAL_COLUMNS)
    result.rows = table.count
    result.errors.extend(table.errors)
    return csvfile.check_lines(table.lines, _check_row, result.errors)


async def allowed_codes(session: AsyncSession, telegram_id: int) -> set[str] | None:
    """The codes of the communities this person may set up (those their scope covers as a
    whole): None for an admin (any, new ones too). Refused (NOT_ALLOWED) for anyone but admins
    and community staff."""
    scope = await scope_of(session, telegram_id)
    if scope.admin:
        return None
    codes = set(await community_codes(session, scope))
    if not codes:
        raise Refused(NOT_ALLOWED)
    return codes


async def import_csv(
    rt: Runtime,
    session: AsyncSession,
    text: str,
    only_codes: set[str] | None = None,
    *,
    _: Gettext | None = None,
) -> ImportResult:
    """Check every line, then create or update everything in the caller's transaction, or
    nothing at all if any line is bad.

    The bot's import: ``only_codes`` (see `allowed_codes`) makes a line naming another
    community bad too (NOT_YOURS, in the language of ``_``)."""
    result = ImportResult()
    # A big file takes a while to check: in a worker thread, so the bot keeps serving everyone
    # else. No statement has run in this session yet, so no write lock is held meanwhile.
    rows = await asyncio.to_thread(parse_csv, text, result)
    if only_codes is not None:
        not_yours = (_ or gettext_for("en"))(NOT_YOURS)
        result.errors += [
            (r.line, not_yours.format(code=r.community_code))
            for r in rows
            if r.community_code not in only_codes
        ]
    if result.errors and not rows and result.rows == 0:
        return result
    known = await _Known.load(session)
    good = csvfile.check_lines(((r.line, r) for r in rows), _Across(known).check, result.errors)
    if result.errors:
        return result
    await _write(rt, session, known, good, result)
    return result


@dataclass
class _Known:
    """What is already in the database, by the names and codes a line uses."""

    communities: dict[str, Community]  # by code
    grids: dict[tuple[int, str], list[Grid]]  # by (community id, name)
    compounds: dict[tuple[int, str], list[Compound]]
    existing: dict[str, _Existing]  # buildings by code
    code_of_place: dict[tuple[str, str, str], str]  # (community code, compound, name) -> code

    @classmethod
    async def load(cls, session: AsyncSession) -> _Known:
        communities = {c.code: c for c in await session.scalars(select(Community))}
        by_id = {c.id: c for c in communities.values()}
        grids: dict[tuple[int, str], list[Grid]] = {}
        for g in await session.scalars(select(Grid).order_by(Grid.id)):
            grids.setdefault((g.community_id, g.name), []).append(g)
        compounds: dict[tuple[int, str], list[Compound]] = {}
        for c in await session.scalars(select(Compound).order_by(Compound.id)):
            compounds.setdefault((c.community_id, c.name), []).append(c)
        existing: dict[str, _Existing] = {}
        for b, comp in await session.execute(
            select(Building, Compound).join(Compound, Compound.id == Building.compound_id)
        ):
            existing[b.code] = _Existing(
                b.id, by_id[comp.community_id].code, comp.name, b.name, b.grid_id, b.units
            )
        code_of_place = {
            (e.community_code, e.compound, e.name): code for code, e in existing.items()
        }
        return cls(communities, grids, compounds, existing, code_of_place)


class _Across:
    """The checks across lines and against the database: one name per community code, one
    code per building, one building per code, no name that is already ambiguous."""

    def __init__(self, known: _Known) -> None:
        self.known = known
        self.community_name: dict[str, tuple[str, int]] = {}
        self.hotline: dict[str, tuple[str, int]] = {}
        self.code_line: dict[str, int] = {}
        self.place_line: dict[tuple[str, str, str], tuple[str, int]] = {}

    def check(self, line: int, r: Row) -> tuple[Row | None, list[str]]:
        known = self.known
        reasons: list[str] = []
        first = self.community_name.setdefault(r.community_code, (r.community, r.line))
        if first[0] != r.community:
            reasons.append(
                Reason(
                    N_("the community code {code} is {name} on line {line}"),
                    code=repr(r.community_code),
                    name=repr(first[0]),
                    line=first[1],
                )
            )
        if r.hotline:
            said = self.hotline.setdefault(r.community_code, (r.hotline, r.line))
            if said[0] != r.hotline:
                reasons.append(
                    f"the hotline of {r.community_code!r} is {said[0]!r} on line {said[1]}"
                )
        if r.community_code in known.communities:
            cid = known.communities[r.community_code].id
            if len(known.grids.get((cid, r.grid), [])) > 1:
                reasons.append(
                    Reason(
                        N_("the community already has several grids called {name}"),
                        name=repr(r.grid),
                    )
                )
            if len(known.compounds.get((cid, r.compound), [])) > 1:
                reasons.append(
                    Reason(
                        N_("the community already has several compounds called {name}"),
                        name=repr(r.compound),
                    )
                )
        place = (r.community_code, r.compound, r.building)
        if r.building_code in self.code_line:
            reasons.append(
                Reason(
                    N_("the building code {code} is already on line {line}"),
                    code=repr(r.building_code),
                    line=self.code_line[r.building_code],
                )
            )
        else:
            self.code_line[r.building_code] = r.line
        seen = self.place_line.setdefault(place, (r.building_code, r.line))
        if seen[1] != r.line:
            reasons.append(
                Reason(
                    N_("{place} is already on line {line}"),
                    place=f"{r.compound} {r.building}",
                    line=seen[1],
                )
            )
        old = known.existing.get(r.building_code)
        if old is not None and (old.community_code, old.compound, old.name) != place:
            reasons.append(
                Reason(
                    N_("the building code {code} is taken by {place} of the community {other}"),
                    code=repr(r.building_code),
                    place=f"{old.compound} {old.name}",
                    other=repr(old.community_code),
                )
            )
        has = known.code_of_place.get(place)
        if has is not None and has != r.building_code:
            reasons.append(
                Reason(
                    N_("{place} already has the code {code}"),
                    place=f"{r.compound} {r.building}",
                    code=repr(has),
                )
            )
        return r, reasons


async def _write(
    rt: Runtime, session: AsyncSession, known: _Known, good: list[Row], result: ImportResult
) -> None:
    """Create or update what the checked lines name, counting what changed."""
    now = rt.clock.now()
    communities = known.communities
    seen_c: set[int] = set()
    seen_g: set[int] = set()
    seen_p: set[int] = set()
    # Each community's hotline, from whichever of its lines names it (they agree: _Across).
    hotlines = {r.community_code: r.hotline for r in good if r.hotline}
    for r in good:
        comm = communities.get(r.community_code)
        if comm is None:
            comm = Community(
                code=r.community_code,
                name=r.community,
                timezone=rt.timezone,
                hotline=hotlines.get(r.community_code),
                created_at=now,
            )
            session.add(comm)
            await session.flush()
            communities[comm.code] = comm
            result.communities.created += 1
        elif comm.id not in seen_c:
            hotline = hotlines.get(r.community_code) or comm.hotline
            if (comm.name, comm.hotline) != (r.community, hotline):
                comm.name, comm.hotline = r.community, hotline
                result.communities.updated += 1
            else:
                result.communities.unchanged += 1
        seen_c.add(comm.id)

        grid = await _get_or_create(
            session, known.grids, Grid, comm.id, r.grid, seen_g, result.grids, group_chat_id=None
        )
        comp = await _get_or_create(
            session, known.compounds, Compound, comm.id, r.compound, seen_p, result.compounds
        )
        old = known.existing.get(r.building_code)
        if old is None:
            session.add(
                Building(
                    grid_id=grid.id,
                    compound_id=comp.id,
                    name=r.building,
                    code=r.building_code,
                    units=r.units,
                )
            )
            result.buildings.created += 1
        elif (old.grid_id, old.units) != (grid.id, r.units):
            building = await session.get(Building, old.id)
            assert building is not None
            building.grid_id, building.units = grid.id, r.units
            result.buildings.updated += 1
        else:
            result.buildings.unchanged += 1
    await session.flush()


async def _get_or_create(
    session: AsyncSession,
    known: dict[tuple[int, str], list[Any]],
    kind: type[Any],
    community_id: int,
    name: str,
    seen: set[int],
    counts: Counts,
    **extra: object,
) -> Any:
    found = known.get((community_id, name))
    if found:
        row = found[0]
        if row.id not in seen:
            counts.unchanged += 1
    else:
        row = kind(community_id=community_id, name=name, **extra)
        session.add(row)
        await session.flush()
        known[(community_id, name)] = [row]
        counts.created += 1
    seen.add(row.id)
    return row


# --- posters --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Poster:
    community: str
    compound: str
    building: str
    code: str
    community_code: str = ""
    # One bot per community ([[bots]]): the username of the bot serving the community, which
    # its posters link to (None: the one bot's).
    bot: str | None = None


def for_bots(items: list[Poster], settings: Settings) -> list[Poster]:
    """The posters, each linking to the bot serving its community (``[[bots]]``)."""
    if not settings.bots:
        return items
    out = []
    for p in items:
        entry = settings.bot_serving(p.community_code)
        out.append(replace(p, bot=entry.username) if entry else p)
    return out


def start_link(bot_username: str, code: str) -> str:
    """The deep link that opens the bot with the building filled in."""
    return f"https://t.me/{bot_username.removeprefix('@')}?start=b_{code}"


def valid_bot_username(name: str) -> bool:
    return bool(BOT_USERNAME.fullmatch(name.removeprefix("@")))


async def posters(session: AsyncSession, community_code: str | None = None) -> list[Poster]:
    """Every building (of one community, if given), by community, compound and building."""
    q = (
        select(Community.name, Compound.name, Building.name, Building.code, Community.code)
        .join(Compound, Compound.id == Building.compound_id)
        .join(Community, Community.id == Compound.community_id)
        .order_by(Community.id, Compound.id, Building.id)
    )
    if community_code is not None:
        q = q.where(Community.code == community_code)
    return [Poster(*row) for row in await session.execute(q)]


def posters_pdf(items: list[Poster], bot_username: str, font_file: str | None = None) -> bytes:
    """One A4 page per building: the names big, the instruction, the QR code of the link, and
    the link itself in small print under it. Everything is set in one font embedded in the PDF
    (`poster_font`: the packaged WenQuanYi Micro Hei, or ``font_file``), so it prints the same
    everywhere; FontError for a font that cannot be used."""
    # Loaded here: only `paotui qr` and /setup's 🖨 need them.
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfgen import canvas

    from bot.services import poster_font

    font = poster_font.register(font_file)

    buf = io.BytesIO()
    # The page's initial font too, or Helvetica (not embedded) is named in the PDF as well.
    # (types-reportlab has this argument as a float: a mistake of the stubs.)
    c = canvas.Canvas(buf, pagesize=A4, initialFontName=font)  # type: ignore[arg-type]
    c.setTitle("paotui posters")
    width, height = A4
    cx = width / 2

    def centred(text: str, size: float, y: float) -> None:
        # Shrink a long name to fit the page.
        while size > 10 and pdfmetrics.stringWidth(text, font, size) > width - 30 * mm:
            size -= 2
        c.setFont(font, size)
        c.drawCentredString(cx, y, text)

    for p in items:
        link = start_link(p.bot or bot_username, p.code)
        centred(p.community, 36, height - 45 * mm)
        centred(p.compound, 48, height - 75 * mm)
        centred(p.building, 72, height - 110 * mm)
        qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=2)
        qr.add_data(link)
        qr.make(fit=True)
        img = qr.make_image().get_image()
        side = 110 * mm
        c.drawImage(ImageReader(img), cx - side / 2, 62 * mm, side, side)
        centred(POSTER_TEXT, 26, 45 * mm)
        c.setFont(font, 9)
        c.drawCentredString(cx, 56 * mm, link)
        c.showPage()
    c.save()
    return buf.getvalue()
