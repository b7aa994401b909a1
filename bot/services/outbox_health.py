"""How delivery is doing: the backlog, the oldest waiting message, what failed; and the
operator's alerts about it (DESIGN rule 13: what finally fails is reported to a person).

Alerts are outbox rows to ``bot.operator_chat_id``, written by the sweep, once per incident:
a failed row is reported once (``reported_at``), and a hold-up once until the message that
raised it has gone. They carry counts, reasons and group chat ids, never a message's text or
a person's name, phone or room.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.i18n import N_, P_, gettext_for, ngettext
from bot.runtime import Runtime
from models import OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

WAITING = (OutboxStatus.PENDING, OutboxStatus.SENDING)

FAILED_ALERT = P_(
    "⚠️ {n} message could not be delivered and will not be retried:",
    "⚠️ {n} messages could not be delivered and will not be retried:",
)
STUCK_ALERT = P_(
    "⏳ Delivery is held up: {n} message waiting, for {minutes} min.\n"
    "Last error: {error}\n"
    "It is retried for {hours} h in all. /outbox shows how it goes.",
    "⏳ Delivery is held up: {n} messages waiting, the oldest for {minutes} min.\n"
    "Last error: {error}\n"
    "They are retried for {hours} h in all. /outbox shows how it goes.",
)
IN_GROUP = N_("group {chat}")
IN_PRIVATE = N_("private chats")


@dataclass(frozen=True)
class Health:
    backlog: int  # waiting to be sent (or being sent)
    oldest_waiting: timedelta | None  # age of the oldest of them
    failed_24h: int  # given up in the last 24 hours
    last_error: str | None  # of the oldest waiting message, if it has failed once


async def health(session: AsyncSession, now: datetime) -> Health:
    m = OutboxMessage
    backlog, oldest = (
        await session.execute(
            select(func.count(), func.min(m.created_at)).where(m.status.in_(WAITING))
        )
    ).one()
    failed = await session.scalar(
        select(func.count()).where(
            m.status == OutboxStatus.FAILED, m.next_attempt_at >= now - timedelta(hours=24)
        )
    )
    last_error = await session.scalar(
        select(m.error).where(m.status.in_(WAITING)).order_by(m.created_at, m.id).limit(1)
    )
    return Health(
        backlog=int(backlog),
        oldest_waiting=(now - oldest) if oldest is not None else None,
        failed_24h=int(failed or 0),
        last_error=last_error,
    )


def reason(error: str | None) -> str:
    """The kind of failure, as Telegram put it: no message text is ever in it."""
    return (error or "?").split("\n")[0][:100]


async def report_due(rt: Runtime) -> int:
    """Tell the operator chat about messages that failed for good since the last report, and
    about a hold-up (a message waiting longer than ``outbox.alert_after_minutes``)."""
    operator = rt.settings.bot.operator_chat_id
    if operator is None:
        return 0
    now = rt.clock.now()
    _ = gettext_for(rt.default_language)
    m = OutboxMessage
    sent = 0
    async with rt.db.session() as s:
        # Failed rows not reported yet (the operator chat's own failures aside: no loop),
        # marked in the statement that finds them: two sweeps at once (a test's and the
        # JobQueue's, or two instances') report each row once.
        failed = (
            await s.execute(
                update(m)
                .where(
                    m.status == OutboxStatus.FAILED,
                    m.reported_at.is_(None),
                    m.chat_id != operator,
                )
                .values(reported_at=now)
                .returning(m.id, m.chat_id, m.is_group, m.error)
            )
        ).all()
        if failed:
            reasons = Counter(
                (
                    _(IN_GROUP).format(chat=r.chat_id) if r.is_group else _(IN_PRIVATE),
                    reason(r.error),
                )
                for r in failed
            )
            lines = [ngettext(_, FAILED_ALERT, len(failed)).format(n=len(failed))]
            lines += [f"• {where}: {why} ×{n}" for (where, why), n in sorted(reasons.items())]
            outbox.enqueue(
                s, rt.clock, chat_id=operator, text="\n".join(lines)[:4000], is_group=operator < 0
            )
            sent += 1
        # A hold-up: reported once, on the oldest waiting row, until that row has gone.
        late = now - timedelta(minutes=rt.settings.outbox.alert_after_minutes)
        already = await s.scalar(
            select(m.id).where(m.status.in_(WAITING), m.reported_at.is_not(None)).limit(1)
        )
        oldest = await s.scalar(
            select(m.id)
            .where(m.status.in_(WAITING), m.created_at < late, m.chat_id != operator)
            .order_by(m.created_at, m.id)
            .limit(1)
        )
        if (
            already is None
            and oldest is not None
            # Marked first, and only if no other sweep marked it meanwhile.
            and await s.scalar(
                update(m)
                .where(m.id == oldest, m.reported_at.is_(None))
                .values(reported_at=now)
                .returning(m.id)
            )
            is not None
        ):
            h = await health(s, now)
            minutes = int(h.oldest_waiting.total_seconds() // 60) if h.oldest_waiting else 0
            outbox.enqueue(
                s,
                rt.clock,
                chat_id=operator,
                text=ngettext(_, STUCK_ALERT, h.backlog).format(
                    n=h.backlog,
                    minutes=minutes,
                    error=reason(h.last_error),
                    hours=f"{rt.settings.outbox.give_up_after_hours:g}",
                ),
                is_group=operator < 0,
            )
            sent += 1
    if sent:
        logger.warning("delivery problems reported to the operator chat")
    return sent
