"""The relay from each user's side: the resident and the runner write to each other through the
bot, text and photos, while the order is under way; staff read it with /relay."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.buttons import relay_action
from bot.errors import STALE
from bot.i18n import gettext_for, local_time
from bot.services import relay
from bot.services.orders import resident_moves, transitions
from handlers import relay as relay_handlers
from handlers.resident_input import OFFER_ONE
from models import OrderMessage
from tests.factories import (
    STAFF,
    VOLUNTEERS_1,
    Harness,
    Person,
    Z,
    buttons,
    door_photo,
    text_of,
)

AUNT = 1001
RUNNER = VOLUNTEERS_1[0]  # 王刚
_ZH = gettext_for("zh_CN")
NOT_UNDERSTOOD = "I did not understand that. Please use the buttons below, or send /help."


def L(msgid: str, **params: Any) -> str:
    """What a zh_CN reader sees for ``msgid``: the translation once there is one, else the
    English source (new strings are translated after they are written)."""
    return _ZH(msgid).format(**params) if params else _ZH(msgid)


def has_button(data: str) -> Any:
    return lambda m: any(d == data for _, d in buttons(m))


async def _order(h: Harness, *, claim: bool = True) -> int:
    """周阿姨 orders groceries through the service (the chat flow has its own tests); 王刚, who
    has a private chat with the bot, takes it unless ``claim`` is False."""
    return await h.order_by_service(AUNT, RUNNER if claim else None)


async def _claimed(h: Harness) -> tuple[Person, Person, dict[str, Any], dict[str, Any]]:
    """A claimed order #1: the resident's status message and the runner's card, each with
    its 💬 button."""
    aunt = await h.register(AUNT, "周阿姨")
    wang = h.person(RUNNER)
    wang.say("/help")
    await _order(h)
    took = await aunt.expect(has_button(relay_action(1)))
    card = await wang.expect(has_button(relay_action(1)))
    return aunt, wang, took, card


async def _open_relay(p: Person, msg: dict[str, Any], prompt: str) -> None:
    answer = await p.press_data(msg, relay_action(1))
    assert answer is not None and not answer["show_alert"]
    await p.expect(prompt)


async def test_resident_and_runner_write_to_each_other(harness: Harness) -> None:
    h = harness
    aunt, wang, took, card = await _claimed(h)
    assert any("💬" in label for label, _ in buttons(took))

    # The resident asks; the runner reads it with who and which order, and a reply button.
    await _open_relay(aunt, took, L(relay_handlers.PROMPT["resident"]))
    aunt.say("鸡蛋要土鸡蛋，没有就算了")
    await aunt.expect(L(relay_handlers.SENT))
    got = await wang.expect("鸡蛋要土鸡蛋，没有就算了")
    assert "周阿姨" in text_of(got) and "#1" in text_of(got)
    assert buttons(got) == [(L(relay.REPLY), relay_action(1))]

    # The runner answers with a photo and a caption, through the reply button.
    await _open_relay(wang, got, L(relay_handlers.PROMPT["volunteer"]))
    sent = h.emu.send_photo(RUNNER, b"\x89PNG eggs on the shelf", caption="只有这种，可以吗？")
    await wang.expect(L(relay_handlers.SENT))
    photo = await aunt.expect("只有这种，可以吗？")
    assert photo.get("photo"), photo
    assert photo["photo"][-1]["file_unique_id"] == sent["photo"][-1]["file_unique_id"]
    assert "王刚" in text_of(photo) and "#1" in text_of(photo)
    assert "13800000000" not in text_of(got) + text_of(photo)  # no numbers change hands

    # The reply button under the photo works for the resident too.
    await _open_relay(aunt, photo, L(relay_handlers.PROMPT["resident"]))
    aunt.say("可以")
    await aunt.expect(L(relay_handlers.SENT))
    await wang.expect(lambda m: text_of(m).endswith("\n可以"))

    # Delivered: still open ("where did you leave it?"), from the card's button.
    async with h.rt.db.session() as s:
        for verb in ("buy", "go"):
            await transitions.advance(h.rt, s, 1, RUNNER, verb)
        await transitions.deliver(h.rt, s, 1, RUNNER, door_photo(h), 0)
    h.rt.wake_outbox()
    await _open_relay(wang, card, L(relay_handlers.PROMPT["volunteer"]))
    wang.say("放在门口鞋柜上了")
    await aunt.expect("放在门口鞋柜上了")

    async with h.rt.db.read() as s:
        kept = (await s.scalars(select(OrderMessage).order_by(OrderMessage.id))).all()
    assert [(m.sender_role, m.text, bool(m.photo)) for m in kept] == [
        ("resident", "鸡蛋要土鸡蛋，没有就算了", False),
        ("volunteer", "只有这种，可以吗？", True),
        ("resident", "可以", False),
        ("volunteer", "放在门口鞋柜上了", False),
    ]


async def test_the_relay_is_refused_when_there_is_nobody_or_it_is_over(harness: Harness) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    wang = h.person(RUNNER)
    wang.say("/help")
    stranger = await h.register(1002, "吴大爷", room="102")
    await _order(h, claim=False)
    await h.settle()
    mine = aunt.chat()[-1]

    # Nobody took it yet: there is no button, and a forged one is refused.
    answer = await aunt.press_data(mine, relay_action(1), force=True)
    assert answer is not None and answer["show_alert"]
    assert answer["text"] == L(relay.NOBODY_YET, id=1)

    async with h.rt.db.session() as s:
        await transitions.claim(h.rt, s, 1, RUNNER)
    h.rt.wake_outbox()
    took = await aunt.expect(has_button(relay_action(1)))
    card = await wang.expect(has_button(relay_action(1)))

    # Someone else's order: a forged button gets an alert, and no conversation starts.
    answer = await stranger.press_data(stranger.chat()[-1], relay_action(1), force=True)
    assert answer is not None and answer["show_alert"]
    assert answer["text"] == L(relay.NOT_YOURS, id=1)
    stranger.say("我也想说两句")
    await stranger.expect(Z(NOT_UNDERSTOOD))

    # Received: the conversation is closed, for both.
    async with h.rt.db.session() as s:
        for verb in ("buy", "go"):
            await transitions.advance(h.rt, s, 1, RUNNER, verb)
        await transitions.deliver(h.rt, s, 1, RUNNER, door_photo(h), 0)
        await resident_moves.confirm_receipt(h.rt, s, 1, AUNT)
    for p, msg in ((aunt, took), (wang, card)):
        answer = await p.press_data(msg, relay_action(1), force=True)
        assert answer is not None and answer["show_alert"]
        assert answer["text"] == L(relay.CLOSED, id=1)

    # Cancelled: closed as well.
    order_id = await _order(h)
    took = await aunt.expect(has_button(relay_action(order_id)))
    async with h.rt.db.session() as s:
        await resident_moves.cancel_by_resident(h.rt, s, order_id, AUNT)
    answer = await aunt.press_data(took, relay_action(order_id))
    assert answer is not None and answer["text"] == L(relay.CLOSED, id=order_id)

    await h.settle()
    assert await h.count(OrderMessage) == 0
    assert not any("我也想说两句" in text_of(m) for m in wang.chat() + aunt.chat())


async def test_bad_input_keeps_the_relay_waiting_and_cancel_stops_it(harness: Harness) -> None:
    h = harness
    limit = h.rt.settings.limits.max_text_length
    aunt, wang, took, _card = await _claimed(h)

    await _open_relay(aunt, took, L(relay_handlers.PROMPT["resident"]))
    aunt.say("长" * (limit + 1))
    await aunt.expect(L(relay.TOO_LONG, n=limit + 1, limit=limit))
    h.emu.send_sticker(AUNT)
    await aunt.expect(L(relay_handlers.ONLY_TEXT_OR_PHOTO))
    # Other buttons still work in the middle of it (here: the order's details); an unknown
    # relay button is refused; the relay keeps waiting through both.
    answer = await aunt.press_data(took, "o:detail:1", force=True)
    assert answer is not None and answer["text"] != L(STALE)
    # (an old message's button: the order's card comes anew, the old one loses its buttons)
    took = await h.card(1, lambda m: m["message_id"] > took["message_id"])
    answer = await aunt.press_data(took, "m:zz:1", force=True)
    assert answer is not None and answer["text"] == L(STALE)
    aunt.say("麻烦快一点")
    await aunt.expect(L(relay_handlers.SENT))
    await wang.expect("麻烦快一点")

    # /cancel stops without sending; what is typed afterwards is only offered to the runner
    # ("send this to 王刚?"), not passed on unasked.
    await _open_relay(aunt, took, L(relay_handlers.PROMPT["resident"]))
    aunt.say("/cancel")
    await aunt.expect(L(relay_handlers.STOPPED))
    aunt.say("算了不要了")
    await aunt.expect(Z(OFFER_ONE))
    await h.settle()
    assert not any("算了不要了" in text_of(m) for m in wang.chat())
    assert await h.count(OrderMessage) == 1


async def test_staff_read_the_thread_and_residents_cannot(harness: Harness) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    h.person(RUNNER).say("/help")
    await _order(h)
    async with h.rt.db.session() as s:
        await relay.send(h.rt, s, 1, AUNT, text="在吗")
        await relay.send(h.rt, s, 1, RUNNER, text="在，马上到", photo=None)
    async with h.rt.db.read() as s:
        first = await s.scalar(select(OrderMessage).order_by(OrderMessage.id))
    assert first is not None

    boss = h.person(STAFF)
    boss.say("/relay 1")
    thread = text_of(await boss.expect("在吗"))
    assert "#1" in thread
    assert local_time(first.at, h.rt.timezone, "%m-%d %H:%M") + " 周阿姨" in thread
    assert (
        thread.index("周阿姨")
        < thread.index("在吗")
        < thread.index("王刚")
        < thread.index("马上到")
    )

    for bad in ("/relay", "/relay abc", "/relay 1 2"):
        boss.say(bad)
        await boss.expect(L(relay_handlers.USAGE))
    boss.say("/relay 99")
    await boss.expect(L(relay.NO_ORDER))

    aunt.say("/relay 1")
    await aunt.expect(L(relay.NOT_IN_CHARGE, id=1))
