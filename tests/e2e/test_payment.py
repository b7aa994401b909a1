"""Paying the runner back (issue 15, point 7): a volunteer keeps a payment QR code (/payqr);
a delivery with an amount shows the resident the amount with that picture and ✅ 已付款, the
runner gets ✅ 已收到款; both presses are recorded once; what is not received is listed for
staff (/unpaid) and in the ledger; the QR picture never reaches a group."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from bot.services import payments
from bot.services.reports.sheets.orders_sheet import ORDER_HEADINGS
from bot.services.scope import NOT_STAFF
from handlers import payments as pay_handlers
from models import Order, Volunteer
from tests.factories import (
    GROUP_1,
    STAFF,
    VOLUNTEERS_1,
    Harness,
    Person,
    Z,
    buttons,
    run_to_door,
    text_of,
)
from tests.factories import button_data as _data

AUNT, UNCLE = 1001, 1002
WANG, LI = VOLUNTEERS_1[0], VOLUNTEERS_1[1]


async def _order(h: Harness, order_id: int) -> Order:
    async with h.rt.db.read() as s:
        o = await s.get(Order, order_id)
    assert o is not None
    return o


async def _alert(p: Person, msg: dict[str, Any], data: str) -> str:
    answer = await p.press_data(msg, data, force=True)
    assert answer is not None and answer["show_alert"], answer
    return str(answer["text"])


async def _talking(h: Harness, user_id: int, name: str) -> Person:
    p = h.person(user_id, name)
    p.say("/help")
    await p.expect(lambda m: True)
    return p


async def _ledger(h: Harness, boss: Person) -> list[dict[str, Any]]:
    """The orders sheet of today's ledger, each order's row by its (Chinese) headings."""
    today = h.rt.today().isoformat()
    before = sum(1 for m in h.emu.messages(STAFF) if m["outgoing"] and m.get("document"))
    boss.say(f"/export {today} {today}")
    await boss.expect(lambda m: str(m.get("document", {}).get("file_name", "")).endswith(".csv"))
    docs = [m for m in h.emu.messages(STAFF) if m["outgoing"] and m.get("document")]
    assert len(docs) == before + 2
    xlsx = next(m for m in docs[before:] if m["document"]["file_name"].endswith(".xlsx"))
    wb = load_workbook(io.BytesIO(h.emu.file_bytes(xlsx["document"]["file_id"])))
    sheet = wb["订单"]
    head = [c.value for c in next(sheet.iter_rows(min_row=1, max_row=1))]
    assert head[: len(ORDER_HEADINGS)] == list(ORDER_HEADINGS)
    rows = [dict(zip(head, r, strict=False)) for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert str(rows[-1][head[0]]).startswith("合计")  # the totals row, not an order
    return rows[:-1]


async def test_qr_amount_paid_and_received_recorded_once(harness: Harness) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    wang = await _talking(h, WANG, "王刚")
    boss = await _talking(h, STAFF, "赵书记")

    # 王刚 keeps his payment code: text is not a photo; the photo is kept.
    wang.say("/payqr")
    ask = await wang.expect(Z(pay_handlers.ASK_QR))
    assert _data(ask) == ["pq:stop"]
    wang.say("我的收款码")
    await wang.expect(Z(pay_handlers.QR_PHOTO_ONLY))
    qr = h.emu.send_photo(WANG, b"\x89PNG wechat pay code of wang")
    await wang.expect(Z(pay_handlers.QR_SAVED))
    qr_unique = qr["photo"][-1]["file_unique_id"]
    async with h.rt.db.read() as s:
        kept = await s.scalar(select(Volunteer.pay_qr).where(Volunteer.telegram_id == WANG))
    assert kept == qr["photo"][-1]["file_id"]

    # /payqr again shows it, to replace or remove; ✖️ leaves it as it is.
    wang.say("/payqr")
    shown = await wang.expect(Z(pay_handlers.HAVE_QR))
    assert shown["photo"][-1]["file_unique_id"] == qr_unique
    assert _data(shown) == ["pq:rm", "pq:stop"]
    await wang.press_data(shown, "pq:stop")
    await wang.expect(Z(pay_handlers.QR_STOPPED))

    # Delivered with ¥42.50: the resident gets the amount with his code and ✅ 已付款.
    await h.order(aunt)
    await run_to_door(h, 1, WANG, GROUP_1, amount="42.5")
    ask_pay = await aunt.expect(lambda m: "pay:paid:1" in _data(m) and "o:ok:1" not in _data(m))
    assert "¥42.50" in text_of(ask_pay) and "王刚" in text_of(ask_pay)
    assert Z("✅ I have paid") == "✅ 已付款"
    assert [t for t, _ in buttons(ask_pay)] == ["✅ 已付款"]
    assert ask_pay["photo"][-1]["file_unique_id"] == qr_unique
    # (sent with the delivery, so it may come before the runner's "marked delivered" reply)
    owed = await h.emu.wait_for(WANG, lambda m: "pay:got:1" in _data(m))
    assert "¥42.50" in text_of(owed) and [t for t, _ in buttons(owed)] == ["✅ 已收到款"]
    assert "/payqr" not in text_of(owed)  # he has a code: no tip

    # Staff see it unpaid.
    boss.say("/unpaid")
    listed = await boss.expect(lambda m: "#1 " in text_of(m) and "¥42.50" in text_of(m))
    assert Z("not paid yet") in text_of(listed) and "王刚" in text_of(listed)
    assert "周阿姨" not in text_of(listed)

    # 已付款: recorded once, the runner told; a second press is answered, not re-recorded.
    await aunt.press_data(ask_pay, "pay:paid:1")
    noted = await aunt.expect(
        Z("✅ Noted: you paid ¥{amount} for {title}. {name} will confirm receiving it.")
    )
    assert "¥42.50" in text_of(noted)
    await h.wait_edit(AUNT, ask_pay["message_id"], lambda m: not buttons(m))
    o = await _order(h, 1)
    assert o.paid_at is not None and o.paid_by == AUNT and o.paid_confirmed_at is None
    first_paid = o.paid_at
    h.advance(minutes=5)
    said = await _alert(aunt, ask_pay, "pay:paid:1")
    assert Z(payments.ALREADY_PAID) in said
    assert (await _order(h, 1)).paid_at == first_paid
    says_paid = Z(
        "💰 {title}: the resident says they have paid you ¥{amount}. Please check, then "
        "press “Money received”."
    )
    told = await wang.expect(lambda m: says_paid in text_of(m) and "pay:got:1" in _data(m))

    boss.say("/unpaid")
    listed = await boss.expect(lambda m: "#1 " in text_of(m) and "¥42.50" in text_of(m))
    assert Z("the resident says paid {time}") in text_of(listed)

    # Only the runner confirms; then 已收到款 is recorded once and the resident thanked.
    # (forged in her own chat)
    assert Z(payments.NOT_THE_RUNNER) in await _alert(aunt, ask_pay, "pay:got:1")
    await wang.press_data(told, "pay:got:1")
    await wang.expect(Z("✅ Noted: you received ¥{amount} for {title}. Thank you!"))
    thanks = await aunt.expect(Z("✅ {name} has received your ¥{amount} for {title}. Thank you!"))
    assert "¥42.50" in text_of(thanks)
    o = await _order(h, 1)
    assert o.paid_confirmed_at is not None and o.paid_confirmed_by == WANG
    # The first 已收到款 button, pressed late: answered, nothing re-recorded.
    assert Z(payments.ALREADY_RECEIVED) in await _alert(wang, owed, "pay:got:1")
    assert (await _order(h, 1)).paid_confirmed_at == o.paid_confirmed_at

    boss.say("/unpaid")
    await boss.expect(Z("💰 No unpaid deliveries: every amount spent has been received."))
    rows = await _ledger(h, boss)
    assert [(r["订单编号"], r["收款状态"]) for r in rows] == [(1, "已收款")]
    assert rows[0]["居民付款时间"] is not None and rows[0]["志愿者确认收款时间"] is not None

    # The code never went to a group (the privacy guard checks every group message too).
    for m in h.emu.messages(GROUP_1):
        assert all(p["file_unique_id"] != qr_unique for p in m.get("photo") or [])

    # He removes his code.
    wang.say("/payqr")
    shown = await wang.expect(Z(pay_handlers.HAVE_QR))
    await wang.press_data(shown, "pq:rm")
    await wang.expect(Z(pay_handlers.QR_REMOVED))
    async with h.rt.db.read() as s:
        kept = await s.scalar(select(Volunteer.pay_qr).where(Volunteer.telegram_id == WANG))
    assert kept is None


async def test_no_code_cash_unpaid_for_staff_and_in_the_ledger(harness: Harness) -> None:
    h = harness
    uncle = await h.register(UNCLE, "吴大爷", room="102")
    aunt = await h.register(AUNT, "周阿姨")
    li = await _talking(h, LI, "李")
    boss = await _talking(h, STAFF, "赵书记")

    # A resident is no volunteer: no payment code for him; /unpaid is for staff.
    uncle.say("/payqr")
    await uncle.expect(Z(payments.NOT_A_VOLUNTEER))
    uncle.say("/unpaid")
    await uncle.expect(Z(NOT_STAFF))

    # No code: the resident is asked to pay the way the volunteer says; the runner gets a tip.
    await h.order(uncle)
    await run_to_door(h, 1, LI, GROUP_1, amount="20")
    ask_pay = await uncle.expect(lambda m: "pay:paid:1" in _data(m) and "o:ok:1" not in _data(m))
    assert not ask_pay.get("photo")
    assert "请按志愿者说的方式付款" in text_of(ask_pay) and "¥20.00" in text_of(ask_pay)
    owed = await h.emu.wait_for(LI, lambda m: "pay:got:1" in _data(m))
    assert "/payqr" in text_of(owed)
    # 📋 My orders says where the payment stands, with 已付款 while it is not paid.
    uncle.say("/orders")
    detail = await uncle.expect(lambda m: "o:ok:1" in _data(m))
    assert "pay:paid:1" in _data(detail) and "¥20.00：尚未付款" in text_of(detail)

    # Nothing spent: nothing to pay, no payment messages.
    await h.order(aunt)
    await run_to_door(h, 2, LI, GROUP_1, amount="0")
    await h.settle()
    assert not any("pay:paid:2" in _data(m) for m in aunt.chat())
    assert not any("pay:got:2" in _data(m) for m in li.chat())

    # Staff: unpaid, in the list and in the ledger; a day later it is marked overdue.
    boss.say("/unpaid")
    listed = await boss.expect(lambda m: "#1 " in text_of(m))
    entries = text_of(listed).split("\n")[1:]
    assert len(entries) == 1 and "⏰" not in entries[0]
    rows = await _ledger(h, boss)
    states = {r["订单编号"]: r["收款状态"] or "" for r in rows}
    assert states == {1: "未付款", 2: ""}
    h.advance(hours=25)
    boss.say("/unpaid")
    await boss.expect(lambda m: text_of(m).split("\n")[-1].startswith("⏰ 🥬 #1 "))

    # Cash at the door: the runner confirms on his own; the resident's 已付款 is then stale.
    await li.press_data(owed, "pay:got:1")
    await li.expect(Z("✅ Noted: you received ¥{amount} for {title}. Thank you!"))
    await uncle.expect(Z("✅ {name} has received your ¥{amount} for {title}. Thank you!"))
    assert Z(payments.RECEIVED_BEFORE_PAID) in await _alert(uncle, ask_pay, "pay:paid:1")
    o = await _order(h, 1)
    assert (o.paid_at, o.paid_confirmed_by) == (None, LI)
    uncle.say("/orders")
    detail = await uncle.expect(lambda m: "o:ok:1" in _data(m))
    assert "pay:paid:1" not in _data(detail) and "志愿者已收到" in text_of(detail)
    boss.say("/unpaid")
    await boss.expect(Z("💰 No unpaid deliveries: every amount spent has been received."))


async def test_payment_buttons_are_refused_in_a_group_and_for_others(harness: Harness) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    await h.register(UNCLE, "吴大爷", room="102")
    await h.order(aunt)
    await run_to_door(h, 1, WANG, GROUP_1, amount="10")
    await aunt.expect(lambda m: "pay:paid:1" in _data(m) and "o:ok:1" not in _data(m))
    # Another resident forging the press in his own chat: refused, nothing recorded.
    uncle = h.person(UNCLE)
    uncle.say("/me")
    own = await uncle.expect(lambda m: True)
    assert Z(payments.NOT_YOURS) in await _alert(uncle, own, "pay:paid:1")
    assert (await _order(h, 1)).paid_at is None
    # The runner's 已收到款 forged on a group message: refused before any handler.
    post = next(m for m in h.emu.messages(GROUP_1) if m["outgoing"])
    answer = await h.person(WANG).press_data(post, "pay:got:1", chat_id=GROUP_1, force=True)
    assert answer is not None and answer["show_alert"]
    assert (await _order(h, 1)).paid_confirmed_at is None

    # 已付款 from 📋 My orders: recorded; the card keeps its other buttons.
    aunt.say("/orders")
    detail = await aunt.expect(lambda m: "pay:paid:1" in _data(m))
    await aunt.press_data(detail, "pay:paid:1")
    await h.wait_edit(
        AUNT, detail["message_id"], lambda m: "pay:paid:1" not in _data(m) and "o:ok:1" in _data(m)
    )
    assert (await _order(h, 1)).paid_by == AUNT
