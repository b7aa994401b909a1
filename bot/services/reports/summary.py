"""The daily summary: at `reports.daily_summary_at` (local) each staff member is sent the day's
/stats for the grids their scope covers (bot.services.scope), once a day."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot import outbox
from bot.clock import clock_time
from bot.i18n import N_, gettext_for
from bot.limits import TEXT_LIMIT, tg_len
from bot.runtime import Runtime
from bot.services.people import languages_of
from bot.services.reports.stats import render_stats, stats_for
from bot.services.scope import grids_of
from models import DailyRun, Staff

SUMMARY_KIND = "staff_summary"
SUMMARY_TITLE = N_("🗓 Daily summary")


async def summary_due(rt: Runtime) -> int:
    """At `reports.daily_summary_at` (local), each staff member gets the day's stats for their
    scope, once a day: the DailyRun row is inserted in the same transaction as the messages, so
    a second sweep or a restart sends nothing twice. Returns how many were written."""
    at = rt.settings.reports.daily_summary_at
    if not at:
        return 0
    now = rt.clock.now()
    local = now.astimezone(ZoneInfo(rt.timezone))
    if local.time() < clock_time(at):
        return 0
    today = local.date()
    async with rt.db.session() as session:
        done = await session.scalar(
            select(DailyRun.id).where(
                DailyRun.kind == SUMMARY_KIND, DailyRun.day == today, DailyRun.scope == ""
            )
        )
        if done is not None:
            return 0
        try:
            async with session.begin_nested():
                session.add(DailyRun(kind=SUMMARY_KIND, day=today, scope="", at=now))
        except IntegrityError:  # another instance sent it
            return 0
        staff_ids = list(
            dict.fromkeys(await session.scalars(select(Staff.telegram_id).order_by(Staff.id)))
        )
        langs = await languages_of(session, staff_ids, rt.default_language)
        sent = 0
        for tid in staff_ids:
            grids = [g for g, _ in await grids_of(session, tid)]
            if not grids:
                continue
            _ = gettext_for(langs[tid])
            s = await stats_for(rt, session, grids, today, today, _)
            title = _(SUMMARY_TITLE)
            outbox.enqueue(
                session,
                rt.clock,
                chat_id=tid,
                text=title + "\n" + render_stats(s, _, TEXT_LIMIT - tg_len(title) - 1),
                priority=5,
            )
            sent += 1
    return sent
