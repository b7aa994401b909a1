"""Staff alerts: the one path by which the bot alerts staff (and the person responsible for a
household) to something they must act on: a call-me request, a household silent at the daily
check-in, a problem report, a task nobody takes, a task that stalls, a task closed as not
possible, a task group the bot lost. Every alert carries "✅ Handled"; the first press records
who handled it and when (one conditional UPDATE), the other copies are edited (outbox edit
rows) to say who did, and a later press, on any copy, is told who already handled it: it never
acts on a past state.

Call ``alert`` where a service used to ``tell`` staff; it writes in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.buttons import Button, Rows, from_json, to_json
from bot.db import affected_rows
from bot.errors import STALE, Refused
from bot.i18n import N_, Gettext, gettext_for, local_time
from bot.runtime import Runtime
from bot.services.messages import Render
from bot.services.people import languages_of
from models import OutboxMessage, Staff, StaffAlert, StaffAlertCopy, Volunteer

# What an alert is about (``staff_alerts.kind``).
CALL_ME, NEED, SILENT, PROBLEM, UNCLAIMED, STALLED, GAVE_UP, WAITING, GROUP_LOST = (
    "call_me",
    "need",
    "silent",
    "problem",
    "unclaimed",
    "stalled",
    "gave_up",
    "waiting",  # a resident pressed 催一催 (issue 15 point 3)
    "group_lost",
)

# The button's data: sa:ok:<alert id> on the alert, sa:td:<alert id> on the to-do list.
PREFIX = "sa:"
HANDLE = N_("✅ Handled")
HANDLED_BY = N_("✅ Handled by {name}")
HANDLED_LINE = N_("✅ Handled by {name} at {time}.")
ALREADY = N_("Already handled by {name} at {time}.")


def handle_data(alert_id: int) -> str:
    return f"sa:ok:{alert_id}"


def todo_data(alert_id: int) -> str:
    return f"sa:td:{alert_id}"


async def alert(
    rt: Runtime,
    session: AsyncSession,
    targets: int | Iterable[int],
    render: Render,
    *,
    kind: str,
    order_id: int | None = None,
    resident_id: int | None = None,
) -> int:
    """Alert each target once, in their language, with "✅ Handled" under the alert (after
    its own buttons); returns how many were alerted."""
    ids = list(dict.fromkeys([targets] if isinstance(targets, int) else targets))
    if not ids:
        return 0
    row = StaffAlert(
        kind=kind, order_id=order_id, resident_id=resident_id, created_at=rt.clock.now()
    )
    session.add(row)
    await session.flush()
    langs = await languages_of(session, ids, rt.default_language)
    sent: list[tuple[int, OutboxMessage]] = []
    for tid in ids:
        _ = gettext_for(langs[tid])
        out = render(_)
        text, rows = (out, None) if isinstance(out, str) else out
        rows = [*(rows or []), [Button(_(HANDLE), handle_data(row.id))]]
        sent.append((tid, outbox.enqueue(session, rt.clock, chat_id=tid, text=text, buttons=rows)))
    await session.flush()
    session.add_all(
        StaffAlertCopy(alert_id=row.id, telegram_id=tid, outbox_id=msg.id) for tid, msg in sent
    )
    return len(ids)


async def _name_of(session: AsyncSession, telegram_id: int) -> str:
    """The handler's name as colleagues know it: staff first, else a volunteer."""
    name = await session.scalar(
        select(Staff.name).where(Staff.telegram_id == telegram_id).order_by(Staff.id).limit(1)
    )
    if name is None:
        name = await session.scalar(
            select(Volunteer.name).where(Volunteer.telegram_id == telegram_id).limit(1)
        )
    return name or "?"


def _handled_view(
    original: OutboxMessage, alert_id: int, name: str, at: datetime, tz: str, _: Gettext
) -> tuple[str | None, Rows]:
    """A copy as it reads once handled: its text with who handled it and when (None if the
    text was redacted meanwhile), its own buttons kept, ✅ saying who handled it."""
    line = _(HANDLED_LINE).format(name=name, time=local_time(at, tz))
    text = f"{original.text}\n\n{line}" if original.text and original.redacted_at is None else None
    kept = [
        [b for b in r if not b.data.startswith(PREFIX)] for r in (from_json(original.buttons) or [])
    ]
    rows = [r for r in kept if r]
    rows.append([Button(_(HANDLED_BY).format(name=name), handle_data(alert_id))])
    return text, rows


@dataclass(frozen=True)
class Handled:
    alert_id: int
    first: bool  # False: someone had handled it before this press
    name: str
    at: datetime
    note: str  # what the presser is told: who handled it, when
    text: str | None  # the presser's copy as it now reads (None: leave its text)
    rows: Rows


async def handle(
    rt: Runtime, session: AsyncSession, telegram_id: int, alert_id: int, *, on_alert: bool = True
) -> Handled:
    """✅ pressed by someone who got this alert: the first press marks it handled (a
    conditional UPDATE) and edits every other copy (also the presser's own when pressed
    elsewhere, ``on_alert=False``: on the to-do list); a later one is told who handled it."""
    mine = await session.scalar(
        select(StaffAlertCopy).where(
            StaffAlertCopy.alert_id == alert_id, StaffAlertCopy.telegram_id == telegram_id
        )
    )
    if mine is None:  # forged, or an alert this person never got
        raise Refused(STALE)
    now = rt.clock.now()
    first = (
        await affected_rows(
            session,
            update(StaffAlert)
            .where(StaffAlert.id == alert_id, StaffAlert.handled_at.is_(None))
            .values(handled_by=telegram_id, handled_at=now)
            .execution_options(synchronize_session=False),
        )
        == 1
    )
    row = await session.scalar(
        select(StaffAlert)
        .where(StaffAlert.id == alert_id)
        .execution_options(populate_existing=True)
    )
    assert row is not None and row.handled_by is not None and row.handled_at is not None
    name = await _name_of(session, row.handled_by)
    copies = list(
        await session.scalars(select(StaffAlertCopy).where(StaffAlertCopy.alert_id == alert_id))
    )
    originals = {
        m.id: m
        for m in await session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_([c.outbox_id for c in copies]))
        )
    }
    langs = await languages_of(session, [c.telegram_id for c in copies], rt.default_language)
    if first:
        for c in copies:
            original = originals.get(c.outbox_id)
            if original is None or (on_alert and c.telegram_id == telegram_id):
                continue  # the presser's own copy is edited by the press's answer
            text, rows = _handled_view(
                original,
                alert_id,
                name,
                row.handled_at,
                rt.timezone,
                gettext_for(langs[c.telegram_id]),
            )
            if text is None:
                session.add(
                    OutboxMessage(
                        **outbox.buttons_row(
                            now,
                            chat_id=original.chat_id,
                            original_id=original.id,
                            buttons=to_json(rows),
                        )
                    )
                )
            else:
                outbox.enqueue_edit(session, rt.clock, original=original, text=text, buttons=rows)
    _ = gettext_for(langs.get(telegram_id, rt.default_language))
    when = local_time(row.handled_at, rt.timezone)
    note = (
        _("Marked as handled. The others who got this alert see it.")
        if first
        else _(ALREADY).format(name=name, time=when)
    )
    text, rows = (None, [])
    original = originals.get(mine.outbox_id)
    if original is not None:
        text, rows = _handled_view(original, alert_id, name, row.handled_at, rt.timezone, _)
    return Handled(alert_id, first, name, row.handled_at, note, text, rows)


@dataclass(frozen=True)
class Open:
    alert_id: int
    at: datetime
    text: str  # the first line of this person's copy


async def to_do(session: AsyncSession, telegram_id: int, limit: int = 20) -> list[Open]:
    """The alerts this person got that nobody has handled yet, newest first."""
    rows = await session.execute(
        select(StaffAlert.id, StaffAlert.created_at, OutboxMessage.text)
        .join(StaffAlertCopy, StaffAlertCopy.alert_id == StaffAlert.id)
        .join(OutboxMessage, OutboxMessage.id == StaffAlertCopy.outbox_id)
        .where(StaffAlertCopy.telegram_id == telegram_id, StaffAlert.handled_at.is_(None))
        .order_by(StaffAlert.id.desc())
        .limit(limit)
    )
    return [Open(aid, at, (text or "").split("\n")[0][:120]) for aid, at, text in rows]
