"""What came of a notice: a household's "Received" (recorded once, and the ✅ taken off its
message through the outbox in the same transaction), the counts staff see, a resend to those
who have not confirmed, and the unconfirmed households per building for door knocking."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.buttons import to_json
from bot.db import affected_rows
from bot.errors import Refused
from bot.i18n import N_, gettext_for, local_time
from bot.limits import TEXT_LIMIT, tg_len
from bot.runtime import Runtime
from bot.services import audit
from bot.services.notices.audiences import targets, visible
from bot.services.notices.sending import Recipient, outbox_rows, write_rows
from bot.services.notices.text import groupbuy_rows
from bot.services.people import language_of
from bot.services.scope import Scope, require_staff, scope_of
from models import (
    Building,
    Compound,
    Grid,
    GroupBuy,
    Notice,
    NoticeDelivery,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Resident,
)

RECEIVED_AT = N_("✅ Receipt confirmed · {when}")


async def confirm(
    rt: Runtime,
    session: AsyncSession,
    notice_id: int,
    chat_id: int,
    pressed_message_id: int | None = None,
) -> bool:
    """The household pressed Received: True the first time, False if already confirmed. The
    first time, the ✅ is taken off the notice's message by an edit of its buttons written to
    the outbox here (sent later, paced; DESIGN rules 4 and 11), so the press is answered at
    once; a press on a notice already confirmed writes nothing. ``pressed_message_id``: the
    message pressed, if known (after a resend it may be the older copy: its ✅ goes too)."""
    res = await affected_rows(
        session,
        update(NoticeDelivery)
        .where(
            NoticeDelivery.notice_id == notice_id,
            NoticeDelivery.chat_id == chat_id,
            NoticeDelivery.confirmed_at.is_(None),
        )
        .values(confirmed_at=rt.clock.now()),
    )
    if res == 1:
        await _take_buttons_off(rt, session, notice_id, chat_id, pressed_message_id)
        return True
    known = await session.scalar(
        select(NoticeDelivery.id).where(
            NoticeDelivery.notice_id == notice_id, NoticeDelivery.chat_id == chat_id
        )
    )
    if known is None:
        raise Refused(N_("This notice was not sent to you."))
    return False


async def _take_buttons_off(
    rt: Runtime, session: AsyncSession, notice_id: int, chat_id: int, pressed: int | None
) -> None:
    """Owe an edit removing the buttons of the household's copy of the notice (the row the
    delivery points at) and, if the press came from another copy (one sent before a resend),
    of that one too. Only copies delivered (with a message id): one still on its way keeps
    its ✅, and a press on it is answered "already noted"."""
    o = OutboxMessage.__table__.c
    current = (
        await session.execute(
            select(o.id, o.message_id, o.is_group, o.priority, o.text, o.photo)
            .join_from(NoticeDelivery, OutboxMessage, OutboxMessage.id == NoticeDelivery.outbox_id)
            .where(
                NoticeDelivery.notice_id == notice_id,
                NoticeDelivery.chat_id == chat_id,
                o.message_id.is_not(None),
            )
        )
    ).first()
    copies = [] if current is None else [current]
    if pressed is not None and (current is None or current.message_id != pressed):
        older = (
            await session.execute(
                select(o.id, o.message_id, o.is_group, o.priority, o.text, o.photo).where(
                    o.chat_id == chat_id, o.message_id == pressed, o.kind == OutboxKind.SEND
                )
            )
        ).first()
        if older is not None:
            copies.append(older)
    now = rt.clock.now()
    lang = await language_of(session, chat_id, rt.default_language)
    _ = gettext_for(lang)
    stamp = _(RECEIVED_AT).format(when=local_time(now, rt.timezone, "%m-%d %H:%M"))
    # A group-buy's announcement keeps its 🛒 while it collects: only the ✅ goes.
    groupbuy = await session.scalar(
        select(GroupBuy.id)
        .join(Notice, Notice.groupbuy_id == GroupBuy.id)
        .where(Notice.id == notice_id, GroupBuy.status == "open", GroupBuy.deadline_at > now)
    )
    keep = None if groupbuy is None else to_json(groupbuy_rows(lang, notice_id))
    rows = [
        # A text notice says under it when it was confirmed (issue 15: a pressed message shows
        # what is true now); a photo's or a PDF's caption (or a text with no room left) is
        # left as it is, only the ✅ goes.
        outbox.row(
            now,
            chat_id=chat_id,
            text=f"{c.text}\n\n{stamp}",
            buttons=keep,
            is_group=c.is_group,
            kind=OutboxKind.EDIT,
            edit_of=c.id,
            priority=c.priority,
        )
        if c.photo is None and c.text and tg_len(f"{c.text}\n\n{stamp}") <= TEXT_LIMIT
        else outbox.buttons_row(
            now,
            chat_id=chat_id,
            original_id=c.id,
            is_group=c.is_group,
            buttons=keep,
            priority=c.priority,
        )
        for c in copies
    ]
    if rows:
        await session.execute(insert(cast(Table, OutboxMessage.__table__)), rows)


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
    place: str | None = None  # the building or grid it went to, by name ("幸福小区 1栋")


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
    scope = await require_staff(session, telegram_id, N_("Only community staff can send notices."))
    q = (
        select(Notice)
        .where(scope.clause(Notice.community_id, Notice.grid_id))
        .order_by(Notice.id.desc())
    )
    names: dict[str, dict[str, str]] = {}  # the audience's targets by key, read once each
    return [await _view(session, n, scope, names) for n in await session.scalars(q.limit(limit))]


async def one(session: AsyncSession, telegram_id: int, notice_id: int) -> NoticeView:
    """One notice as /notices shows it now (a press on an older listing is shown this)."""
    notice = await visible(session, telegram_id, notice_id)
    return await _view(session, notice, await scope_of(session, telegram_id), {})


async def _view(
    session: AsyncSession, n: Notice, scope: Scope, names: dict[str, dict[str, str]]
) -> NoticeView:
    counted = await counts(session, n.id)
    prefix = {"building": "b", "grid": "g"}.get(n.audience)
    place = None
    if prefix and n.audience_id is not None:
        if n.audience not in names:
            names[n.audience] = dict(await targets(session, scope, n.audience))
        place = names[n.audience].get(f"{prefix}{n.audience_id}")
    return NoticeView(
        n.id, n.audience, n.text, n.send_at, n.sent_at, n.cancelled_at, counted, place
    )


async def resend_unconfirmed(
    rt: Runtime, session: AsyncSession, telegram_id: int, notice_id: int
) -> int:
    """A new message to each household that has not confirmed and whose last message was
    delivered. Not to those whose send failed for good (blocked the bot, never started it: a
    resend would fail the same way; they are on the door-knocking list), nor to those whose
    message is still on its way. Returns how many."""
    notice = await visible(session, telegram_id, notice_id)
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
    ids = await write_rows(session, await outbox_rows(rt, session, notice, people, now))
    d = NoticeDelivery.__table__.c
    await session.execute(
        update(cast(Table, NoticeDelivery.__table__))
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
    await visible(session, telegram_id, notice_id)
    scope = await scope_of(session, telegram_id)
    q = (
        select(Compound.name, Building.name, Resident, OutboxMessage.status)
        .select_from(NoticeDelivery)
        .join(Resident, Resident.id == NoticeDelivery.resident_id)
        .join(Building, Building.id == Resident.building_id)
        .join(Compound, Compound.id == Building.compound_id)
        .join(Grid, Grid.id == Building.grid_id)
        .outerjoin(OutboxMessage, OutboxMessage.id == NoticeDelivery.outbox_id)
        .where(NoticeDelivery.notice_id == notice_id, NoticeDelivery.confirmed_at.is_(None))
        .where(Resident.forgotten_at.is_(None))  # nobody left to knock for
        .where(scope.grid_clause())
        .order_by(Building.id, Resident.unit, Resident.room)
    )
    out: dict[str, list[Household]] = defaultdict(list)
    # "幸福小区 1栋": compounds often number their buildings alike.
    for cname, bname, r, status in (await session.execute(q)).all():
        out[f"{cname} {bname}"].append(
            Household(r.unit, r.room, r.name, r.phone, status == "failed")
        )
    return dict(out)
