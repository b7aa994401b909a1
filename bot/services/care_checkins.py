"""The care list's daily check-in (包保): each morning the bot asks every household on the
care list "is everything all right today?"; "please call me", or no answer by a set hour,
alerts the person responsible for it (else the staff covering its grid). This module owns the
question, the household's answer and the alerts.

The daily question is one CareCheck row per household and day (the unique key is the claim),
written with its message; an answer and an alert are conditional UPDATEs, so two sweeps, a
restart or a double press fire nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.buttons import Button, Rows
from bot.clock import clock_time, local_at, local_day
from bot.db import affected_rows
from bot.errors import Refused
from bot.i18n import N_, Gettext, gettext_for, local_time
from bot.runtime import Runtime
from bot.services import alerts, care_flags, scope
from bot.services.care import LOAD, NOT_YOURS, Household, household_of, may_be_responsible
from bot.services.messages import tell
from bot.services.people import languages_of
from models import CareCheck, Resident

FINE, NEED, CALL = "fine", "need", "call"
# Button verb -> answer: c:ok:<check id>, c:need:<id>, c:call:<id>.
VERBS = {"ok": FINE, "need": NEED, "call": CALL}
ANSWER_LABEL = {
    FINE: N_("✅ all right"),
    NEED: N_("🛒 needs something"),
    CALL: N_("📞 asked to be called"),
}

ASK = N_("Good morning! Is everything all right today?")
BTN_FINE = N_("✅ I'm fine")
BTN_NEED = N_("🛒 I need something")
BTN_CALL = N_("📞 Please call me")
OLD_CHECK = N_("This question was for an earlier day. Thank you; today's comes in the morning.")


def question(check_id: int, _: Gettext) -> tuple[str, Rows]:
    return _(ASK), [
        [Button(_(BTN_FINE), f"c:ok:{check_id}")],
        [Button(_(BTN_NEED), f"c:need:{check_id}")],
        [Button(_(BTN_CALL), f"c:call:{check_id}")],
    ]


async def ask_due(rt: Runtime) -> int:
    """From `care.check_in_at` to `alert_if_no_answer_by` (local), ask each household with a
    care flag once a day. The CareCheck insert is the claim (unique per household and day),
    in the same transaction as the question. Returns how many were asked."""
    now = rt.clock.now()
    local = now.astimezone(ZoneInfo(rt.timezone))
    # Only in the morning window: someone marked in the evening is asked the next morning.
    if (
        not clock_time(rt.settings.care.check_in_at)
        <= local.time()
        < clock_time(rt.settings.care.alert_if_no_answer_by)
    ):
        return 0
    today = local.date()
    asked = 0
    async with rt.db.session() as session:
        due = (
            await session.execute(
                select(Resident.id, Resident.telegram_id)
                .outerjoin(
                    CareCheck, (CareCheck.resident_id == Resident.id) & (CareCheck.day == today)
                )
                .where(care_flags.has_flag())
                .where(CareCheck.id.is_(None))
                # No Telegram (registered by staff for phone orders): nobody to ask here.
                .where(Resident.telegram_id.is_not(None))
                .order_by(Resident.id)
                .limit(500)
            )
        ).all()
        langs = await languages_of(
            session, [tid for _, tid in due if tid is not None], rt.default_language
        )
        for resident_id, telegram_id in due:
            assert telegram_id is not None
            try:
                async with session.begin_nested():
                    check = CareCheck(resident_id=resident_id, day=today, asked_at=now)
                    session.add(check)
            except IntegrityError:
                continue  # another sweep asked them
            text, rows = question(check.id, gettext_for(langs[telegram_id]))
            outbox.enqueue(session, rt.clock, chat_id=telegram_id, text=text, buttons=rows)
            asked += 1
    return asked


async def _tell_responsible(
    rt: Runtime, session: AsyncSession, h: Household, make: _Text, kind: str | None = None
) -> int:
    """Tell the responsible person; with nobody named, or someone no longer entitled to the
    household's details (a suspended volunteer, staff moved elsewhere), the staff in scope of
    the grid."""
    tid = h.responsible_telegram_id
    to = (
        [tid]
        if tid and await may_be_responsible(session, tid, h.community_id, h.grid_id)
        else await scope.staff_covering(session, h.community_id, h.grid_id)
    )
    if kind is None:  # a follow-up ("all right now"): nothing to handle
        await tell(rt, session, to, make)
    else:  # something to act on: ✅ Handled tells the others (bot.services.alerts)
        await alerts.alert(rt, session, to, make, kind=kind, resident_id=h.resident_id)
    return len(to)


class _Text:
    """A message to the responsible person, rendered in each reader's language."""

    def __init__(self, msgid: str, **params: object) -> None:
        self.msgid, self.params = msgid, params

    def __call__(self, _: Gettext) -> str:
        return _(self.msgid).format(**self.params)


ALERT_CALL = N_(
    "📞 {name} asks to be called (today's check-in). Please call now: {phone}\n📍 {address}"
)
ALERT_NEED = N_(
    "ℹ️ {name} says they need something today; I told them how to order with 📝 Order. "
    "Phone {phone}, 📍 {address}"
)
ALERT_SILENT = N_(
    "⚠️ {name} has not answered today's check-in (asked at {time}). Please call or visit: "
    "{phone}\n📍 {address}"
)
ALERT_LATE_FINE = N_("✅ {name} has answered today's check-in now: all right.")


@dataclass(frozen=True)
class Answered:
    answer: str
    first: bool  # False: an earlier answer counted, this press changed nothing
    told: int  # how many people were alerted


async def answer(
    rt: Runtime, session: AsyncSession, telegram_id: int, check_id: int, verb: str
) -> Answered:
    """The household's answer to today's question: the first answer counts (a conditional
    UPDATE). "call" alerts the responsible person at once; "need" tells them softly."""
    if verb not in VERBS:
        raise Refused(NOT_YOURS)
    check = await session.get(CareCheck, check_id)
    r = await session.scalar(
        select(Resident).where(Resident.id == (check.resident_id if check else -1)).options(*LOAD)
    )
    if check is None or r is None or r.telegram_id != telegram_id:
        raise Refused(NOT_YOURS)
    today = rt.today()
    if check.day != today:
        raise Refused(OLD_CHECK)
    value = VERBS[verb]
    now = rt.clock.now()
    done = await affected_rows(
        session,
        update(CareCheck)
        .where(CareCheck.id == check.id, CareCheck.answer.is_(None))
        .values(answer=value, answered_at=now)
        .execution_options(synchronize_session=False),
    )
    if done != 1:
        await session.refresh(check)
        return Answered(check.answer or value, first=False, told=0)
    await session.refresh(check)
    h = await household_of(session, r, today, check)
    params = {"name": h.name, "phone": h.phone, "address": h.address}
    told = 0
    if value == CALL:
        told = await _tell_responsible(rt, session, h, _Text(ALERT_CALL, **params), alerts.CALL_ME)
    elif value == NEED:
        told = await _tell_responsible(rt, session, h, _Text(ALERT_NEED, **params), alerts.NEED)
    elif check.alerted_at is not None:
        told = await _tell_responsible(rt, session, h, _Text(ALERT_LATE_FINE, name=h.name))
    return Answered(value, first=True, told=told)


@dataclass(frozen=True)
class Asked:
    """A check-in as it stands: its day and the answer it got (None: none)."""

    day: date
    answer: str | None


async def as_it_stands(session: AsyncSession, telegram_id: int, check_id: int) -> Asked | None:
    """The household's own check (None for another's): what an older question shows once
    pressed (issue 15: a press on an older message shows what is true now)."""
    check = await session.get(CareCheck, check_id)
    r = await session.get(Resident, check.resident_id) if check else None
    if check is None or r is None or r.telegram_id != telegram_id:
        return None
    return Asked(check.day, check.answer)


def _alert_deadline(rt: Runtime, check: CareCheck) -> datetime:
    """The alert hour of the check's day; a household asked late (marked during the day, or
    the bot was down) gets as long to answer as the others did."""
    cfg, tz = rt.settings.care, rt.timezone
    deadline = local_at(check.day, cfg.alert_if_no_answer_by, tz)
    window = deadline - local_at(check.day, cfg.check_in_at, tz)
    return max(deadline, check.asked_at + window)


async def alert_due(rt: Runtime) -> int:
    """After `care.alert_if_no_answer_by` (local), each of today's checks with no answer
    alerts the responsible person once (a conditional UPDATE on alerted_at)."""
    now = rt.clock.now()
    today = local_day(now, rt.timezone)
    if now < local_at(today, rt.settings.care.alert_if_no_answer_by, rt.timezone):
        return 0
    alerted = 0
    async with rt.db.session() as session:
        checks = (
            await session.scalars(
                select(CareCheck)
                .where(
                    CareCheck.day == today,
                    CareCheck.answer.is_(None),
                    CareCheck.alerted_at.is_(None),
                )
                .order_by(CareCheck.id)
                .limit(500)
            )
        ).all()
        for check in checks:
            if _alert_deadline(rt, check) > now:
                continue
            claimed = await affected_rows(
                session,
                update(CareCheck)
                .where(
                    CareCheck.id == check.id,
                    CareCheck.alerted_at.is_(None),
                    CareCheck.answer.is_(None),
                )
                .values(alerted_at=now)
                .execution_options(synchronize_session=False),
            )
            if claimed != 1:
                continue  # answered meanwhile, or another sweep alerted
            r = await session.scalar(
                select(Resident).where(Resident.id == check.resident_id).options(*LOAD)
            )
            assert r is not None
            h = await household_of(session, r, today, check)
            await _tell_responsible(
                rt,
                session,
                h,
                _Text(
                    ALERT_SILENT,
                    name=h.name,
                    phone=h.phone,
                    address=h.address,
                    time=local_time(check.asked_at, rt.timezone),
                ),
                alerts.SILENT,
            )
            alerted += 1
    return alerted
