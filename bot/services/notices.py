"""Notices from staff to the residents of a grid (and the grid's group chat)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.errors import Refused, check_length
from bot.i18n import N_, gettext_for
from bot.runtime import Runtime
from bot.services import audit, people
from bot.services.people import languages_of
from models import Building, Grid, Notice, Resident

NOTICE_PRIORITY = 10  # after order traffic: a broadcast must not hold up a claim


@dataclass(frozen=True)
class NoticeResult:
    id: int
    recipients: int


async def grids_for_staff(session: AsyncSession, telegram_id: int) -> list[tuple[int, str]]:
    """The grids this person may send a notice to (their scope)."""
    return await people.grids_in_scope(session, telegram_id)


async def send_to_grid(
    rt: Runtime, session: AsyncSession, telegram_id: int, grid_id: int, text: str
) -> NoticeResult:
    allowed = dict(await grids_for_staff(session, telegram_id))
    if grid_id not in allowed:
        raise Refused(N_("You may not send notices to this grid."))
    text = text.strip()
    limit = rt.settings.limits.max_text_length * 3
    if not text:
        raise Refused(N_("The notice is empty. Please type the text of the notice."))
    check_length(text, limit)
    grid = await session.get(Grid, grid_id)
    assert grid is not None
    now = rt.clock.now()
    residents = (
        await session.scalars(
            select(Resident.telegram_id)
            .join(Building, Building.id == Resident.building_id)
            .where(Building.grid_id == grid_id)
            .order_by(Resident.id)
        )
    ).all()
    notice = Notice(
        community_id=grid.community_id,
        grid_id=grid_id,
        author_telegram_id=telegram_id,
        text=text,
        recipients=len(residents),
        created_at=now,
    )
    session.add(notice)
    await audit.record(
        session,
        rt.clock,
        telegram_id,
        "notice.sent",
        f"grid:{grid_id}",
        recipients=len(residents),
        text=text[:200],
    )

    def body(lang: str) -> str:
        return "📢 " + gettext_for(lang)("Notice from the community") + "\n\n" + text

    langs = await languages_of(session, list(residents), rt.default_language)
    for tid in residents:
        outbox.enqueue(
            session, rt.clock, chat_id=tid, text=body(langs[tid]), priority=NOTICE_PRIORITY
        )
    if grid.group_chat_id is not None:
        outbox.enqueue(
            session,
            rt.clock,
            chat_id=grid.group_chat_id,
            text=body(rt.default_language),
            is_group=True,
            priority=NOTICE_PRIORITY,
        )
    await session.flush()
    return NoticeResult(notice.id, len(residents))
