"""Shift reminders: each rostered volunteer is reminded `roster.reminder_minutes` before
their shift, once (claimed by a conditional UPDATE of `shifts.reminded_at` in the transaction
that writes the message), never for a shift already over."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select, update

from bot.buttons import Rows
from bot.db import affected_rows
from bot.i18n import Gettext
from bot.runtime import Runtime
from bot.services import volunteers
from bot.services.messages import tell
from bot.services.roster.volunteer_shifts import ShiftView, shift_view
from models import Shift, Volunteer, VolunteerStatus


def _reminder(rt: Runtime, v: ShiftView, now: datetime, _: Gettext) -> tuple[str, Rows]:
    if v.starts_at > now:
        text = _("⏰ Your shift starts soon: {shift}, {grid}.")
    else:
        text = _("⏰ Your shift has begun: {shift}, {grid}.")
    text = text.format(shift=v.label(_, rt.timezone), grid=v.grid)
    text += "\n" + _("Press 🟢 to go on duty: new tasks of your grid then come to you.")
    return text, volunteers.duty_buttons(_, on_duty=False)


async def remind_due(rt: Runtime) -> int:
    """Remind each rostered volunteer `reminder_minutes` before their shift, once; never for a
    shift already over. Returns how many were reminded."""
    now = rt.clock.now()
    soon = now + timedelta(minutes=rt.settings.roster.reminder_minutes)
    sent = 0
    async with rt.db.session() as session:
        due = (
            await session.scalars(
                select(Shift.id)
                .join(Volunteer, Volunteer.id == Shift.volunteer_id)
                .where(
                    Shift.reminded_at.is_(None),
                    Shift.starts_at <= soon,
                    Shift.ends_at > now,
                    Volunteer.status == VolunteerStatus.APPROVED,
                )
                .order_by(Shift.starts_at, Shift.id)
                .limit(200)
            )
        ).all()
        for shift_id in due:
            claimed = await affected_rows(
                session,
                update(Shift)
                .where(Shift.id == shift_id, Shift.reminded_at.is_(None))
                .values(reminded_at=now)
                .execution_options(synchronize_session=False),
            )
            if claimed != 1:
                continue  # another sweep took it
            v = await shift_view(session, shift_id)
            assert v is not None
            await tell(rt, session, v.volunteer_telegram_id, partial(_reminder, rt, v, now))
            sent += 1
    return sent
