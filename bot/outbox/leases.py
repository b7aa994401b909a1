"""Leases: how a row is taken for sending, kept while the send is under way, and given back
when its sender died. Each is one conditional UPDATE, so several dispatchers (processes,
instances) may run at once and none sends a row another has taken; a row left 'sending' by a
process that was killed is taken back by any dispatcher's next pass within ``LEASE``."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, update

from bot.buttons import from_json
from bot.clock import Clock
from bot.db import Database, affected_rows
from bot.outbox.channel import Outgoing
from bot.outbox.rows import KEYBOARD
from models import OutboxKind, OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

# A row being sent is leased for this long and the lease is renewed while the send is under way,
# so a row left 'sending' by a process that died (kill -9, power cut) is taken back by any
# dispatcher's next pass within LEASE: its chat is blocked for seconds, not until a restart.
LEASE = timedelta(seconds=15)
RENEW_EVERY = LEASE.total_seconds() / 3


def _outgoing(row_id: int, leased: Any, target_id: int | None) -> Outgoing:
    buttons = leased.buttons
    return Outgoing(
        id=row_id,
        chat_id=leased.chat_id,
        is_group=leased.is_group,
        kind=OutboxKind(leased.kind),
        text=leased.text,
        buttons=None if isinstance(buttons, dict) else from_json(buttons),
        photo=leased.photo,
        target_message_id=target_id,
        media=leased.media,
        created_at=leased.created_at,
        keyboard=buttons.get(KEYBOARD) if isinstance(buttons, dict) else None,
    )


async def take_many(
    db: Database, clock: Clock, picks: dict[int, int | None]
) -> list[tuple[Outgoing, int]]:
    """Take pending rows for sending (row id -> the message id an edit or pin targets), in one
    conditional UPDATE: each message as its row is now (read by the same UPDATE: a waiting post
    may have had tasks folded into it) and its attempts so far, in the order of ``picks``.
    Rows another dispatcher took meanwhile are left out."""
    if not picks:
        return []
    now = clock.now()
    m = OutboxMessage
    async with db.session() as s:
        leased = (
            await s.execute(
                update(m)
                .where(m.id.in_(list(picks)), m.status == OutboxStatus.PENDING)
                .values(status=OutboxStatus.SENDING, lease_until=now + LEASE)
                .returning(
                    m.id,
                    m.chat_id,
                    m.is_group,
                    m.kind,
                    m.text,
                    m.buttons,
                    m.photo,
                    m.media,
                    m.attempts,
                    m.created_at,
                )
            )
        ).all()
    got = {row.id: row for row in leased}
    return [
        (_outgoing(row_id, got[row_id], target), got[row_id].attempts)
        for row_id, target in picks.items()
        if row_id in got
    ]


async def renew(db: Database, clock: Clock, row_ids: list[int]) -> None:
    """Extend the leases of rows still being sent, so no other pass (here or on another
    instance) takes them back while the send is merely slow."""
    m = OutboxMessage
    async with db.session() as s:
        await s.execute(
            update(m)
            .where(m.id.in_(row_ids), m.status == OutboxStatus.SENDING)
            .values(lease_until=clock.now() + LEASE)
        )


async def recover(db: Database, clock: Clock, ids: list[int] | None = None) -> int:
    """Rows left 'sending' whose lease ran out go back to pending (all such rows, or those
    of ``ids``): their sender died mid-send. The UPDATE re-checks the expiry, so a lease
    renewed meanwhile by a live dispatcher is left alone. The try that died counts as an
    attempt: Telegram may have delivered it (a send has no idempotency key), so a chat can
    see such a message twice, and the row says so. Returns how many came back."""
    now = clock.now()
    m = OutboxMessage
    expired = [
        m.status == OutboxStatus.SENDING,
        or_(m.lease_until.is_(None), m.lease_until < now),
    ]
    if ids is not None:
        expired.append(m.id.in_(ids))
    async with db.session() as s:
        count = await affected_rows(
            s,
            update(m)
            .where(*expired)
            .values(status=OutboxStatus.PENDING, lease_until=None, attempts=m.attempts + 1),
        )
    if count:
        logger.warning("outbox: %d message(s) left mid-send by a stopped process resent", count)
    return count
