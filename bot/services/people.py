"""Who someone is to us (resident, volunteer, staff) and which language they read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CompoundSelect, Table, literal, null, select, union_all
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
    # Staff allowed them to take orders by phone (📞 代下单 in their menu).
    volunteer_phone_orders: bool = False

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


# A row of ``_about``: kind, id, text (status, role or language), grid id, and whether a
# volunteer takes orders by phone.
AboutRow = tuple[str, int | None, str | None, int | None, bool | None]


def _about(telegram_id: int) -> CompoundSelect[Any]:
    """One statement for all a person is to us: a row per record (kind, id, text, grid id):
    their resident id ("r"), volunteer id, status and grid ("v"), each staff role ("s") and
    their chosen language ("l"). Core columns of the tables, no ORM: it runs for most updates."""
    resident, volunteer, staff, pref = (
        cast(Table, m.__table__).c for m in (Resident, Volunteer, Staff, UserPref)
    )
    return union_all(
        select(
            literal("v"),
            volunteer.id,
            volunteer.status,
            volunteer.grid_id,
            volunteer.can_take_phone_orders,
        ).where(volunteer.telegram_id == telegram_id),
        select(literal("r"), resident.id, null(), null(), null()).where(
            resident.telegram_id == telegram_id
        ),
        select(literal("s"), null(), staff.role, null(), null()).where(
            staff.telegram_id == telegram_id
        ),
        select(literal("l"), null(), pref.language, null(), null()).where(
            pref.telegram_id == telegram_id
        ),
    )


async def who_is(
    session: AsyncSession, telegram_id: int, default: str, client_hint: str | None = None
) -> tuple[Roles, str]:
    """``roles_of`` and ``language_of`` together, in one statement."""
    resident_id: int | None = None
    volunteer: tuple[int | None, str | None, int | None, bool] | None = None
    staff_roles: set[str] = set()
    chosen: str | None = None
    rows = cast("list[AboutRow]", (await session.execute(_about(telegram_id))).all())
    for kind, id_, text, grid_id, by_phone in rows:
        if kind == "r" and resident_id is None:
            resident_id = id_
        elif kind == "v" and volunteer is None:
            volunteer = (id_, text, grid_id, bool(by_phone))
        elif kind == "s":
            staff_roles.add(str(text))
        elif kind == "l" and text:
            chosen = text
    roles = Roles(
        telegram_id=telegram_id,
        resident_id=resident_id,
        volunteer_id=volunteer[0] if volunteer else None,
        volunteer_approved=bool(volunteer and volunteer[1] == VolunteerStatus.APPROVED),
        volunteer_grid_id=volunteer[2] if volunteer else None,
        staff_roles=tuple(sorted(staff_roles)),
        volunteer_phone_orders=bool(volunteer and volunteer[3]),
    )
    if chosen:
        return roles, chosen
    return roles, normalize(client_hint, default) if client_hint else default


async def roles_of(session: AsyncSession, telegram_id: int) -> Roles:
    roles, _language = await who_is(session, telegram_id, "")
    return roles


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
