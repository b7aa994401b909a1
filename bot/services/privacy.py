"""Personal data: what leaves the bot for operators, how long raw data is kept, and erasing a
household on request (PIPL, China's Personal Information Protection Law).

- ``scrub`` / ``error_report``: a traceback bound for the operator chat without contact details.
- ``prune_due`` (a part of the sweep): processed incoming updates are deleted, and sent or
  finally failed outgoing messages blanked, ``[privacy] retention_days`` after they were
  received or written. Cheap when nothing is due: an indexed range scan that finds nothing.
- ``forget`` (`paotui resident forget --phone ...`): a household's name, phone, address,
  recipients, care records, the free text and photos of its orders, its raw updates and the
  texts sent to it are erased; its orders stay in the ledger with their figures only.
"""

from __future__ import annotations

import json
import re
import traceback
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, delete, false, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from bot.db import affected_rows
from bot.inbox import MAX_ATTEMPTS
from bot.runtime import Runtime
from bot.services import audit, care_flags, redact
from models import (
    AuditEntry,
    CareCheck,
    ChatState,
    InboxUpdate,
    NoticeDelivery,
    Order,
    OrderDraft,
    OrderEvent,
    OrderMessage,
    OrderPost,
    OrderProblem,
    OutboxMessage,
    Recipient,
    Repeat,
    Resident,
    ResidentInput,
    UserPref,
)
from models.enums import FINAL_STATUSES, OutboxStatus

# --- error reports ---------------------------------------------------------------------------

REPORT_LIMIT = 3000  # characters of the traceback's end (Telegram allows 4,096 per message)


def scrub(text: str) -> str:
    """``text`` with every contact detail masked, by the same rules as a group post (a phone
    however written, a room, a WeChat id); line numbers and small counts stay readable."""
    return redact.redact(text)


def error_report(error: BaseException) -> str:
    """The end of ``error``'s traceback for the operator chat, phone-like digits scrubbed.

    SQL parameters (a resident's phone, name, address) never reach here in the first place:
    the engines are built with ``hide_parameters`` (bot/db.py). This is the second net for
    anything else that quoted personal digits in an exception message."""
    text = "".join(traceback.format_exception(error))
    return scrub(text)[-REPORT_LIMIT:]


# --- retention ---------------------------------------------------------------------------------

# Rows handled per sweep and table: the first sweep after an upgrade (years of rows) must not
# hold SQLite's writer lock for long; the next sweeps carry on.
BATCH = 2000
_BLANK = {"text": "", "buttons": None, "photo": None}


async def prune_due(rt: Runtime) -> int:
    """Delete processed inbox rows and blank sent/failed outbox rows older than the retention
    period; how many rows were touched. When nothing is due, only reads (no write lock)."""
    now = rt.clock.now()
    cutoff = now - timedelta(days=rt.settings.privacy.retention_days)
    i, o = InboxUpdate, OutboxMessage
    async with rt.db.read() as r:
        # Each bot's newest update stays (its payload emptied): polling resumes from its id
        # after a restart. One index lookup per bot configured ("" without [[bots]]).
        newest: list[tuple[str, int]] = []
        for bot in [b.name for b in rt.settings.bots] or [""]:
            top = await r.scalar(select(func.max(i.update_id)).where(i.bot == bot))
            if top is not None:
                newest.append((bot, top))
        old_inbox = select(i.bot, i.update_id).where(
            or_(
                i.processed_at < cutoff,  # processed (ix_inbox_pending)
                # never processed and given up: nothing will read it again
                (i.processed_at.is_(None))
                & (i.attempts >= MAX_ATTEMPTS)
                & (i.received_at < cutoff),
            ),
            # "!=", not "<": a range on update_id would tempt SQLite off the index.
            *(or_(i.bot != bot, i.update_id != top) for bot, top in newest),
        )
        newest_old = select(i.bot, i.update_id).where(
            or_(false(), *(and_(i.bot == bot, i.update_id == top) for bot, top in newest)),
            i.processed_at < cutoff,
            i.payload != "{}",
        )
        # Only rows that will never be sent again: an edit of a live card needs the original's
        # chat, message id and status, which stay (and a retention of days is far past
        # Telegram's 48 hours for editing anyway).
        old_outbox = select(o.id).where(
            o.redacted_at.is_(None),  # ix_outbox_redaction: a range scan of what is due
            o.created_at < cutoff,
            o.status.in_([OutboxStatus.SENT, OutboxStatus.FAILED]),
        )
        due = [await r.scalar(q.limit(1)) is not None for q in (old_inbox, newest_old, old_outbox)]
    if not any(due):
        return 0
    async with rt.db.session() as s:
        key = tuple_(i.bot, i.update_id)
        deleted = await affected_rows(s, delete(i).where(key.in_(old_inbox.limit(BATCH))))
        await s.execute(update(i).where(key.in_(newest_old)).values(payload="{}"))
        blanked = await affected_rows(
            s, update(o).where(o.id.in_(old_outbox.limit(BATCH))).values(**_BLANK, redacted_at=now)
        )
    return deleted + blanked


# --- erasing a household ----------------------------------------------------------------------

# A forgotten resident's telegram_id: above 2**53, so no Telegram user has it (their ids fit
# in 52 bits), unique per resident, and positive like a private chat's id.
FORGOTTEN_BASE = 10**16


class NoSuchPhone(Exception):
    """No resident, recipient or order has this phone number."""


class StillUnderWay(Exception):
    """Orders of the household are not finished: they still need the address."""

    def __init__(self, order_ids: list[int]) -> None:
        super().__init__(order_ids)
        self.order_ids = order_ids


@dataclass
class Forgotten:
    residents: list[int] = field(default_factory=list)  # resident ids (not personal)
    recipients: int = 0
    orders: int = 0
    care_checks: int = 0
    relay_messages: int = 0
    drafts: int = 0
    problems: int = 0
    inbox: int = 0
    outbox: int = 0
    notice_deliveries: int = 0
    chat_state: int = 0
    audit_details: int = 0

    def lines(self) -> list[str]:
        return [
            f"households forgotten: {len(self.residents)} "
            f"(resident id {', '.join(map(str, self.residents)) or '-'}): "
            "name, phone, room and care marks erased",
            f"people they ordered for (or who gave this phone): {self.recipients} erased",
            f"orders anonymised, kept in the ledger with their figures: {self.orders}",
            f"care check-ins deleted: {self.care_checks}",
            f"messages with the runner deleted: {self.relay_messages}",
            f"unfinished order forms deleted: {self.drafts}",
            f"problem reports' text erased: {self.problems}",
            f"incoming updates deleted: {self.inbox}",
            f"messages sent to them blanked: {self.outbox}",
            f"notice deliveries unlinked from the chat: {self.notice_deliveries}",
            f"saved conversations and preferences deleted: {self.chat_state}",
            f"audit entries' details erased: {self.audit_details}",
        ]


def phone_key(phone: str) -> str:
    """The digits that identify a number: 138-0013-8000, +86 138 0013 8000 -> 13800138000."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


# What an order keeps: category, status, urgency, times, amount, grid/building/community, the
# runner, the rating. What it loses: who, where exactly, and anything they wrote or sent.
_ORDER_BLANK: dict[str, Any] = {
    "contact_name": "",
    "contact_phone": "",
    "unit": "",
    "room": "",
    "description": "",
    "details": {},
    "photo": None,
    "voice": None,
    "thanks": None,
    "reason": None,
    "doorstep_photo": None,
    "receipt_photo": None,
}


def _mentions(payload: str, telegram_id: int) -> bool:
    """Whether a stored update came from, or was in the private chat of, this person."""
    try:
        data = json.loads(payload)
    except ValueError:
        return False
    stack: list[Any] = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("from", "chat", "user") and isinstance(value, dict):
                    if value.get("id") == telegram_id:
                        return True
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return False


async def forget(
    rt: Runtime, session: AsyncSession, phone: str, actor: int | None = None
) -> Forgotten:
    """Erase the personal data of the household(s) with this phone number, and of anyone
    ordered for with it (in the caller's transaction). Raises NoSuchPhone, or StillUnderWay
    while an order concerned is not finished."""
    key = phone_key(phone)
    if len(key) < 5:
        raise NoSuchPhone(phone)
    now = rt.clock.now()
    residents = [
        r
        for r in await session.scalars(
            select(Resident).where(Resident.forgotten_at.is_(None)).order_by(Resident.id)
        )
        if phone_key(r.phone) == key
    ]
    resident_ids = [r.id for r in residents]
    # The people ordered for with this phone, and everyone these households ordered for.
    recipients = {
        rid
        for rid, owner, p in await session.execute(
            select(Recipient.id, Recipient.owner_id, Recipient.phone)
        )
        if owner in resident_ids or phone_key(p) == key
    }
    recipient_ids = sorted(recipients)
    # Their orders, and any order that gave this phone as its contact (the LIKE on the last
    # digits is only a cheap pre-filter; the key decides).
    rows = (
        await session.execute(
            select(
                Order.id, Order.status, Order.contact_phone, Order.resident_id, Order.recipient_id
            ).where(
                or_(
                    Order.resident_id.in_(resident_ids),
                    Order.recipient_id.in_(recipient_ids),
                    Order.contact_phone.like(f"%{key[-4:]}%"),
                )
            )
        )
    ).all()
    concerned = [
        (oid, status)
        for oid, status, contact, owner, recipient in rows
        if owner in resident_ids or recipient in recipient_ids or phone_key(contact) == key
    ]
    if not residents and not recipient_ids and not concerned:
        raise NoSuchPhone(phone)
    running = sorted(oid for oid, status in concerned if status not in FINAL_STATUSES)
    if running:
        raise StillUnderWay(running)
    order_ids = sorted(oid for oid, _status in concerned)
    # What copies of their data in sent messages look like (cards to runners, staff alerts,
    # group posts quoting a description): searched for before the originals are erased.
    needles = await _needles(session, residents, recipient_ids, order_ids)

    done = Forgotten(residents=resident_ids)
    # What they typed outside a conversation during an order (and what points at the relay
    # messages deleted below).
    await session.execute(
        delete(ResidentInput).where(
            or_(
                ResidentInput.telegram_id.in_([r.telegram_id for r in residents]),
                ResidentInput.order_id.in_(order_ids),
            )
        )
    )
    if order_ids:
        done.orders = await affected_rows(
            session,
            update(Order).where(Order.id.in_(order_ids)).values(**_ORDER_BLANK, updated_at=now),
        )
        await session.execute(
            update(OrderEvent).where(OrderEvent.order_id.in_(order_ids)).values(note=None)
        )
        done.relay_messages = await affected_rows(
            session, delete(OrderMessage).where(OrderMessage.order_id.in_(order_ids))
        )
        done.problems = await affected_rows(
            session,
            update(OrderProblem).where(OrderProblem.order_id.in_(order_ids)).values(text=None),
        )
    if recipient_ids:
        done.drafts += await affected_rows(
            session,
            delete(OrderDraft).where(
                OrderDraft.recipient_id.in_(recipient_ids), OrderDraft.order_id.is_(None)
            ),
        )
        done.recipients = await affected_rows(
            session,
            update(Recipient)
            .where(Recipient.id.in_(recipient_ids))
            .values(name="", phone="", unit="", room="", removed=True),
        )

    for r in residents:
        await _forget_resident(session, r, done, now)
    done.outbox += await _blank_copies(session, order_ids, needles, now)

    await audit.record(
        session,
        rt.clock,
        actor,
        "resident.forget",
        f"residents:{','.join(map(str, resident_ids))}",
        orders=done.orders,
        recipients=done.recipients,
    )
    return done


async def _needles(
    session: AsyncSession, residents: list[Resident], recipient_ids: list[int], order_ids: list[int]
) -> set[str]:
    """The names and phone numbers to look for in stored message texts. Names of one
    character are left out: they would match far too much."""
    values = {v for r in residents for v in (r.name, r.phone)}
    if recipient_ids:
        for name, phone in await session.execute(
            select(Recipient.name, Recipient.phone).where(Recipient.id.in_(recipient_ids))
        ):
            values |= {name, phone}
    if order_ids:
        for name, phone in await session.execute(
            select(Order.contact_name, Order.contact_phone).where(Order.id.in_(order_ids))
        ):
            values |= {name, phone}
    return {v for v in values if v and len(v) >= 2}


async def _blank_copies(
    session: AsyncSession, order_ids: list[int], needles: set[str], now: Any
) -> int:
    """Blank the sent (or failed) messages about these orders in other chats: the group posts
    and runners' cards (and their edits), and any text quoting one of ``needles``."""
    o = OutboxMessage
    linked: set[int] = set()
    if order_ids:
        for post, card in await session.execute(
            select(Order.group_post_id, Order.runner_card_id).where(Order.id.in_(order_ids))
        ):
            linked |= {x for x in (post, card) if x is not None}
        linked |= set(
            await session.scalars(
                select(OrderPost.outbox_id).where(OrderPost.order_id.in_(order_ids))
            )
        )
    about: list[ColumnElement[bool]] = (
        [o.id.in_(sorted(linked)), o.edit_of.in_(sorted(linked))] if linked else []
    )
    about += [o.text.contains(n, autoescape=True) for n in sorted(needles)]
    if not about:
        return 0
    sent = await affected_rows(
        session,
        update(o)
        .where(
            or_(*about),
            o.status.in_([OutboxStatus.SENT, OutboxStatus.FAILED]),
            o.redacted_at.is_(None),
        )
        .values(**_BLANK, redacted_at=now),
    )
    # Private messages about them still waiting (their orders are finished: nothing anyone
    # needs) are not sent at all. A waiting group post may carry other tasks: it goes out.
    waiting = await affected_rows(
        session,
        update(o)
        .where(or_(*about), o.status == OutboxStatus.PENDING, o.is_group.is_(False))
        .values(
            **_BLANK,
            redacted_at=now,
            status=OutboxStatus.FAILED,
            error="about a forgotten household",
        ),
    )
    return sent + waiting


async def _forget_resident(session: AsyncSession, r: Resident, done: Forgotten, now: Any) -> None:
    tid = r.telegram_id if r.telegram_id is not None else FORGOTTEN_BASE + r.id
    anon = FORGOTTEN_BASE + r.id
    await session.execute(
        update(OrderEvent).where(OrderEvent.actor_telegram_id == tid).values(actor_telegram_id=None)
    )
    await session.execute(
        update(OrderProblem)
        .where(OrderProblem.reporter_telegram_id == tid)
        .values(reporter_telegram_id=anon)
    )
    done.care_checks += await affected_rows(
        session, delete(CareCheck).where(CareCheck.resident_id == r.id)
    )
    done.drafts += await affected_rows(
        session, delete(OrderDraft).where(OrderDraft.resident_id == r.id)
    )
    # Their repeating errands (issue 16): the template is their words; nothing fires again.
    await session.execute(delete(Repeat).where(Repeat.resident_id == r.id))
    done.notice_deliveries += await affected_rows(
        session,
        update(NoticeDelivery)
        .where(or_(NoticeDelivery.resident_id == r.id, NoticeDelivery.chat_id == tid))
        .values(chat_id=anon),
    )
    # What was sent to their private chat: blanked, moved off their Telegram id; what was
    # still waiting is not sent at all.
    o = OutboxMessage
    done.outbox += await affected_rows(
        session,
        update(o)
        .where(o.chat_id == tid, o.status == OutboxStatus.PENDING)
        .values(
            **_BLANK,
            chat_id=anon,
            redacted_at=now,
            status=OutboxStatus.FAILED,
            error="recipient forgotten",
        ),
    )
    done.outbox += await affected_rows(
        session,
        update(o)
        .where(o.chat_id == tid, o.status.in_([OutboxStatus.SENT, OutboxStatus.FAILED]))
        .values(**_BLANK, chat_id=anon, redacted_at=now),
    )
    # Their raw updates: found by a cheap text match, confirmed by reading the JSON.
    candidates = await session.execute(
        select(InboxUpdate.bot, InboxUpdate.update_id, InboxUpdate.payload).where(
            InboxUpdate.payload.like(f"%{tid}%")
        )
    )
    gone = [(bot, uid) for bot, uid, payload in candidates if _mentions(payload, tid)]
    if gone:
        done.inbox += await affected_rows(
            session,
            delete(InboxUpdate).where(tuple_(InboxUpdate.bot, InboxUpdate.update_id).in_(gone)),
        )
    # Saved conversations (key: their id, or "[chat, user]") and their language.
    states = await session.execute(
        select(ChatState.kind, ChatState.name, ChatState.key).where(ChatState.key.like(f"%{tid}%"))
    )
    for kind, name, k in states:
        if k == str(tid) or str(tid) in re.findall(r"-?\d+", k):
            done.chat_state += await affected_rows(
                session,
                delete(ChatState).where(
                    ChatState.kind == kind, ChatState.name == name, ChatState.key == k
                ),
            )
    done.chat_state += await affected_rows(
        session, delete(UserPref).where(UserPref.telegram_id == tid)
    )
    # The audit log keeps who did what when; the details (care flags, ...) go.
    done.audit_details += await affected_rows(
        session,
        update(AuditEntry)
        .where(AuditEntry.target == f"resident:{r.id}")
        .values(details={"erased": True}),
    )
    # Last, the household itself: the row stays only as the anchor of its orders.
    await care_flags.remove_all(session, r.id)
    await session.execute(
        update(Resident)
        .where(Resident.id == r.id)
        .values(
            telegram_id=anon,
            name="",
            phone="",
            unit="",
            room="",
            care_consent_at=None,
            responsible_telegram_id=None,
            isolation_until=None,
            forgotten_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
