"""Registering a resident: who they are and where the door is."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.errors import Refused, stale
from bot.i18n import N_
from bot.services import care_flags as household_flags
from bot.services import directory
from models import CareFlag, Recipient, Resident

UNIT_RE = re.compile(r"^[0-9A-Za-z]{1,4}$")
ROOM_RE = re.compile(r"^[0-9A-Za-z-]{1,6}$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")
NAME_MAX = 32
# How people write a unit or a floor in words: "三单元", "五楼302".
_NUMERALS = dict(
    zip("一二三四五六七八九十", ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"], strict=True)
)
# "五楼302", "3层302", "房间302", "302室": the room number is what follows the floor.
_ROOM_PREFIX = re.compile(r"^(?:[0-9一二三四五六七八九十]{1,3}[楼层])|^房间?号?")


def _typed(text: str) -> str:
    """As typed on any phone: full-width digits and letters folded (３０２ → 302), spaces out."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def clean_unit(text: str, units: int) -> str:
    value = _typed(text).removesuffix("单元号").removesuffix("单元").removesuffix("号")
    value = _NUMERALS.get(value, value)
    if not UNIT_RE.match(value):
        raise Refused(N_("Please send the unit number, for example 2."))
    if value.isdigit() and not 1 <= int(value) <= max(units, 1):
        raise Refused(
            N_("This building has units 1 to {units}. Please send one of them."), units=units
        )
    return value


def clean_room(text: str) -> str:
    value = _typed(text).removesuffix("室").removesuffix("号").removesuffix("房")
    value = _ROOM_PREFIX.sub("", value)
    if not ROOM_RE.match(value):
        raise Refused(N_("Please send the room number, for example 302."))
    return value


def clean_name(text: str) -> str:
    value = " ".join(text.split())
    if not value or len(value) > NAME_MAX:
        raise Refused(N_("Please send a name of at most {n} characters."), n=NAME_MAX)
    return value


def clean_phone(text: str) -> str:
    value = text.strip()
    if not PHONE_RE.match(value):
        raise Refused(
            N_(
                "That does not look like a phone number. Please share your contact "
                "with the button, or type the number."
            )
        )
    return re.sub(r"[ -]", "", value)


@dataclass(frozen=True)
class ResidentInfo:
    id: int
    telegram_id: int
    name: str
    phone: str
    building_id: int
    unit: str
    room: str
    address: str
    # Home isolation (set by staff) until this day: orders are left at the door meanwhile.
    isolation_until: date | None = None


async def register(
    session: AsyncSession,
    clock: Clock,
    *,
    telegram_id: int,
    name: str,
    phone: str,
    building_id: int,
    unit: str,
    room: str,
    phone_verified: bool = False,
) -> ResidentInfo:
    """Create or update the resident's registration (registering again edits the address).
    ``phone_verified``: the phone came from Telegram (their own contact shared), so a
    household staff registered for phone orders at this door with it may be linked."""
    info = await directory.building(session, building_id)
    if info is None:
        raise Refused(N_("That building no longer exists. Please start again with /start."))
    # Validate everything before touching the row: a refusal leaves nothing half-saved.
    values = {
        "name": clean_name(name),
        "phone": clean_phone(phone),
        "building_id": building_id,
        "unit": clean_unit(unit, info.units),
        "room": clean_room(room),
    }
    now = clock.now()
    res = await session.scalar(select(Resident).where(Resident.telegram_id == telegram_id))
    if res is None and phone_verified:
        # A household staff registered for phone orders (电话点单), at this door with this
        # phone, is this person: linked, not made twice, so they see the orders taken for it.
        # Only with the phone Telegram vouches for: a typed number could be anyone's. Its last
        # 11 digits: Telegram gives it with the country code (8613...), staff typed 13...
        digits = re.sub(r"\D", "", str(values["phone"]))[-11:]
        candidates = await session.scalars(
            select(Resident)
            .where(
                Resident.telegram_id.is_(None),
                Resident.forgotten_at.is_(None),
                Resident.building_id == building_id,
                Resident.unit == values["unit"],
                Resident.room == values["room"],
            )
            .order_by(Resident.id)
        )
        res = next(
            (r for r in candidates if re.sub(r"\D", "", r.phone)[-11:] == digits and digits),
            None,
        )
        if res is not None:
            res.telegram_id = telegram_id
    if res is None:
        res = Resident(telegram_id=telegram_id, created_at=now, **values)
        session.add(res)
    else:
        for key, value in values.items():
            setattr(res, key, value)
    res.updated_at = now
    await session.flush()
    return ResidentInfo(
        id=res.id,
        telegram_id=telegram_id,
        name=res.name,
        phone=res.phone,
        building_id=building_id,
        unit=res.unit,
        room=res.room,
        address=address_text(info.community, info.label, res.unit, res.room),
    )


def address_text(community: str, building_label: str, unit: str, room: str) -> str:
    return f"{community} {building_label} {unit}-{room}"


async def get(session: AsyncSession, telegram_id: int) -> ResidentInfo | None:
    res = await session.scalar(select(Resident).where(Resident.telegram_id == telegram_id))
    return await _info(session, res) if res is not None else None


async def get_by_id(session: AsyncSession, resident_id: int) -> ResidentInfo | None:
    """A household by its row (a phone order's household may have no Telegram)."""
    res = await session.get(Resident, resident_id)
    return await _info(session, res) if res is not None else None


async def _info(session: AsyncSession, res: Resident) -> ResidentInfo:
    info = await directory.building(session, res.building_id)
    assert info is not None
    return ResidentInfo(
        id=res.id,
        telegram_id=res.telegram_id or 0,
        name=res.name,
        phone=res.phone,
        building_id=res.building_id,
        unit=res.unit,
        room=res.room,
        address=address_text(info.community, info.label, res.unit, res.room),
        isolation_until=res.isolation_until,
    )


# --- people a resident orders for -------------------------------------------------------------

MAX_RECIPIENTS = 10


@dataclass(frozen=True)
class RecipientInfo:
    id: int
    name: str
    phone: str
    address: str
    building_id: int = 0


async def add_recipient(
    session: AsyncSession,
    clock: Clock,
    *,
    owner_telegram_id: int,
    name: str,
    phone: str,
    building_id: int,
    unit: str,
    room: str,
) -> RecipientInfo:
    owner = await session.scalar(select(Resident).where(Resident.telegram_id == owner_telegram_id))
    if owner is None:
        raise Refused(N_("Please register your address first: press /start."))
    info = await directory.building(session, building_id)
    if info is None:
        raise Refused(N_("That building no longer exists. Please start again with /start."))
    if len(await recipients_of(session, owner_telegram_id)) >= MAX_RECIPIENTS:
        raise Refused(N_("You can keep at most {n} people. Remove one first."), n=MAX_RECIPIENTS)
    r = Recipient(
        owner_id=owner.id,
        name=clean_name(name),
        phone=clean_phone(phone),
        building_id=building_id,
        unit=clean_unit(unit, info.units),
        room=clean_room(room),
        removed=False,
        created_at=clock.now(),
    )
    session.add(r)
    await session.flush()
    return RecipientInfo(
        r.id, r.name, r.phone, address_text(info.community, info.label, r.unit, r.room)
    )


async def recipients_of(session: AsyncSession, owner_telegram_id: int) -> list[RecipientInfo]:
    rows = await session.scalars(
        select(Recipient)
        .join(Resident, Resident.id == Recipient.owner_id)
        .where(Resident.telegram_id == owner_telegram_id, Recipient.removed.is_(False))
        .order_by(Recipient.id)
    )
    out = []
    for r in rows:
        info = await directory.building(session, r.building_id)
        assert info is not None
        out.append(
            RecipientInfo(
                r.id,
                r.name,
                r.phone,
                address_text(info.community, info.label, r.unit, r.room),
                r.building_id,
            )
        )
    return out


async def remove_recipient(session: AsyncSession, owner_telegram_id: int, recipient_id: int) -> str:
    r = await session.scalar(
        select(Recipient)
        .join(Resident, Resident.id == Recipient.owner_id)
        .where(Recipient.id == recipient_id, Resident.telegram_id == owner_telegram_id)
    )
    if r is None or r.removed:
        raise stale()
    r.removed = True  # kept for the orders already made for them
    return r.name


# --- care (包保) -------------------------------------------------------------------------------

# What a household can tick for itself under /me, in the order it sees them.
CARE_FLAGS = {
    CareFlag.ELDERLY_ALONE: N_("Someone elderly living alone"),
    CareFlag.MOBILITY: N_("Limited mobility or a disability"),
    CareFlag.CHRONIC: N_("A chronic illness"),
}
# Every flag of the one care record as the household reads it (staff may mark one it cannot
# tick itself).
CARE_WORDS = {**CARE_FLAGS, CareFlag.DISABLED: N_("A disability")}
REGISTER_FIRST = N_("Please register your address first: press /start.")
STAFF_NOTED = N_(
    "The community staff noted this for your household. To change it, please talk to them."
)


@dataclass(frozen=True)
class CareRecord:
    """The household's one care record, as it sees it: every flag (its own and those staff
    marked) and home isolation, the same record staff keep."""

    flags: tuple[CareFlag, ...]
    own: frozenset[CareFlag]
    isolation_until: date | None

    def isolating(self, today: date) -> bool:
        return self.isolation_until is not None and self.isolation_until >= today

    @property
    def by_staff(self) -> tuple[CareFlag, ...]:
        return tuple(f for f in self.flags if f not in self.own)


async def care_record(session: AsyncSession, telegram_id: int) -> CareRecord | None:
    res = await session.scalar(select(Resident).where(Resident.telegram_id == telegram_id))
    if res is None:
        return None
    return CareRecord(
        flags=await household_flags.flags_of(session, res.id),
        own=frozenset(await household_flags.declared(session, res)),
        isolation_until=res.isolation_until,
    )


async def _declared(session: AsyncSession, res: Resident) -> set[CareFlag]:
    # Only what it can tick: a staff member marking their own household is still staff.
    return {f for f in await household_flags.declared(session, res) if f in CARE_FLAGS}


async def toggle_care(
    session: AsyncSession, clock: Clock, telegram_id: int, flag: str, marking: bool | None = None
) -> set[CareFlag]:
    """The household says (or takes back), with consent, that it has a vulnerable member.
    ``marking``: what the pressed button offered (⬜ to tick, ☑️ to untick); an older screen
    offering what is done already is refused (stale) rather than undoing it."""
    if flag not in CARE_FLAGS:
        raise stale()
    res = await session.scalar(select(Resident).where(Resident.telegram_id == telegram_id))
    if res is None:
        raise Refused(N_("Please register your address first: press /start."))
    care_flag, now, rid = CareFlag(flag), clock.now(), res.id
    flags = await _declared(session, res)
    shown = set(await household_flags.flags_of(session, rid))  # ticked on the screen: anyone's
    if marking is not None and marking == (care_flag in shown):
        raise stale()
    if care_flag not in flags and care_flag in shown:
        # One record: what staff marked stays theirs to change.
        raise Refused(STAFF_NOTED)
    if care_flag in flags:
        await household_flags.remove(session, rid, care_flag)
    elif not await household_flags.add(session, rid, care_flag, telegram_id, now):
        await household_flags.claim(session, rid, care_flag, telegram_id, now)  # staff's
    flags ^= {care_flag}
    res.care_consent_at = now if flags else None
    res.updated_at = now
    return flags
