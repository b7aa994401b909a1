"""Who someone is to us (resident, volunteer, staff) and which language they read."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.errors import Refused
from bot.i18n import LANGUAGES, N_, normalize
from models import Resident, Staff, UserPref, Volunteer, VolunteerStatus


@dataclass(frozen=True)
class Roles:
    telegram_id: int
    resident_id: int | None
    volunteer_id: int | None
    volunteer_approved: bool
    volunteer_grid_id: int | None
    staff_roles: tuple[str, ...]

    @property
    def is_staff(self) -> bool:
        return bool(self.staff_roles)


# What a suspended volunteer is told whatever they try (claim, card, /duty, /mytasks, ...).
SUSPENDED = N_(
    "Your volunteer work has been paused by the staff, so you cannot take or run tasks now. "
    "If you think this is a mistake, please talk to your grid leader."
)


async def approved_volunteer(session: AsyncSession, telegram_id: int, refusal: str) -> Volunteer:
    """This person's volunteer record if they are approved; otherwise ``refusal`` (a msgid)
    is raised, saying what only approved volunteers may do (a suspended volunteer is told
    they were suspended)."""
    vol = await session.scalar(select(Volunteer).where(Volunteer.telegram_id == telegram_id))
    if vol is not None and vol.status == VolunteerStatus.SUSPENDED:
        raise Refused(SUSPENDED)
    if vol is None or vol.status != VolunteerStatus.APPROVED:
        raise Refused(refusal)
    return vol


async def refuse_if_suspended(session: AsyncSession, telegram_id: int) -> None:
    """Refuse (SUSPENDED) if this person is a suspended volunteer: checked on every runner
    action, so an old card's buttons do nothing and reveal nothing."""
    status = await session.scalar(
        select(Volunteer.status).where(Volunteer.telegram_id == telegram_id)
    )
    if status == VolunteerStatus.SUSPENDED:
        raise Refused(SUSPENDED)


async def roles_of(session: AsyncSession, telegram_id: int) -> Roles:
    resident = await session.scalar(select(Resident).where(Resident.telegram_id == telegram_id))
    vol = await session.scalar(select(Volunteer).where(Volunteer.telegram_id == telegram_id))
    staff = (await session.scalars(select(Staff).where(Staff.telegram_id == telegram_id))).all()
    return Roles(
        telegram_id=telegram_id,
        resident_id=resident.id if resident else None,
        volunteer_id=vol.id if vol else None,
        volunteer_approved=bool(vol and vol.status == VolunteerStatus.APPROVED),
        volunteer_grid_id=vol.grid_id if vol else None,
        staff_roles=tuple(sorted({s.role for s in staff})),
    )


async def language_of(
    session: AsyncSession, telegram_id: int, default: str, client_hint: str | None = None
) -> str:
    """The user's own choice, else their Telegram language (optional), else the default."""
    pref = await session.get(UserPref, telegram_id)
    if pref and pref.language:
        return pref.language
    return normalize(client_hint, default) if client_hint else default


async def languages_of(
    session: AsyncSession, telegram_ids: list[int], default: str
) -> dict[int, str]:
    """Each person's language (as language_of), in queries of 2,000 ids (a statement's
    parameters are bounded: SQLite's and PostgreSQL's limits)."""
    chosen: dict[int, str] = {}
    for i in range(0, len(telegram_ids), 2000):
        rows = await session.scalars(
            select(UserPref).where(UserPref.telegram_id.in_(telegram_ids[i : i + 2000]))
        )
        chosen.update({p.telegram_id: p.language for p in rows if p.language})
    return {tid: chosen.get(tid, default) for tid in telegram_ids}


async def set_language(session: AsyncSession, clock: Clock, telegram_id: int, lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(lang)
    pref = await session.get(UserPref, telegram_id)
    if pref is None:
        session.add(UserPref(telegram_id=telegram_id, language=lang, updated_at=clock.now()))
    else:
        pref.language = lang
        pref.updated_at = clock.now()
    return lang
