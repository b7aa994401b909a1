"""Notices from staff to residents: an audience within the author's scope, sent now or at a set
time, one NoticeDelivery and one outbox row per recipient chat written in ONE transaction (so a
restart halfway skips nobody and sends nothing twice: the dispatcher leases each row), a
"Received" button per message, counts, a resend to the unconfirmed and the unconfirmed
households per building for door knocking. No Telegram types here."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.buttons import Button, to_json
from bot.errors import Refused, check_length
from bot.i18n import LANGUAGES, N_, gettext_for
from bot.limits import check_fits, limit_for
from bot.runtime import Runtime
from bot.services import audit, care_flags
from bot.services.people import languages_of
from models import (
    Building,
    Community,
    Grid,
    Notice,
    NoticeDelivery,
    OutboxMessage,
    OutboxStatus,
    Resident,
    Staff,
    StaffRole,
    Volunteer,
    VolunteerStatus,
)

logger = logging.getLogger(__name__)

NOTICE_PRIORITY = 10  # after order traffic: a broadcast must not hold up a claim

COMMUNITY, GRID, BUILDING, CARE, VOLUNTEERS, EVERYONE = (
    "community",
    "grid",
    "building",
    "care",
    "volunteers",
    "everyone",
)
AUDIENCE_LABELS = {
    COMMUNITY: N_("🏘 The whole community"),
    GRID: N_("🗺 A grid"),
    BUILDING: N_("🏢 A building"),
    CARE: N_("❤️ The care list"),
    VOLUNTEERS: N_("🙋 The volunteers"),
    EVERYONE: N_("🌐 Everyone (all communities)"),
}
RECEIVED = N_("✅ Received")
NOT_YOURS = N_("You may not send notices to this audience.")


# --- scope --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What a staff member may address: everything (admin), whole communities, single grids."""

    admin: bool
    communities: frozenset[int]
    grids: frozenset[int]  # grids led (grid leaders), beyond those of their communities

    @property
    def is_staff(self) -> bool:
        return self.admin or bool(self.communities) or bool(self.grids)


async def scope_of(session: AsyncSession, telegram_id: int) -> Scope:
    rows = (await session.scalars(select(Staff).where(Staff.telegram_id == telegram_id))).all()
    return Scope(
        admin=any(r.role == StaffRole.ADMIN for r in rows),
        communities=frozenset(
            r.community_id
            for r in rows
            if r.role == StaffRole.COMMUNITY and r.community_id is not None
        ),
        grids=frozenset(
            r.grid_id for r in rows if r.role == StaffRole.GRID_LEADER and r.grid_id is not None
        ),
    )


def _grid_filter(scope: Scope):  # type: ignore[no-untyped-def]
    """A WHERE clause on Grid for the grids in scope (None: all)."""
    if scope.admin:
        return None
    return or_(Grid.community_id.in_(scope.communities), Grid.id.in_(scope.grids))


def audiences_for(scope: Scope) -> list[str]:
    """Audiences offered to this person: everyone for admins only; a whole community for
    admins and community staff; grids, buildings, care list and volunteers for all staff."""
    if not scope.is_staff:
        return []
    out = [GRID, BUILDING, CARE, VOLUNTEERS]
    if scope.admin or scope.communities:
        out.insert(0, COMMUNITY)
    if scope.admin:
        out.append(EVERYONE)
    return out


async def targets(session: AsyncSession, scope: Scope, audience: str) -> list[tuple[str, str]]:
    """What an audience can be aimed at, as (key, label): ``c<id>`` a community, ``g<id>`` a
    grid, ``b<id>`` a building. The care list and the volunteers: a community in full scope,
    or a grid led. Everyone: no target."""
    if audience not in audiences_for(scope):
        return []
    if audience == EVERYONE:
        return [("all", "")]
    communities: list[tuple[str, str]] = []
    if audience in (COMMUNITY, CARE, VOLUNTEERS) and (scope.admin or scope.communities):
        q = select(Community).order_by(Community.id)
        if not scope.admin:
            q = q.where(Community.id.in_(scope.communities))
        communities = [(f"c{c.id}", c.name) for c in await session.scalars(q)]
    if audience == COMMUNITY:
        return communities
    gq = select(Grid).order_by(Grid.id)
    where = _grid_filter(scope)
    if audience == BUILDING:
        bq = select(Building).join(Grid, Grid.id == Building.grid_id).order_by(Building.id)
        if where is not None:
            bq = bq.where(where)
        return [(f"b{b.id}", b.name) for b in await session.scalars(bq)]
    if audience in (CARE, VOLUNTEERS):
        if scope.admin or scope.communities:
            return communities
        gq = gq.where(Grid.id.in_(scope.grids))
    elif where is not None:
        gq = gq.where(where)
    return [(f"g{g.id}", g.name) for g in await session.scalars(gq)]


@dataclass(frozen=True)
class Target:
    audience: str
    key: str
    label: str
    community_id: int | None
    grid_id: int | None
    building_id: int | None


async def resolve(session: AsyncSession, scope: Scope, audience: str, key: str) -> Target:
    """Check that ``key`` is a target this person may use for ``audience``."""
    allowed = dict(await targets(session, scope, audience))
    if key not in allowed:
        raise Refused(NOT_YOURS)
    label = allowed[key]
    if key == "all":
        return Target(audience, key, label, None, None, None)
    kind, ident = key[0], int(key[1:])
    if kind == "c":
        return Target(audience, key, label, ident, None, None)
    if kind == "g":
        grid = await session.get(Grid, ident)
        assert grid is not None
        return Target(audience, key, label, grid.community_id, ident, None)
    building = await session.get(Building, ident)
    assert building is not None
    grid = await session.get(Grid, building.grid_id)
    assert grid is not None
    return Target(audience, key, label, grid.community_id, grid.id, ident)


def check_text(text: str, has_media: bool, limit: int) -> str:
    """The notice's text, stripped; Refused if empty, longer than ``limit`` (the config's), or
    too long for Telegram once in the message every recipient gets (in any language; a caption
    with a photo or a PDF)."""
    text = text.strip()
    if not text and not has_media:
        raise Refused(N_("The notice is empty. Please type the text of the notice."))
    check_length(text, limit)
    check_fits(text, (_body(lang, text) for lang in LANGUAGES), limit_for(has_media))
    return text


BAD_TIME = N_("Please give the time as HH:MM (today) or YYYY-MM-DD HH:MM, e.g. 18:30.")
PAST = N_("That time has passed. Please give a time in the future.")


def parse_when(text: str, now: datetime, tz: str) -> datetime:
    """A local time typed by staff (HH:MM today, or YYYY-MM-DD HH:MM), in UTC."""
    zone = ZoneInfo(tz)
    t = " ".join(text.split())
    try:
        if m := re.fullmatch(r"(\d{1,2})[:：](\d{2})", t):
            local = now.astimezone(zone).replace(
                hour=int(m[1]), minute=int(m[2]), second=0, microsecond=0
            )
        else:
            local = datetime.strptime(t, "%Y-%m-%d %H:%M").replace(tzinfo=zone)
    except ValueError:
        raise Refused(BAD_TIME) from None
    if local <= now:
        raise Refused(PAST)
    return local.astimezone(UTC)


# --- create and send -----------------------------------------------------------------------


async def create(
    rt: Runtime,
    session: AsyncSession,
    telegram_id: int,
    audience: str,
    key: str,
    text: str,
    *,
    file_id: str | None = None,
    media: str | None = None,
    pin: bool = False,
    send_at: datetime | None = None,
) -> Notice:
    """A notice, sent now (its messages written in this transaction) or left for the sweep at
    ``send_at``."""
    scope = await scope_of(session, telegram_id)
    target = await resolve(session, scope, audience, key)
    if media not in (None, "photo", "document") or (media is None) != (file_id is None):
        raise Refused(N_("Please send a photo or a PDF, or just text."))
    text = check_text(text, file_id is not None, rt.settings.limits.max_text_length * 3)
    now = rt.clock.now()
    if send_at is not None and send_at <= now:
        raise Refused(PAST)
    notice = Notice(
        community_id=target.community_id,
        grid_id=target.grid_id,
        audience=audience,
        audience_id=int(key[1:]) if key != "all" else None,
        author_telegram_id=telegram_id,
        text=text,
        file_id=file_id,
        media=media,
        pin=pin,
        send_at=send_at,
        recipients=0,
        created_at=now,
    )
    session.add(notice)
    await session.flush()
    await audit.record(
        session,
        rt.clock,
        telegram_id,
        "notice.scheduled" if send_at else "notice.sent",
        f"{audience}:{key}",
        notice=notice.id,
        text=text[:200],
    )
    if send_at is None:
        await send(rt, session, notice.id)
    return notice


async def cancel(rt: Runtime, session: AsyncSession, telegram_id: int, notice_id: int) -> bool:
    """Cancel a scheduled notice not yet sent (its author or an admin)."""
    notice = await _visible(session, telegram_id, notice_id)
    res = await session.execute(
        update(Notice)
        .where(Notice.id == notice.id, Notice.sent_at.is_(None), Notice.cancelled_at.is_(None))
        .values(cancelled_at=rt.clock.now())
    )
    return res.rowcount == 1  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Recipient:
    chat_id: int
    resident_id: int | None
    building_id: int | None
    is_group: bool = False


async def recipients_of(session: AsyncSession, notice: Notice) -> list[Recipient]:
    """Who a notice reaches, computed when it is sent (a resident who registered after a
    notice was scheduled gets it too). One entry per chat."""
    aud = notice.audience
    rq = (
        select(Resident.telegram_id, Resident.id, Resident.building_id)
        .join(Building, Building.id == Resident.building_id)
        .where(Resident.forgotten_at.is_(None))  # erased households are never messaged
    )
    gq = select(Grid.group_chat_id).where(Grid.group_chat_id.is_not(None))
    if aud == BUILDING:
        rq = rq.where(Resident.building_id == notice.audience_id)
        gq = gq.where(False)
    elif notice.grid_id is not None:
        rq = rq.where(Building.grid_id == notice.grid_id)
        gq = gq.where(Grid.id == notice.grid_id)
    elif notice.community_id is not None:
        rq = rq.join(Grid, Grid.id == Building.grid_id).where(
            Grid.community_id == notice.community_id
        )
        gq = gq.where(Grid.community_id == notice.community_id)
    if aud == CARE:
        rq = rq.where(care_flags.has_flag())
        gq = gq.where(False)
    out: dict[int, Recipient] = {}
    if aud != VOLUNTEERS:
        for tid, rid, bid in (await session.execute(rq.order_by(Resident.id))).all():
            out.setdefault(tid, Recipient(tid, rid, bid))
    if aud in (VOLUNTEERS, EVERYONE):
        vq = (
            select(Volunteer.telegram_id)
            .join(Grid, Grid.id == Volunteer.grid_id)
            .where(Volunteer.status == VolunteerStatus.APPROVED)
            .order_by(Volunteer.id)
        )
        if notice.grid_id is not None:
            vq = vq.where(Grid.id == notice.grid_id)
        elif notice.community_id is not None:
            vq = vq.where(Grid.community_id == notice.community_id)
        for tid in await session.scalars(vq):
            out.setdefault(tid, Recipient(tid, None, None))
    for gid in await session.scalars(gq.order_by(Grid.id)):
        out.setdefault(gid, Recipient(gid, None, None, is_group=True))
    return list(out.values())


def _body(lang: str, text: str) -> str:
    return "📢 " + gettext_for(lang)("Notice from the community") + "\n\n" + text


def _received(lang: str, notice_id: int) -> list[list[dict[str, Any]]] | None:
    return to_json([[Button(gettext_for(lang)(RECEIVED), f"n:ok:{notice_id}")]])


async def _rows(
    rt: Runtime, session: AsyncSession, notice: Notice, people: list[Recipient], now: datetime
) -> list[dict[str, Any]]:
    """One outbox row per recipient, in their language; each language's text and buttons are
    made once."""
    langs = await languages_of(session, [r.chat_id for r in people], rt.default_language)
    made: dict[str, tuple[str, list[list[dict[str, Any]]] | None]] = {}
    rows = []
    for r in people:
        lang = langs.get(r.chat_id, rt.default_language)
        if lang not in made:
            made[lang] = (_body(lang, notice.text), _received(lang, notice.id))
        text, received = made[lang]
        rows.append(
            outbox.row(
                now,
                chat_id=r.chat_id,
                text=text,
                # A group post has no button: a confirmation is one household's.
                buttons=None if r.is_group else received,
                is_group=r.is_group,
                photo=notice.file_id,
                media=notice.media,
                priority=NOTICE_PRIORITY,
            )
        )
    return rows


async def _write_rows(session: AsyncSession, rows: list[dict[str, object]]) -> list[int]:
    """Insert outbox rows in bulk; their ids, in the order given."""
    ids: list[int] = []
    for i in range(0, len(rows), 2000):
        chunk = rows[i : i + 2000]
        res = await session.execute(
            insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True),
            chunk,
        )
        ids.extend(res.scalars().all())
    return ids


async def send(rt: Runtime, session: AsyncSession, notice_id: int) -> int:
    """Claim the notice (once: a conditional UPDATE) and write its deliveries and outbox rows
    in this transaction. Returns how many chats it goes to (0 if already sent or cancelled)."""
    now = rt.clock.now()
    res = await session.execute(
        update(Notice)
        .where(Notice.id == notice_id, Notice.sent_at.is_(None), Notice.cancelled_at.is_(None))
        .values(sent_at=now)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        return 0
    notice = await session.get(Notice, notice_id, populate_existing=True)
    assert notice is not None
    people = await recipients_of(session, notice)
    ids = await _write_rows(session, await _rows(rt, session, notice, people, now))
    deliveries = [
        {
            "notice_id": notice_id,
            "chat_id": r.chat_id,
            "resident_id": r.resident_id,
            "building_id": r.building_id,
            "outbox_id": oid,
            "resent": 0,
        }
        for r, oid in zip(people, ids, strict=True)
    ]
    for i in range(0, len(deliveries), 2000):
        await session.execute(insert(NoticeDelivery), deliveries[i : i + 2000])
    if notice.pin:
        pins = [
            outbox.pin_row(now, chat_id=r.chat_id, original_id=oid, priority=NOTICE_PRIORITY)
            for r, oid in zip(people, ids, strict=True)
            if r.is_group
        ]
        if pins:
            await session.execute(insert(OutboxMessage), pins)
    notice.recipients = sum(1 for r in people if not r.is_group)
    return len(people)


async def send_due(rt: Runtime) -> int:
    """The sweep's part: send each scheduled notice whose time has come, once."""
    now = rt.clock.now()
    async with rt.db.read() as s:
        due = (
            await s.scalars(
                select(Notice.id).where(
                    Notice.send_at <= now, Notice.sent_at.is_(None), Notice.cancelled_at.is_(None)
                )
            )
        ).all()
    fired = 0
    for notice_id in due:
        async with rt.db.session() as s:
            if await send(rt, s, notice_id):
                fired += 1
    return fired


# --- the residents' side ------------------------------------------------------------------


async def confirm(rt: Runtime, session: AsyncSession, notice_id: int, chat_id: int) -> bool:
    """The household pressed Received: True the first time, False if already confirmed."""
    res = await session.execute(
        update(NoticeDelivery)
        .where(
            NoticeDelivery.notice_id == notice_id,
            NoticeDelivery.chat_id == chat_id,
            NoticeDelivery.confirmed_at.is_(None),
        )
        .values(confirmed_at=rt.clock.now())
    )
    if res.rowcount == 1:  # type: ignore[attr-defined]
        return True
    known = await session.scalar(
        select(NoticeDelivery.id).where(
            NoticeDelivery.notice_id == notice_id, NoticeDelivery.chat_id == chat_id
        )
    )
    if known is None:
        raise Refused(N_("This notice was not sent to you."))
    return False


# --- staff: counts, resend, unconfirmed ---------------------------------------------------


@dataclass(frozen=True)
class Counts:
    recipients: int
    sent: int
    failed: int
    confirmed: int
    pending: int
    groups: int


@dataclass(frozen=True)
class NoticeView:
    id: int
    audience: str
    text: str
    send_at: datetime | None
    sent_at: datetime | None
    cancelled_at: datetime | None
    counts: Counts


async def _visible(session: AsyncSession, telegram_id: int, notice_id: int) -> Notice:
    """A notice this person may see and act on: admins all; others those in their scope."""
    notice = await session.get(Notice, notice_id)
    scope = await scope_of(session, telegram_id)
    if notice is None or not _in_scope(scope, notice):
        raise Refused(N_("You may not see this notice."))
    return notice


def _in_scope(scope: Scope, notice: Notice) -> bool:
    if scope.admin:
        return True
    if notice.community_id is not None and notice.community_id in scope.communities:
        return True
    return notice.grid_id is not None and notice.grid_id in scope.grids


async def counts(session: AsyncSession, notice_id: int) -> Counts:
    d, o = NoticeDelivery, OutboxMessage
    private = d.chat_id > 0
    row = (
        await session.execute(
            select(
                func.count().filter(private),
                func.count().filter(and_(private, o.status == OutboxStatus.SENT)),
                func.count().filter(and_(private, o.status == OutboxStatus.FAILED)),
                func.count().filter(and_(private, d.confirmed_at.is_not(None))),
                func.count().filter(
                    and_(private, o.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
                ),
                func.count().filter(d.chat_id < 0),
            )
            .select_from(d)
            .outerjoin(o, o.id == d.outbox_id)
            .where(d.notice_id == notice_id)
        )
    ).one()
    return Counts(*(int(x or 0) for x in row))


async def recent(session: AsyncSession, telegram_id: int, limit: int = 5) -> list[NoticeView]:
    scope = await scope_of(session, telegram_id)
    if not scope.is_staff:
        raise Refused(N_("Only community staff can send notices."))
    q = select(Notice).order_by(Notice.id.desc())
    if not scope.admin:
        q = q.where(
            or_(Notice.community_id.in_(scope.communities), Notice.grid_id.in_(scope.grids))
        )
    out = []
    for n in await session.scalars(q.limit(limit)):
        out.append(
            NoticeView(
                n.id,
                n.audience,
                n.text,
                n.send_at,
                n.sent_at,
                n.cancelled_at,
                await counts(session, n.id),
            )
        )
    return out


async def resend_unconfirmed(
    rt: Runtime, session: AsyncSession, telegram_id: int, notice_id: int
) -> int:
    """A new message to each household that has not confirmed and whose last message was
    delivered. Not to those whose send failed for good (blocked the bot, never started it: a
    resend would fail the same way; they are on the door-knocking list), nor to those whose
    message is still on its way. Returns how many."""
    notice = await _visible(session, telegram_id, notice_id)
    if notice.sent_at is None:
        raise Refused(N_("This notice has not been sent yet."))
    rows = (
        await session.execute(
            select(NoticeDelivery.id, NoticeDelivery.chat_id)
            .join(OutboxMessage, OutboxMessage.id == NoticeDelivery.outbox_id)
            .outerjoin(Resident, Resident.id == NoticeDelivery.resident_id)
            .where(
                Resident.forgotten_at.is_(None),  # an erased household is never messaged
                NoticeDelivery.notice_id == notice_id,
                NoticeDelivery.chat_id > 0,
                NoticeDelivery.confirmed_at.is_(None),
                OutboxMessage.status == OutboxStatus.SENT,
            )
            .order_by(NoticeDelivery.id)
        )
    ).all()
    if not rows:
        return 0
    now = rt.clock.now()
    people = [Recipient(chat, None, None) for _, chat in rows]
    ids = await _write_rows(session, await _rows(rt, session, notice, people, now))
    d = NoticeDelivery.__table__.c
    await session.execute(
        update(NoticeDelivery.__table__)
        .where(d.id == bindparam("delivery_id"))
        .values(outbox_id=bindparam("new_outbox_id"), resent=d.resent + 1),
        [
            {"delivery_id": delivery_id, "new_outbox_id": oid}
            for (delivery_id, _), oid in zip(rows, ids, strict=True)
        ],
    )
    await audit.record(
        session, rt.clock, telegram_id, "notice.resent", f"notice:{notice_id}", n=len(rows)
    )
    return len(rows)


@dataclass(frozen=True)
class Household:
    unit: str
    room: str
    name: str
    phone: str
    failed: bool  # the message never arrived (blocked the bot)


async def unconfirmed_by_building(
    session: AsyncSession, telegram_id: int, notice_id: int
) -> dict[str, list[Household]]:
    """Households that have not confirmed, per building, for door knocking (staff only, the
    buildings in their scope)."""
    await _visible(session, telegram_id, notice_id)
    scope = await scope_of(session, telegram_id)
    q = (
        select(Building.name, Resident, OutboxMessage.status)
        .select_from(NoticeDelivery)
        .join(Resident, Resident.id == NoticeDelivery.resident_id)
        .join(Building, Building.id == Resident.building_id)
        .join(Grid, Grid.id == Building.grid_id)
        .outerjoin(OutboxMessage, OutboxMessage.id == NoticeDelivery.outbox_id)
        .where(NoticeDelivery.notice_id == notice_id, NoticeDelivery.confirmed_at.is_(None))
        .where(Resident.forgotten_at.is_(None))  # nobody left to knock for
        .order_by(Building.id, Resident.unit, Resident.room)
    )
    where = _grid_filter(scope)
    if where is not None:
        q = q.where(where)
    out: dict[str, list[Household]] = defaultdict(list)
    for bname, r, status in (await session.execute(q)).all():
        out[bname].append(Household(r.unit, r.room, r.name, r.phone, status == "failed"))
    return dict(out)
