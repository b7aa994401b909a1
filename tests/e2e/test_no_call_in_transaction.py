"""DESIGN rule 11: no Telegram call while a write transaction is open (issue 11 point 13).

Every end-to-end test is guarded (the harness fails a test in which any handler called
Telegram inside ``unit_of_work``); these tests check the guard itself and the handlers that
broke it: the resident's order buttons and the 👤 screens."""

from __future__ import annotations

from sqlalchemy import select

from bot.services import care_flags
from handlers.transport import CALLS_IN_TRANSACTION
from models import CareFlag, Order, Resident
from tests.factories import Harness, Z, text_of


async def test_a_telegram_call_inside_a_write_transaction_is_caught(harness: Harness) -> None:
    h = harness
    await h.service.app.bot.get_me()  # outside: fine
    assert CALLS_IN_TRANSACTION == []
    async with h.rt.db.session():
        await h.service.app.bot.get_me()
    async with h.rt.db.read():  # a read holds no writer lock
        await h.service.app.bot.get_me()
    assert [c.split(" ")[0] for c in CALLS_IN_TRANSACTION] == ["getMe"]
    CALLS_IN_TRANSACTION.clear()  # caught as it should be: not a failure of this test


async def test_resident_is_told_cancelled_only_after_the_commit(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    await h.order(aunt)
    await h.settle()
    aunt.say("/orders")
    mine = await aunt.expect(lambda m: "o:cancel:1" in str(m.get("reply_markup")))
    await aunt.press(mine, Z("Cancel this order"))
    sure = await aunt.expect(lambda m: "o:cxl:1:open" in str(m.get("reply_markup")))
    said = await aunt.press(sure, Z("Yes, cancel it"))
    assert said is not None and said["text"] == Z("Cancelled.")
    await h.wait_edit(1001, sure["message_id"], lambda m: "#1" in text_of(m))
    await h.wait_edit(1001, mine["message_id"], lambda m: "o:again:1" in str(m.get("reply_markup")))
    await h.settle()
    async with h.rt.db.read() as s:
        order = await s.scalar(select(Order))
    assert order is not None and order.status == "cancelled"
    assert CALLS_IN_TRANSACTION == []


async def test_my_info_buttons_answer_after_the_commit(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    aunt.say("/me")
    me = await aunt.expect(lambda m: "r:edit" in str(m.get("reply_markup")))
    await aunt.press_data(me, "p:care")
    care = await h.wait_edit(
        1001, me["message_id"], lambda m: "p:care:elderly_alone" in str(m.get("reply_markup"))
    )
    await aunt.press_data(care, "p:care:elderly_alone")
    await h.wait_edit(1001, me["message_id"], lambda m: "☑️" in str(m.get("reply_markup")))
    await aunt.press_data(care, "p:me")
    back = await h.wait_edit(
        1001, me["message_id"], lambda m: "p:list" in str(m.get("reply_markup"))
    )
    await aunt.press_data(back, "p:list")
    await h.wait_edit(1001, me["message_id"], lambda m: "r:add" in str(m.get("reply_markup")))
    await h.settle()
    async with h.rt.db.read() as s:
        res = await s.scalar(select(Resident))
    assert res is not None
    async with h.rt.db.read() as s:
        assert await care_flags.declared(s, res) == {CareFlag.ELDERLY_ALONE}
    assert CALLS_IN_TRANSACTION == []
