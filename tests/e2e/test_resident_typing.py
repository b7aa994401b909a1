"""What a resident types during an order is never lost (issue 15, point 2): free text or a
photo sent outside any conversation is offered to the volunteer ("发给志愿者？") and relayed
without phone numbers; with several orders she is asked which; for an order nobody has taken
yet it is kept, and its runner gets it when they take it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.services import resident_inputs
from bot.services.orders import transitions
from handlers import resident_input as ri
from models import OrderMessage, ResidentInput
from tests.factories import VOLUNTEERS_1, Harness, Person, Z, buttons, png, text_of

AUNT = 1001
RUNNER = VOLUNTEERS_1[0]  # 王刚
PHONE = "13800000000"
NOT_UNDERSTOOD = "I did not understand that. Please use the buttons below, or send /help."


async def _order(h: Harness, *, claim: bool) -> int:
    order_id = await h.order_by_service(AUNT, RUNNER if claim else None)
    await h.settle()
    return order_id


async def _people(h: Harness) -> tuple[Person, Person]:
    aunt = await h.register(AUNT, "周阿姨")
    wang = h.person(RUNNER)
    wang.say("/help")
    await h.settle()
    for p in (aunt, wang):
        p.seen = max([m["message_id"] for m in p.chat()] or [0])
    return aunt, wang


def _offer(kind: str) -> Any:
    """The offer message (its text from ``kind``) with li: buttons."""
    return lambda m: Z(kind) in text_of(m) and any(d.startswith("li:") for _, d in buttons(m))


async def _inputs(h: Harness) -> list[tuple[str | None, str | None, int | None]]:
    async with h.rt.db.read() as s:
        rows = await s.scalars(select(ResidentInput).order_by(ResidentInput.id))
        return [(r.text, r.outcome, r.order_id) for r in rows]


async def test_free_text_and_a_photo_during_a_claimed_order_go_to_the_volunteer(
    harness: Harness,
) -> None:
    h = harness
    aunt, wang = await _people(h)
    oid = await _order(h, claim=True)
    wang.seen = max(m["message_id"] for m in wang.chat())

    # She types to the bot as if to the volunteer: asked, not "I did not understand".
    aunt.say("鸡蛋要土鸡蛋，没有就算了")
    offer = await aunt.expect(_offer(ri.OFFER_ONE))
    assert "王刚" in text_of(offer) and f"#{oid}" in text_of(offer)
    assert Z(NOT_UNDERSTOOD) not in text_of(offer)
    send = next(d for _, d in buttons(offer) if d.startswith("li:to:"))
    assert send.endswith(f":{oid}")
    await aunt.press_data(offer, send)
    await h.wait_edit(AUNT, offer["message_id"], lambda m: "王刚" in text_of(m) and not buttons(m))
    got = await wang.expect("鸡蛋要土鸡蛋，没有就算了")
    assert "周阿姨" in text_of(got) and f"#{oid}" in text_of(got)
    assert buttons(got) == [(buttons(got)[0][0], f"m:to:{oid}")]  # he can reply
    assert PHONE not in text_of(got)

    # A second press of the same button sends nothing twice.
    again = await aunt.press_data(offer, send, force=True)
    assert again is not None and again["show_alert"]
    assert again["text"] == Z(resident_inputs.ALREADY)

    # A photo with a caption: the same offer, the photo itself reaches him.
    sent = h.emu.send_photo(AUNT, png(4, 4, (200, 0, 0)), caption="是这个牌子吗")
    offer = await aunt.expect(_offer(ri.OFFER_ONE))
    await aunt.press(offer, Z(ri.SEND_BUTTON))
    photo = await wang.expect("是这个牌子吗")
    assert photo["photo"][-1]["file_unique_id"] == sent["photo"][-1]["file_unique_id"]

    # A sticker: it cannot be passed on, and she is told so (not "I did not understand").
    h.emu.send_sticker(AUNT)
    await aunt.expect(Z(ri.ONLY_TEXT_OR_PHOTO))

    # "No": nothing is passed on, and she is told so.
    aunt.say("算了我自己问问")
    offer = await aunt.expect(_offer(ri.OFFER_ONE))
    await aunt.press(offer, Z(ri.NO_BUTTON))
    await h.wait_edit(AUNT, offer["message_id"], lambda m: Z(ri.DROPPED) in text_of(m))
    await h.settle()
    assert not any("算了我自己问问" in text_of(m) for m in wang.chat())

    assert await _inputs(h) == [
        ("鸡蛋要土鸡蛋，没有就算了", "relayed", oid),
        ("是这个牌子吗", "relayed", oid),
        ("算了我自己问问", "declined", None),
    ]
    async with h.rt.db.read() as s:
        kept = (await s.scalars(select(OrderMessage).order_by(OrderMessage.id))).all()
    assert [(m.sender_role, m.text, bool(m.photo), m.held) for m in kept] == [
        ("resident", "鸡蛋要土鸡蛋，没有就算了", False, False),
        ("resident", "是这个牌子吗", True, False),
    ]


async def test_free_text_for_an_order_nobody_has_taken_is_kept_for_its_runner(
    harness: Harness,
) -> None:
    h = harness
    aunt, wang = await _people(h)
    oid = await _order(h, claim=False)

    aunt.say("门口有狗，敲门轻一点")
    held = await aunt.expect(_offer(ri.HELD_ONE))
    assert f"#{oid}" in text_of(held)
    # Something she takes back is not passed on.
    aunt.say("我电话 13800000000 打我")
    taken_back = await aunt.expect(_offer(ri.HELD_ONE))
    await aunt.press(taken_back, Z(ri.TAKE_BACK))
    await h.wait_edit(AUNT, taken_back["message_id"], lambda m: Z(ri.DROPPED) in text_of(m))
    # A photo, kept too.
    h.emu.send_photo(AUNT, png(4, 4, (0, 200, 0)), caption="买这个")
    await aunt.expect(_offer(ri.HELD_ONE))
    async with h.rt.db.read() as s:
        held_rows = (await s.scalars(select(OrderMessage).where(OrderMessage.held))).all()
    assert sorted(m.text or "" for m in held_rows) == ["买这个", "门口有狗，敲门轻一点"]

    # The group never sees what she wrote; the runner gets it, in order, when he takes it.
    async with h.rt.db.session() as s:
        await transitions.claim(h.rt, s, oid, RUNNER)
    h.rt.wake_outbox()
    first = await wang.expect("门口有狗，敲门轻一点")
    assert "周阿姨" in text_of(first) and f"m:to:{oid}" in str(first["reply_markup"])
    second = await wang.expect("买这个")
    assert second.get("photo")
    await h.settle()
    assert not any("打我" in text_of(m) for m in wang.chat())
    async with h.rt.db.read() as s:
        assert not (await s.scalars(select(OrderMessage).where(OrderMessage.held))).all()


async def test_with_several_orders_she_is_asked_which(harness: Harness) -> None:
    h = harness
    aunt, wang = await _people(h)
    taken = await _order(h, claim=True)
    waiting = await _order(h, claim=False)

    aunt.say("麻烦快点")
    which = await aunt.expect(_offer(ri.OFFER_WHICH))
    labels = dict((d, t) for t, d in buttons(which))
    to_taken = next(d for d in labels if d.startswith("li:to:") and d.endswith(f":{taken}"))
    to_waiting = next(d for d in labels if d.startswith("li:to:") and d.endswith(f":{waiting}"))
    assert "王刚" in labels[to_taken]
    assert Z(ri.FOR_RUNNER) in labels[to_waiting]
    await aunt.press_data(which, to_waiting)
    await h.wait_edit(AUNT, which["message_id"], lambda m: Z(ri.KEPT) in text_of(m))
    await h.settle()
    assert not any("麻烦快点" in text_of(m) for m in wang.chat())

    aunt.say("到了给我发个消息")
    which = await aunt.expect(_offer(ri.OFFER_WHICH))
    await aunt.press_data(which, next(d for _, d in buttons(which) if d.endswith(f":{taken}")))
    await wang.expect("到了给我发个消息")
    assert [o for _, _, o in await _inputs(h)] == [waiting, taken]


async def test_without_an_order_the_hint_stays(harness: Harness) -> None:
    h = harness
    aunt, _wang = await _people(h)
    aunt.say("你好")
    await aunt.expect(Z(NOT_UNDERSTOOD))
    assert await h.count(ResidentInput) == 0
