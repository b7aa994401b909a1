"""The care flags (包保) of a household: the table ``care_flags``, one row per flag of the one
vocabulary ``models.CareFlag``, whichever way it was set: the household ticks it under /me
(with consent, ``residents.toggle_care``) or staff mark it on the care list
(``care.toggle_flag``). This module owns reading and writing those rows, and the query clause
"has a care flag" shared by the care list, the daily check-in, the care notices and order
priority. The labels each side sees live with that side (``residents.CARE_FLAGS``,
``care.FLAGS``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import affected_rows
from models import CareFlag, Resident, ResidentCareFlag


def ordered(flags: Iterable[str]) -> tuple[CareFlag, ...]:
    """The known flags among ``flags``, in the vocabulary's order (unknown keys dropped)."""
    have = set(flags)
    return tuple(f for f in CareFlag if f in have)


def has_flag() -> ColumnElement[bool]:
    """A WHERE clause on ``Resident``: the household has at least one care flag."""
    return exists().where(ResidentCareFlag.resident_id == Resident.id)


async def flags_by_resident(
    session: AsyncSession, resident_ids: Collection[int]
) -> dict[int, tuple[CareFlag, ...]]:
    """Each household's flags, in the vocabulary's order, in one query (no key: no flags)."""
    if not resident_ids:
        return {}
    rows = await session.execute(
        select(ResidentCareFlag.resident_id, ResidentCareFlag.flag).where(
            ResidentCareFlag.resident_id.in_(resident_ids)
        )
    )
    found: dict[int, list[str]] = {}
    for rid, flag in rows:
        found.setdefault(rid, []).append(flag)
    return {rid: ordered(flags) for rid, flags in found.items()}


async def flags_of(session: AsyncSession, resident_id: int) -> tuple[CareFlag, ...]:
    return (await flags_by_resident(session, [resident_id])).get(resident_id, ())


async def has_any(session: AsyncSession, resident_id: int) -> bool:
    """Whether the household has a care flag (its orders are priority)."""
    return bool(await session.scalar(select(has_flag()).where(Resident.id == resident_id)))


async def declared(session: AsyncSession, resident: Resident) -> set[CareFlag]:
    """The flags the household set itself (what it can take back under /me); staff's
    markings it sees too, and leaves to staff."""
    rows = await session.scalars(
        select(ResidentCareFlag.flag).where(
            ResidentCareFlag.resident_id == resident.id,
            ResidentCareFlag.set_by == resident.telegram_id,
        )
    )
    return set(ordered(rows))


async def add(
    session: AsyncSession, resident_id: int, flag: CareFlag, by: int, now: datetime
) -> bool:
    """Set a flag (a new row in a savepoint); False if it was set already (by anyone, or by
    a concurrent press: the unique key decides)."""
    try:
        async with session.begin_nested():
            session.add(ResidentCareFlag(resident_id=resident_id, flag=flag, set_by=by, set_at=now))
    except IntegrityError:
        return False
    return True


async def claim(
    session: AsyncSession, resident_id: int, flag: CareFlag, by: int, now: datetime
) -> bool:
    """The household declares a flag that may already be set (by staff): it is set, and now
    the household's own. False if it was not there to claim."""
    done = await affected_rows(
        session,
        update(ResidentCareFlag)
        .where(ResidentCareFlag.resident_id == resident_id, ResidentCareFlag.flag == flag)
        .values(set_by=by, set_at=now)
        .execution_options(synchronize_session=False),
    )
    return done == 1


async def remove(session: AsyncSession, resident_id: int, flag: CareFlag) -> bool:
    """Take a flag off; False if it was not set (another press took it off first)."""
    done = await affected_rows(
        session,
        delete(ResidentCareFlag)
        .where(ResidentCareFlag.resident_id == resident_id, ResidentCareFlag.flag == flag)
        .execution_options(synchronize_session=False),
    )
    return done == 1


async def remove_all(session: AsyncSession, resident_id: int) -> int:
    """Every flag of the household (`paotui resident forget`); how many there were."""
    return await affected_rows(
        session,
        delete(ResidentCareFlag)
        .where(ResidentCareFlag.resident_id == resident_id)
        .execution_options(synchronize_session=False),
    )
