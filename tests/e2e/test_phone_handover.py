"""A phone order whose taker leaves the staff is handed over by the sweep: to the person on the
spot who covers the household; the card, the call-back prompts and the buttons go to them, and
the one who left is told nothing more of the household and can no longer act on its order."""

from __future__ import annotations

from sqlalchemy import select

from bot.services import phone_handover, phone_orders
from bot.services import staff as staff_service
from models import AuditEntry, Order
from tests.e2e.test_phone_orders import COLLEAGUE, PHONE, add_colleague, fill_form, new_household
from tests.factories import GROUP_1, STAFF, VOLUNTEERS_1, Harness, Z, buttons, text_of


async def test_a_phone_order_whose_taker_left_is_handed_over(harness: Harness) -> None:
    h = harness
    await h.own_the_sweep()  # the test counts what its own sweep hands over
    colleague = await add_colleague(h)
    staff = h.person(STAFF)
    kinds = await new_household(h, staff)
    order_id = await fill_form(h, staff, kinds, "groceries")
    old_card = await h.card(order_id)
    assert old_card["chat"]["id"] == STAFF and buttons(old_card)

    # Still on the staff: nothing is handed over.
    assert (await h.sweep())["phone orders handed over"] == 0
    async with h.rt.db.session() as s:
        await staff_service.remove(s, h.rt.clock, None, telegram_id=STAFF)
    await h.settle()
    before = len(staff.chat())

    assert (await h.sweep())["phone orders handed over"] == 1
    async with h.rt.db.read() as s:
        o = await s.get(Order, order_id)
        assert o is not None and o.entered_by == COLLEAGUE
        audit = await s.scalar(
            select(AuditEntry).where(AuditEntry.action == "phone_order.handed_over")
        )
        assert audit is not None and audit.target == f"order:{order_id}"
    told = await colleague.expect(Z(phone_handover.HANDED_OVER).format(id=order_id))
    assert PHONE not in text_of(told)
    card = await h.card(order_id)
    assert card["chat"]["id"] == COLLEAGUE and "李奶奶" in text_of(card) and buttons(card)
    # The one who left: their old card loses its buttons, and a forged cancel does nothing.
    await h.wait_edit(STAFF, old_card["message_id"], lambda m: not buttons(m))
    cancel = next(d for _, d in buttons(card) if d.startswith("o:cancel:"))
    answer = await staff.press_data(old_card, cancel, force=True)
    assert answer is not None and answer["show_alert"]
    # A second sweep hands nothing over again.
    assert (await h.sweep())["phone orders handed over"] == 0

    # A volunteer takes it: the call-back prompt goes to the colleague, not the one who left.
    wang = h.person(VOLUNTEERS_1[0])
    wang.say("/help")
    post = await wang.expect_in(GROUP_1, f"#{order_id}")
    await wang.press(post, Z("🙋 I'll run it"))
    took = await colleague.expect(Z(phone_orders.CALL_BACK))
    assert "王刚" in text_of(took)
    await h.settle()
    after = [text_of(m) for m in staff.chat()[before:]]
    assert not [t for t in after if "李奶奶" in t or PHONE in t], after
