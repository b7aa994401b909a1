"""Payment, the loose ends of issue 15 point 7: the resident's ✅ 已付款 and the runner's
✅ 已收到款 are in the ledger's 操作记录 with people's names, and a resident who has not paid
is reminded once, kindly, `[delivery] unpaid_remind_hours` after delivery (with the amount,
the runner's payment code and ✅ 已付款); /unpaid shows who was reminded."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from bot.services import payments
from models import AuditEntry, Order
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

AUNT, UNCLE = 1001, 1002
WANG, LI = VOLUNTEERS_1[0], VOLUNTEERS_1[1]
REMINDER = Z(
    "🔔 {title}: a gentle reminder. {name} paid ¥{amount} for your order out of their own "
    "pocket and has not received it yet."
).split("{")[0]


def _data(msg: dict[str, Any]) -> list[str]:
    return [d for _, d in buttons(msg)]


async def _talking(h: Harness, user_id: int, name: str) -> Person:
    p = h.person(user_id, name)
    p.say("/help")
    await p.expect(lambda m: True)
    return p


async def _audit_sheet(h: Harness, boss: Person) -> list[tuple[Any, ...]]:
    """The rows of 操作记录 in today's ledger, as the community staff export it."""
    today = h.rt.today().isoformat()
    before = sum(1 for m in h.emu.messages(STAFF) if m["outgoing"] and m.get("document"))
    boss.say(f"/export {today} {today}")
    await boss.expect(lambda m: str(m.get("document", {}).get("file_name", "")).endswith(".csv"))
    docs = [m for m in h.emu.messages(STAFF) if m["outgoing"] and m.get("document")]
    xlsx = next(m for m in docs[before:] if m["document"]["file_name"].endswith(".xlsx"))
    wb = load_workbook(io.BytesIO(h.emu.file_bytes(xlsx["document"]["file_id"])))
    return list(wb["操作记录"].iter_rows(min_row=2, values_only=True))


async def test_the_payment_presses_are_in_the_ledger_with_names(harness: Harness) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    wang = await _talking(h, WANG, "王刚")
    boss = await _talking(h, STAFF, "赵书记")  # community staff: the ledger of their scope
    await h.order(aunt)
    await run_to_door(h, 1, WANG, GROUP_1, amount="42.5")
    ask_pay = await aunt.expect(lambda m: "pay:paid:1" in _data(m))
    await aunt.press_data(ask_pay, "pay:paid:1")
    says_paid = Z(
        "💰 {title}: the resident says they have paid you ¥{amount}. Please check, then "
        "press “Money received”."
    )
    told = await wang.expect(lambda m: says_paid in text_of(m) and "pay:got:1" in _data(m))
    await wang.press_data(told, "pay:got:1")
    await aunt.expect(Z("✅ {name} has received your ¥{amount} for {title}. Thank you!"))
    async with h.rt.db.read() as s:
        actions = [
            (a.actor_telegram_id, a.action, a.target)
            for a in await s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert (AUNT, "payment.paid", "order:1") in actions
    assert (WANG, "payment.received", "order:1") in actions

    rows = await _audit_sheet(h, boss)
    # When, by, Telegram id, action, target, details: in words, with people's names.
    paid = next(r for r in rows if r[3] == "居民确认已付款")
    assert (paid[1], paid[2], paid[4]) == ("周阿姨", AUNT, "订单 #1")
    assert "金额（元）：42.50" in paid[5] and "志愿者：王刚" in paid[5]
    got = next(r for r in rows if r[3] == "志愿者确认已收到款")
    assert (got[1], got[2], got[4]) == ("王刚", WANG, "订单 #1")
    assert not any("payment." in str(c) or "order:" in str(c) for r in rows for c in r)


async def test_an_unpaid_resident_is_reminded_once(harness: Harness) -> None:
    h = harness
    assert h.rt.settings.delivery.unpaid_remind_hours == 12
    aunt = await h.register(AUNT, "周阿姨")
    uncle = await h.register(UNCLE, "吴大爷", room="102")
    wang = await _talking(h, WANG, "王刚")
    boss = await _talking(h, STAFF, "赵书记")
    # 王刚 keeps a payment code; 周阿姨 owes him ¥42.50, 吴大爷 pays his ¥20 at once.
    wang.say("/payqr")
    await wang.expect(lambda m: "pq:stop" in _data(m))
    qr = h.emu.send_photo(WANG, b"\x89PNG wechat pay code of wang")
    await wang.expect(lambda m: m["message_id"] > qr["message_id"])
    await h.order(aunt)
    await run_to_door(h, 1, WANG, GROUP_1, amount="42.5")
    await h.order(uncle)
    await run_to_door(h, 2, WANG, GROUP_1, amount="20")
    paid = await uncle.expect(lambda m: "pay:paid:2" in _data(m))
    await uncle.press_data(paid, "pay:paid:2")
    await h.settle()

    # Not before the time.
    h.advance(hours=11, minutes=50)
    assert (await h.sweep())["payment reminders"] == 0
    assert not any(REMINDER in text_of(m) for m in aunt.chat())

    # Then once, however many sweeps (or instances) run at the same moment.
    h.advance(minutes=15)
    fired = await asyncio.gather(*(payments.remind_due(h.rt) for _ in range(3)))
    assert sum(fired) == 1
    h.rt.wake_outbox()
    reminded = await aunt.expect(REMINDER)
    assert "¥42.50" in text_of(reminded) and "王刚" in text_of(reminded)
    assert "扫描图中的收款码" in text_of(reminded)
    assert reminded["photo"][-1]["file_unique_id"] == qr["photo"][-1]["file_unique_id"]
    assert buttons(reminded) == [("✅ 已付款", "pay:paid:1")]
    h.advance(hours=24)
    assert (await h.sweep())["payment reminders"] == 0
    assert sum(REMINDER in text_of(m) for m in aunt.chat()) == 1
    # 吴大爷 said he paid: never reminded.
    assert not any(REMINDER in text_of(m) for m in uncle.chat())
    async with h.rt.db.read() as s:
        reminded_at = {o.id: o.pay_reminded_at for o in await s.scalars(select(Order))}
    assert reminded_at[1] is not None and reminded_at[2] is None

    # Staff see who was reminded.
    boss.say("/unpaid")
    listed = await boss.expect(lambda m: "#1 " in text_of(m) and "¥42.50" in text_of(m))
    line = next(x for x in text_of(listed).split("\n") if "#1 " in x)
    assert "居民未付款，已于" in line and "🔔 提醒" in line
    assert "周阿姨" not in text_of(listed)

    # The reminder's ✅ 已付款 works.
    await aunt.press_data(reminded, "pay:paid:1")
    await aunt.expect(
        Z("✅ Noted: you paid ¥{amount} for {title}. {name} will confirm receiving it.")
    )
    async with h.rt.db.read() as s:
        assert (await s.get(Order, 1)).paid_by == AUNT  # type: ignore[union-attr]
