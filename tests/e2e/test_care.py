"""The care list (包保) end to end: staff mark a household and name who is responsible; each
morning the household is asked once (also across sweeps and a restart); "please call me"
alerts the responsible person at once, no answer alerts once after the set hour; a
home-isolation period makes orders doorstep and priority without telling volunteers why."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services import care, care_checkins
from handlers import care as care_handlers
from models import CareCheck, Order, Resident
from tests.factories import GROUP_1, STAFF, VOLUNTEERS_1, Harness, Z, buttons, text_of

WANG = VOLUNTEERS_1[0]  # 王刚
ZHOU_PHONE, WU_PHONE = "13800000001", "13800000002"


def _has(prefix: str) -> Any:
    return lambda m: any(d.startswith(prefix) for _, d in buttons(m))


def _advance_to_local(h: Harness, hhmm: str) -> None:
    """Move the clock to the next local ``hhmm`` (today's if still ahead, else tomorrow's)."""
    tz = ZoneInfo(h.rt.timezone)
    now = h.rt.clock.now().astimezone(tz)
    hh, mm = map(int, hhmm.split(":"))
    target = datetime.combine(now.date(), time(hh, mm), tzinfo=tz)
    if target <= now:
        target += timedelta(days=1)
    h.advance(seconds=(target - now).total_seconds())


async def _resident_id(h: Harness, tid: int) -> int:
    async with h.rt.db.read() as s:
        rid = await s.scalar(select(Resident.id).where(Resident.telegram_id == tid))
    assert rid is not None
    return rid


def _count(h: Harness, chat: int, piece: str) -> int:
    return sum(piece in text_of(m) for m in h.emu.messages(chat) if m["outgoing"])


async def test_care_check_in_and_its_alert(harness: Harness) -> None:
    h = harness
    # Outside the morning window, so nothing is asked before the test moves the clock.
    _advance_to_local(h, "12:30")
    zhou = await h.register(1001, "周阿姨", room="101", phone=ZHOU_PHONE)
    wu = await h.register(1002, "吴大爷", room="102", phone=WU_PHONE)
    staff, wang = h.person(STAFF, "赵书记"), h.person(WANG)
    for p in (staff, wang):
        p.say("/help")
        await p.expect(lambda m: True)

    # A resident is refused the care list.
    wu.say("/care")
    await wu.expect(Z(care.NOT_STAFF))

    # Staff open 周阿姨 by phone, mark her, and name 王刚 responsible.
    zhou_id = await _resident_id(h, 1001)
    staff.say(f"/care {ZHOU_PHONE}")
    card = await staff.expect(_has(f"cr:flag:{zhou_id}:"))
    assert ZHOU_PHONE in text_of(card)
    await staff.press_data(card, f"cr:flag:{zhou_id}:elderly_alone")
    card = await h.wait_edit(STAFF, card["message_id"], lambda m: "☑️" in str(m["reply_markup"]))
    await staff.press_data(card, f"cr:who:{zhou_id}")
    who = await h.wait_edit(STAFF, card["message_id"], _has(f"cr:as:{zhou_id}:"))
    await staff.press(who, "王刚")
    await h.wait_edit(
        STAFF, card["message_id"], lambda m: "王刚" in text_of(m) and _has("cr:flag:")(m)
    )
    await wang.expect(lambda m: "周阿姨" in text_of(m) and ZHOU_PHONE in text_of(m))

    # 吴大爷 by address, marked, with nobody named: the staff in scope are alerted.
    wu_id = await _resident_id(h, 1002)
    staff.say("/care 1栋 1 102")
    card = await staff.expect(_has(f"cr:flag:{wu_id}:"))
    await staff.press_data(card, f"cr:flag:{wu_id}:chronic")
    await h.wait_edit(STAFF, card["message_id"], lambda m: "☑️" in str(m["reply_markup"]))

    # The list shows both.
    staff.say("/care")
    listing = await staff.expect(Z(care_handlers.TITLE))
    assert "周阿姨" in text_of(listing) and "吴大爷" in text_of(listing)

    # Nothing is asked in the afternoon.
    await h.sweep()
    assert await h.count(CareCheck) == 0

    # 09:00: each asked once, across two sweeps and a restart.
    _advance_to_local(h, "09:00")
    await h.sweep()
    await h.sweep()
    await h.restart()
    await h.sweep()
    assert await h.count(CareCheck) == 2
    question = await zhou.expect(_has("c:call:"))
    wu_question = await wu.expect(_has("c:ok:"))
    ask = Z(care_checkins.ASK)
    assert _count(h, 1001, ask) == 1 and _count(h, 1002, ask) == 1

    # "Please call me": the responsible person is alerted at once, with her phone; once.
    check_id = next(d for _, d in buttons(question) if d.startswith("c:call:")).split(":")[2]
    await zhou.press_data(question, f"c:call:{check_id}")
    alert = await wang.expect(Z(care_checkins.ALERT_CALL))
    assert ZHOU_PHONE in text_of(alert) and "1栋 1-101" in text_of(alert)
    assert _has("sa:ok:")(alert)  # ✅ Handled, like every staff alert
    await zhou.expect(Z(care_handlers.REPLY[care_checkins.CALL]))
    answered = await zhou.press_data(question, f"c:ok:{check_id}", force=True)
    assert answered is not None and answered.get("show_alert")
    await h.settle()
    assert _count(h, WANG, Z(care_checkins.ALERT_CALL)) == 1
    # A forged check id: an alert, nothing changed.
    forged = await wu.press_data(wu_question, f"c:ok:{check_id}", force=True)
    assert forged is not None and forged.get("show_alert")

    # No answer from 吴大爷: nothing before 12:00, then the staff are alerted once.
    h.advance(hours=2, minutes=30)
    await h.sweep()
    assert _count(h, STAFF, Z(care_checkins.ALERT_SILENT)) == 0
    h.advance(minutes=31)
    await h.sweep()
    await h.sweep()
    await h.restart()
    await h.sweep()
    silent = await staff.expect(Z(care_checkins.ALERT_SILENT))
    assert "吴大爷" in text_of(silent) and WU_PHONE in text_of(silent)
    assert _has("sa:ok:")(silent)
    assert _count(h, STAFF, Z(care_checkins.ALERT_SILENT)) == 1
    assert _count(h, WANG, Z(care_checkins.ALERT_SILENT)) == 0
    async with h.rt.db.read() as s:
        checks = {c.resident_id: c for c in await s.scalars(select(CareCheck))}
    assert checks[zhou_id].answer == care_checkins.CALL and checks[zhou_id].alerted_at is None
    assert checks[wu_id].answer is None and checks[wu_id].alerted_at is not None

    # Home isolation for 吴大爷: his order is doorstep and priority; the group is not told why.
    staff.say(f"/care {WU_PHONE}")
    card = await staff.expect(_has(f"cr:iso:{wu_id}"))
    await staff.press_data(card, f"cr:iso:{wu_id}")
    await staff.expect(lambda m: "吴大爷" in text_of(m) and _has(f"cr:isod:{wu_id}:7")(m))
    until = (h.rt.today() + timedelta(days=5)).isoformat()
    staff.say(until)
    await staff.expect(lambda m: until in text_of(m) and _has(f"cr:isox:{wu_id}")(m))
    done = await h.order(wu, "groceries")
    assert "隔离" not in text_of(done) and "isolation" not in text_of(done).lower()
    async with h.rt.db.read() as s:
        o = await s.scalar(select(Order).where(Order.resident_id == wu_id))
    assert o is not None and o.doorstep and o.priority
    await h.settle()
    post = await h.emu.wait_for(GROUP_1, lambda m: f"#{o.id} " in text_of(m))
    assert "⭐" in text_of(post)
    for m in h.emu.messages(GROUP_1):
        assert "隔离" not in text_of(m) and "isolat" not in text_of(m).lower()
