"""Personal data is not kept for ever (issue 11 point 8): the sweep prunes the raw updates and
blanks the sent messages after `[privacy] retention_days`, and `paotui resident forget`
erases a household at once while the ledger keeps its figures."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from bot import inbox, outbox, sweep
from bot.buttons import Button
from bot.chat_state import ChatStateStore
from bot.clock import OffsetClock
from bot.runtime import Runtime
from bot.services import (
    care,
    directory,
    notices,
    privacy,
    relay,
    reports,
    resident_inputs,
    residents,
)
from bot.services.orders import drafts, resident_moves, transitions, views
from bot.services.privacy import FORGOTTEN_BASE
from models import CareCheck, InboxUpdate, Notice, Order, OutboxMessage, Resident
from models.enums import OutboxStatus
from tests.conftest import ROOT
from tests.factories import ANSWERS, STAFF, VOLUNTEERS_1
from tests.postgres import pg_dump
from tests.unit.test_orders import _resident

PHONE = "13800001001"


def _advance(rt: Runtime, **delta: float) -> None:
    assert isinstance(rt.clock, OffsetClock)
    rt.clock.advance(timedelta(**delta))


def _update(update_id: int, user_id: int, text: str, name: str = "周阿姨") -> str:
    chat = {"id": user_id, "type": "private", "first_name": name}
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": chat,
                "from": {"id": user_id, "is_bot": False, "first_name": name},
                "text": text,
            },
        },
        ensure_ascii=False,
    )


async def _inbox(rt: Runtime) -> dict[int, str]:
    async with rt.db.read() as s:
        return {i.update_id: i.payload for i in await s.scalars(select(InboxUpdate))}


async def _outbox(rt: Runtime, row_id: int) -> OutboxMessage:
    async with rt.db.read() as s:
        row = await s.get(OutboxMessage, row_id)
        assert row is not None
        return row


async def test_retention_prunes_the_inbox_and_blanks_the_outbox_after_the_set_days(
    rt: Runtime,
) -> None:
    """At 29 days everything is still there; at 31 (retention_days = 30) the processed updates
    are gone and the sent card blanked, keeping what an edit or a count needs."""
    assert rt.settings.privacy.retention_days == 30
    async with rt.db.session() as s:
        await inbox.record(
            s,
            rt.clock,
            [(n, _update(n, 1001, f"我的电话 {PHONE}，3栋502")) for n in (1, 2, 3, 4)],
        )
        await inbox.mark_processed(s, rt.clock, 1)
        for _ in range(inbox.MAX_ATTEMPTS):  # 2: given up after three failures
            await inbox.mark_processed(s, rt.clock, 2, error="boom")
        await inbox.mark_processed(s, rt.clock, 4)  # 3 stays unprocessed (still to do)
        card = outbox.enqueue(
            s,
            rt.clock,
            chat_id=1001,
            text=f"周阿姨 {PHONE} 幸福小区 2栋 3-502",
            buttons=[[Button("✅", "o:ok:1")]],
            photo="AgADphotoOfTheList",
        )
        lost = outbox.enqueue(s, rt.clock, chat_id=1002, text=f"给 {PHONE}")
        waiting = outbox.enqueue(s, rt.clock, chat_id=1003, text=f"还没发 {PHONE}")
        await s.flush()
        card.status, card.message_id, card.sent_at = OutboxStatus.SENT, 77, rt.clock.now()
        lost.status = OutboxStatus.FAILED
        ids = card.id, lost.id, waiting.id

    _advance(rt, days=29)
    fired = await sweep.run_once(rt)
    assert fired["privacy retention"] == 0
    assert sorted(await _inbox(rt)) == [1, 2, 3, 4]
    assert PHONE in (await _outbox(rt, ids[0])).text

    _advance(rt, days=2)
    fired = await sweep.run_once(rt)
    assert fired["privacy retention"] == 4  # updates 1 and 2, the card and the failed row
    left = await _inbox(rt)
    # 3 was never processed: kept for the bot to handle. 4 is the newest: polling resumes
    # from its id after a restart, so the row stays, without its content.
    assert sorted(left) == [3, 4] and left[4] == "{}"
    card_now = await _outbox(rt, ids[0])
    assert (card_now.text, card_now.buttons, card_now.photo) == ("", None, None)
    # What edits of the card, notices' delivery counts and the ledger read is still there.
    assert (card_now.status, card_now.message_id, card_now.chat_id) == ("sent", 77, 1001)
    assert card_now.redacted_at is not None
    assert rt.clock.now() - card_now.redacted_at < timedelta(minutes=1)
    assert (await _outbox(rt, ids[1])).text == ""
    assert PHONE in (await _outbox(rt, ids[2])).text  # never sent: never blanked

    # Nothing more is due: the next sweeps touch nothing.
    assert (await sweep.run_once(rt))["privacy retention"] == 0


async def test_retention_follows_the_configured_days(rt: Runtime) -> None:
    rt.settings.privacy.retention_days = 7
    async with rt.db.session() as s:
        row = outbox.enqueue(s, rt.clock, chat_id=1001, text=PHONE)
        await s.flush()
        row.status, row.message_id = OutboxStatus.SENT, 5
        row_id = row.id
    _advance(rt, days=6, hours=23)
    assert (await sweep.run_once(rt))["privacy retention"] == 0
    _advance(rt, hours=2)
    assert (await sweep.run_once(rt))["privacy retention"] == 1
    assert (await _outbox(rt, row_id)).text == ""


# --- paotui resident forget -------------------------------------------------------------------

V1 = VOLUNTEERS_1[0]
# What must be nowhere in the database afterwards: 周阿姨's phone (as typed at registration
# and as stored), her name, and the father she orders for.
SECRETS = (PHONE, "138 0000 1001", "周阿姨", "周老伯", "13900009999")


async def _order_with(rt: Runtime, description: str) -> int:
    async with rt.db.session() as s:
        d = await drafts.start_draft(rt, s, 1001)
        answers = {**ANSWERS["medicine"], "description": description}
        await drafts.update_draft(
            rt, s, d.id, 1001, category="medicine", urgency="urgent", **answers
        )
        result = await drafts.submit_draft(rt, s, d.id, 1001)
    return result.order.id


async def _household(rt: Runtime) -> tuple[int, int, int]:
    """周阿姨 (13800001001, 幸福小区 2栋 3-502) with her father on file, on the care list with a
    check-in answered, and three orders: one delivered and confirmed (with messages to the
    runner and a problem report), one cancelled, one still open."""
    await _resident(rt)
    now = rt.clock.now()
    async with rt.db.session() as s:
        b = await directory.building_by_code(s, "xf2")
        assert b is not None
        await residents.add_recipient(
            s,
            rt.clock,
            owner_telegram_id=1001,
            name="周老伯",
            phone="13900009999",
            building_id=b.id,
            unit="3",
            room="503",
        )
        rid = await s.scalar(select(Resident.id).where(Resident.telegram_id == 1001))
        assert rid is not None
        await care.toggle_flag(rt, s, STAFF, rid, "elderly_alone")
        s.add(CareCheck(resident_id=rid, day=rt.today(), asked_at=now, answer="call"))
    a = await _order_with(rt, f"周阿姨的降压药，到了打 {PHONE}")
    async with rt.db.session() as s:
        await transitions.claim(rt, s, a, V1)
        await relay.send(rt, s, a, 1001, text=f"我是周阿姨，电话 {PHONE}")
        # Typed outside any conversation during the order, not yet passed on.
        await resident_inputs.keep(rt, s, 1001, f"门铃坏了，打 {PHONE}", None)
        await transitions.advance(rt, s, a, V1, "buy")
        await transitions.advance(rt, s, a, V1, "go")
    async with rt.db.session() as s:
        await transitions.deliver(rt, s, a, V1, "door-photo", 3550, "receipt-photo")
    async with rt.db.session() as s:
        await resident_moves.confirm_receipt(rt, s, a, 1001)
        await resident_moves.report_problem(rt, s, a, 1001, "missing", f"少了一盒，周阿姨 {PHONE}")
    b_id = await _order_with(rt, "米 5斤")
    async with rt.db.session() as s:
        await resident_moves.cancel_by_resident(rt, s, b_id, 1001)
    c = await _order_with(rt, "周老伯的药")
    async with rt.db.session() as s:
        # Kept for whoever takes it (nobody has yet).
        kept = await resident_inputs.keep(rt, s, 1001, f"周老伯住 503，电话 {PHONE}", None)
        assert kept is not None and kept.held_for is not None
    async with rt.db.session() as s:
        building = await directory.building_by_code(s, "xf2")
        assert building is not None
        await notices.create(rt, s, STAFF, "building", f"b{building.id}", "明天上午核酸检测")
    async with rt.db.session() as s:
        await inbox.record(
            s,
            rt.clock,
            [(500, _update(500, 1001, f"电话 {PHONE}")), (501, _update(501, 1002, "hi", "李叔"))],
        )
    await ChatStateStore(rt.db, rt.clock).save("user", "", "1001", {"phone": PHONE})
    return a, b_id, c


async def _paotui(rt: Runtime, *args: str) -> tuple[int, str, str]:
    """The real command line, as an operator runs it, on the test's database."""
    env = {**os.environ, "PAOTUI_DATABASE__URL": rt.settings.database.url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _everything(rt: Runtime) -> str:
    """Every value of every table, as text (the whole database, not just the obvious
    columns): the SQLite file's dump, or pg_dump of the PostgreSQL database."""
    url = make_url(rt.settings.database.url)
    if url.get_backend_name() != "sqlite":
        return pg_dump(rt.settings.database.url)
    assert url.database is not None
    with sqlite3.connect(url.database) as db:
        return "\n".join(db.iterdump())


async def test_forget_erases_a_household_and_keeps_its_orders_in_the_ledger(rt: Runtime) -> None:
    a, _b, c = await _household(rt)
    day = rt.today()
    assert all(secret in _everything(rt) for secret in (PHONE, "周阿姨", "周老伯"))

    # Not while an order still needs her address.
    code, out, err = await _paotui(rt, "resident", "forget", "--phone", PHONE)
    assert code == 1 and out == ""
    assert f"orders #{c} of this household are still under way" in err
    assert "Nothing erased" in err and "周阿姨" in _everything(rt)

    async with rt.db.session() as s:
        await resident_moves.cancel_by_resident(rt, s, c, 1001)
    async with rt.db.session() as s:
        grids = list(await s.scalars(select(Order.grid_id).distinct()))
        before = await reports.stats_for(rt, s, grids, day, day)
        # Delivered, as the dispatcher would have done by now (no bot runs in this test).
        await s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING)
            .values(status=OutboxStatus.SENT, message_id=OutboxMessage.id)
        )

    code, out, err = await _paotui(rt, "resident", "forget", "--phone", "+86 138-0000-1001")
    assert code == 0, err
    assert "households forgotten: 1" in out
    assert "orders anonymised, kept in the ledger with their figures: 3" in out
    assert "messages with the runner deleted: 2" in out  # one sent, one held
    assert "incoming updates deleted: 1" in out
    assert PHONE not in out + err

    dump = _everything(rt)
    for secret in SECRETS:
        assert secret not in dump, [line for line in dump.splitlines() if secret in line]
    assert "3-502" not in dump and "降压药" not in dump

    async with rt.db.read() as s:
        after = await reports.stats_for(rt, s, grids, day, day)
        kept = {o.id: o for o in await s.scalars(select(Order).order_by(Order.id))}
        gone = await s.scalar(select(Resident).where(Resident.forgotten_at.is_not(None)))
        other = await s.get(InboxUpdate, 501)
    # The ledger's figures are unchanged: counts, statuses, kinds, the amount spent.
    assert (after.created, after.by_status, after.by_category) == (
        before.created,
        before.by_status,
        before.by_category,
    )
    assert after.created == 3 and after.by_status == {"confirmed": 1, "cancelled": 2}
    assert kept[a].amount_spent_fen == 3550 and kept[a].category == "medicine"
    assert kept[a].volunteer_id is not None and kept[a].delivered_at is not None
    assert (kept[a].contact_name, kept[a].room, kept[a].description) == ("", "", "")
    assert kept[a].doorstep_photo is None and kept[a].receipt_photo is None
    assert gone is not None and gone.telegram_id > FORGOTTEN_BASE
    assert other is not None  # someone else's update is untouched

    # She is no longer anyone to the bot: no notices, and she may register anew.
    async with rt.db.session() as s:
        building = await directory.building_by_code(s, "xf2")
        assert building is not None
        reach = await notices.recipients_of(
            s, Notice(audience="building", audience_id=building.id, grid_id=building.grid_id)
        )
        assert all(r.resident_id != gone.id for r in reach)
        # The notice she never confirmed: no resend to her, no door to knock on.
        notice_id = await s.scalar(select(Notice.id))
        assert notice_id is not None
        assert await notices.resend_unconfirmed(rt, s, STAFF, notice_id) == 0
        assert await notices.unconfirmed_by_building(s, STAFF, notice_id) == {}
        assert await residents.get(s, 1001) is None
        assert await views.orders_of_resident(s, 1001) == []


async def test_forget_an_unknown_phone_says_so(rt: Runtime) -> None:
    await _resident(rt)
    code, out, err = await _paotui(rt, "resident", "forget", "--phone", "13999999999")
    assert code == 1 and out == ""
    assert "no resident, recipient or order has the phone number 13999999999" in err
    assert "周阿姨" in _everything(rt)


async def test_forget_someone_ordered_for_leaves_the_orderer_registered(rt: Runtime) -> None:
    """周老伯 never registered: his son orders for him. Forgetting his number erases him from
    the son's list and from the orders placed for him; the son's own data stays."""
    await _resident(rt)  # the son's account, for this test (1001, 13800001001)
    async with rt.db.session() as s:
        b = await directory.building_by_code(s, "xf2")
        assert b is not None
        dad = await residents.add_recipient(
            s,
            rt.clock,
            owner_telegram_id=1001,
            name="周老伯",
            phone="139 0000 9999",
            building_id=b.id,
            unit="3",
            room="601",
        )
        d = await drafts.start_draft(rt, s, 1001)
        await drafts.update_draft(
            rt, s, d.id, 1001, category="medicine", urgency="urgent", **ANSWERS["medicine"]
        )
        await drafts.set_recipient(rt, s, d.id, 1001, dad.id)
        for_dad = (await drafts.submit_draft(rt, s, d.id, 1001)).order.id
    own = await _order_with(rt, "米")
    async with rt.db.session() as s:
        await resident_moves.cancel_by_resident(rt, s, for_dad, 1001)
        done = await privacy.forget(rt, s, "13900009999")
    assert (done.residents, done.recipients, done.orders) == ([], 1, 1)
    async with rt.db.read() as s:
        kept = {o.id: o for o in await s.scalars(select(Order))}
        son = await residents.get(s, 1001)
    assert (kept[for_dad].contact_name, kept[for_dad].contact_phone, kept[for_dad].room) == (
        "",
        "",
        "",
    )
    assert kept[for_dad].status == "cancelled" and kept[for_dad].category == "medicine"
    assert kept[own].contact_phone == PHONE  # the son's own order is untouched
    assert son is not None and son.phone == PHONE
    dump = _everything(rt)
    assert "周老伯" not in dump and "13900009999" not in dump
