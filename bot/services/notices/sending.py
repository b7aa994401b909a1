"""Sending a notice: create it (now, or for the sweep at a set time), cancel a scheduled
one, and send: one NoticeDelivery and one outbox row per recipient chat written in ONE
transaction (so a restart halfway skips nobody and sends nothing twice: the dispatcher leases
each row)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, distinct, false, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.db import affected_rows
from bot.errors import Refused
from bot.i18n import N_
from bot.runtime import Runtime
from bot.services import audit, care_flags
from bot.services.notices.audiences import BUILDING, CARE, EVERYONE, VOLUNTEERS, resolve, visible
from bot.services.notices.text import PAST, body, check_text, received_buttons
from bot.services.people import languages_of
from bot.services.scope import scope_of
from models import (
    Building,
    Grid,
    GroupBuy,
    Notice,
    NoticeDelivery,
    OutboxMessage,
    Resident,
    Volunteer,
    VolunteerStatus,
)

NOTICE_PRIORITY = 10  # after order traffic: a broadcast must not hold up a claim
# The bulk path writes through the tables (Core), not the ORM's bulk insert.
_OUTBOX = cast(Table, OutboxMessage.__table__)
_DELIVERIES = cast(Table, NoticeDelivery.__table__)


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
    groupbuy_id: int | None = None,
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
        groupbuy_id=groupbuy_id,
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
    notice = await visible(session, telegram_id, notice_id)
    res = await affected_rows(
        session,
        update(Notice)
        .where(Notice.id == notice.id, Notice.sent_at.is_(None), Notice.cancelled_at.is_(None))
        .values(cancelled_at=rt.clock.now()),
    )
    return res == 1


@dataclass(frozen=True)
class Recipient:
    chat_id: int
    resident_id: int | None
    building_id: int | None
    is_group: bool = False


# A notice to a district reaches 100,000 chats: its recipients are read, and their outbox and
# delivery rows written, this many at a time, the event loop free between two chunks.
WRITE_CHUNK = 1000


def _queries(
    notice: Notice,
) -> tuple[Select[int, int, int] | None, Select[int] | None, Select[int | None]]:
    """The queries of a notice's residents (None: none), volunteers (None: none) and group
    chats, each in a stable order."""
    aud = notice.audience
    rq = (
        select(Resident.telegram_id, Resident.id, Resident.building_id)
        .join(Building, Building.id == Resident.building_id)
        .where(Resident.forgotten_at.is_(None))  # erased households are never messaged
        # A household registered by staff without Telegram (电话点单) has no chat to reach.
        .where(Resident.telegram_id.is_not(None))
    )
    gq = select(Grid.group_chat_id).where(Grid.group_chat_id.is_not(None))
    if aud == BUILDING:
        rq = rq.where(Resident.building_id == notice.audience_id)
        gq = gq.where(false())
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
        gq = gq.where(false())
    vq = None
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
    residents = None if aud == VOLUNTEERS else rq.order_by(Resident.id)
    return cast("Select[int, int, int] | None", residents), vq, gq.order_by(Grid.id)


@dataclass(frozen=True)
class Reach:
    """How many a notice would reach if sent now (the preview says so)."""

    households: int
    volunteers: int
    groups: int


async def reach(session: AsyncSession, telegram_id: int, audience: str, key: str) -> Reach:
    """Count, without sending, the households, volunteers and group chats a notice to this
    target would reach now: the same queries as sending, counted in the database."""
    target = await resolve(session, await scope_of(session, telegram_id), audience, key)
    draft = Notice(
        community_id=target.community_id,
        grid_id=target.grid_id,
        audience=audience,
        audience_id=int(key[1:]) if key != "all" else None,
    )
    residents, volunteers, groups = _queries(draft)

    async def count(q: Any) -> int:
        if q is None:
            return 0
        sub = q.order_by(None).subquery()
        first = next(iter(sub.c))
        return int(await session.scalar(select(func.count(distinct(first)))) or 0)

    return Reach(await count(residents), await count(volunteers), await count(groups))


async def recipient_parts(
    session: AsyncSession, notice: Notice, size: int = WRITE_CHUNK
) -> AsyncIterator[list[Recipient]]:
    """Who a notice reaches, computed when it is sent (a resident who registered after a
    notice was scheduled gets it too), one entry per chat: the households, then the
    volunteers, then the group chats, read and handed out ``size`` at a time."""
    residents, volunteers, groups = _queries(notice)
    seen: set[int] = set()
    part: list[Recipient] = []

    def add(r: Recipient) -> list[Recipient] | None:
        nonlocal part
        if r.chat_id in seen:
            return None
        seen.add(r.chat_id)
        part.append(r)
        if len(part) < size:
            return None
        full, part = part, []
        return full

    if residents is not None:
        result = await session.stream(residents.execution_options(yield_per=size))
        async for rows in result.partitions(size):
            for tid, rid, bid in rows:
                if (full := add(Recipient(tid, rid, bid))) is not None:
                    yield full
    if volunteers is not None:
        for tid in await session.scalars(volunteers):
            if (full := add(Recipient(tid, None, None))) is not None:
                yield full
    for gid in await session.scalars(groups):
        if gid is not None:  # (the query's own condition)
            if (full := add(Recipient(gid, None, None, is_group=True))) is not None:
                yield full
    if part:
        yield part


async def recipients_of(session: AsyncSession, notice: Notice) -> list[Recipient]:
    """Who a notice reaches (`recipient_parts`), all at once."""
    return [r async for part in recipient_parts(session, notice) for r in part]


async def outbox_rows(
    rt: Runtime, session: AsyncSession, notice: Notice, people: list[Recipient], now: datetime
) -> list[dict[str, Any]]:
    """One outbox row per recipient, in their language; each language's text and buttons are
    made once."""
    langs = await languages_of(session, [r.chat_id for r in people], rt.default_language)
    # A group-buy's 🛒 while it collects (a resend after its deadline carries ✅ alone).
    collecting = notice.groupbuy_id is not None and bool(
        await session.scalar(
            select(GroupBuy.id).where(
                GroupBuy.id == notice.groupbuy_id,
                GroupBuy.status == "open",
                GroupBuy.deadline_at > now,
            )
        )
    )
    made: dict[str, tuple[str, list[list[dict[str, Any]]] | None]] = {}
    rows = []
    for r in people:
        lang = langs.get(r.chat_id, rt.default_language)
        if lang not in made:
            made[lang] = (
                body(lang, notice.text),
                received_buttons(lang, notice.id, groupbuy=collecting),
            )
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


async def write_rows(session: AsyncSession, rows: list[dict[str, object]]) -> list[int]:
    """Insert outbox rows in bulk; their ids, in the order given.

    A notice's rows go to distinct chats, so each chunk is one multi-row INSERT ... RETURNING
    (id, chat_id) and the ids are matched back by chat. (Asking the database to return them in
    parameter order instead makes SQLite, which has no insert sentinel, insert one row per
    statement: a thread hop per row through aiosqlite, ~30 s for 100,000 households.)"""
    table = _OUTBOX
    ids: list[int] = []
    for i in range(0, len(rows), WRITE_CHUNK):
        chunk = rows[i : i + WRITE_CHUNK]
        chats = [row["chat_id"] for row in chunk]
        if len(set(chats)) == len(chats):
            back = await session.execute(
                insert(table).returning(table.c.id, table.c.chat_id), chunk
            )
            by_chat: dict[object, int] = {chat: cast(int, oid) for oid, chat in back.all()}
            ids.extend(by_chat[chat] for chat in chats)
        else:
            ordered = await session.execute(
                insert(table).returning(table.c.id, sort_by_parameter_order=True), chunk
            )
            ids.extend(ordered.scalars().all())
    return ids


async def send(rt: Runtime, session: AsyncSession, notice_id: int) -> int:
    """Claim the notice (once: a conditional UPDATE) and write its deliveries and outbox rows
    in this transaction. Returns how many chats it goes to (0 if already sent or cancelled)."""
    now = rt.clock.now()
    res = await affected_rows(
        session,
        update(Notice)
        .where(Notice.id == notice_id, Notice.sent_at.is_(None), Notice.cancelled_at.is_(None))
        .values(sent_at=now),
    )
    if res != 1:
        return 0
    notice = await session.get(Notice, notice_id, populate_existing=True)
    assert notice is not None
    chats = households = 0
    async for people in recipient_parts(session, notice, WRITE_CHUNK):
        await _write(rt, session, notice, people, now)
        chats += len(people)
        households += sum(1 for r in people if not r.is_group)
        await asyncio.sleep(0)  # the loop serves other updates between two chunks
    notice.recipients = households
    return chats


async def _write(
    rt: Runtime, session: AsyncSession, notice: Notice, people: list[Recipient], now: datetime
) -> None:
    """Some recipients' outbox rows, deliveries and (groups, if pinned) pins: Core INSERTs."""
    ids = await write_rows(session, await outbox_rows(rt, session, notice, people, now))
    deliveries = [
        {
            "notice_id": notice.id,
            "chat_id": r.chat_id,
            "resident_id": r.resident_id,
            "building_id": r.building_id,
            "outbox_id": oid,
            "resent": 0,
        }
        for r, oid in zip(people, ids, strict=True)
    ]
    await session.execute(insert(_DELIVERIES), deliveries)
    if notice.pin:
        pins = [
            outbox.pin_row(now, chat_id=r.chat_id, original_id=oid, priority=NOTICE_PRIORITY)
            for r, oid in zip(people, ids, strict=True)
            if r.is_group
        ]
        if pins:
            await session.execute(insert(_OUTBOX), pins)


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
