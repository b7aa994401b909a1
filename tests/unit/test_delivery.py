"""Proof of delivery without Telegram: the amount parser, and `deliver` writing the proof in
the one conditional UPDATE that marks the task delivered."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.errors import Refused
from bot.i18n import gettext_for
from bot.runtime import Runtime
from bot.services import amounts, directory, residents
from bot.services.orders import drafts, resident_moves, transitions
from models import Order, OrderEvent, OutboxKind, OutboxMessage
from tests.conftest import make_settings
from tests.factories import ANSWERS, VOLUNTEERS_1

AUNT = 1001
RUNNER, OTHER = VOLUNTEERS_1[0], VOLUNTEERS_1[1]
_ZH = gettext_for("zh_CN")


@pytest.mark.parametrize(
    ("typed", "fen"),
    [
        ("35", 3500),
        ("35.5", 3550),
        ("35.50", 3550),
        ("¥35.50", 3550),
        ("￥ 35.5", 3550),
        ("35元", 3500),
        ("35 块钱", 3500),
        ("RMB 12.3", 1230),
        ("３５．５", 3550),
        ("３５元", 3500),
        (" 0 ", 0),
        ("0.05", 5),
        (".5", 50),
        ("1,200.50", 120050),
        ("20000", amounts.MAX_FEN),
        # Said as people say it: Chinese numerals, and words around the number.
        ("三十五", 3500),
        ("八十块", 8000),
        ("一百五", 15000),  # 150, as said aloud
        ("两千", 200000),
        ("三百零五元", 30500),
        ("大概80块钱左右", 8000),
        ("最多一百", 10000),
    ],
)
def test_amounts_are_read_as_fen(typed: str, fen: int) -> None:
    assert amounts.parse_fen(typed) == fen


@pytest.mark.parametrize(
    ("typed", "refusal"),
    [
        ("", amounts.NOT_AN_AMOUNT),
        ("abc", amounts.NOT_AN_AMOUNT),
        ("五五", amounts.NOT_AN_AMOUNT),  # two digits in a row: no number said aloud
        ("35.5.5", amounts.NOT_AN_AMOUNT),
        ("1e3", amounts.NOT_AN_AMOUNT),
        ("nan", amounts.NOT_AN_AMOUNT),
        ("12,34", amounts.NOT_AN_AMOUNT),
        ("1" * 40, amounts.NOT_AN_AMOUNT),
        ("-5", amounts.NEGATIVE),
        ("¥-5", amounts.NEGATIVE),
        ("－5", amounts.NEGATIVE),  # full-width minus
        ("35.555", amounts.TOO_PRECISE),
        ("20000.01", amounts.TOO_MUCH),
        ("99999", amounts.TOO_MUCH),
    ],
)
def test_bad_amounts_are_refused_with_what_to_type(typed: str, refusal: str) -> None:
    with pytest.raises(Refused) as e:
        amounts.parse_fen(typed)
    assert e.value.message == refusal
    assert e.value.render(_ZH)  # every refusal renders, with its parameters


def test_fen_are_shown_as_yuan() -> None:
    assert [amounts.yuan(f) for f in (0, 5, 3550, 120050)] == ["0.00", "0.05", "35.50", "1,200.50"]


async def _on_the_way(rt: Runtime) -> int:
    async with rt.db.session() as s:
        b = await directory.building_by_code(s, "xf2")
        assert b is not None
        await residents.register(
            s,
            rt.clock,
            telegram_id=AUNT,
            name="周阿姨",
            phone="13800001001",
            building_id=b.id,
            unit="3",
            room="502",
        )
        d = await drafts.start_draft(rt, s, AUNT, category="groceries")
        await drafts.update_draft(rt, s, d.id, AUNT, urgency="today", **ANSWERS["groceries"])
        order_id = (await drafts.submit_draft(rt, s, d.id, AUNT)).order.id
    async with rt.db.session() as s:
        await transitions.claim(rt, s, order_id, RUNNER)
        for verb in ("buy", "go"):
            await transitions.advance(rt, s, order_id, RUNNER, verb)
    return order_id


async def _order(rt: Runtime, order_id: int) -> Order:
    async with rt.db.read() as s:
        o = await s.get(Order, order_id)
    assert o is not None
    return o


async def _to_aunt(rt: Runtime) -> list[OutboxMessage]:
    async with rt.db.read() as s:
        rows = await s.scalars(
            select(OutboxMessage).where(OutboxMessage.chat_id == AUNT).order_by(OutboxMessage.id)
        )
        return list(rows)


async def _unchanged(rt: Runtime, order_id: int, status: str = "delivering") -> None:
    o = await _order(rt, order_id)
    assert (o.status, o.doorstep_photo, o.amount_spent_fen, o.receipt_photo, o.delivered_at) == (
        status,
        None,
        None,
        None,
        None,
    )
    async with rt.db.read() as s:
        delivered = await s.scalars(select(OrderEvent).where(OrderEvent.to_status == "delivered"))
        assert list(delivered) == []


async def test_deliver_writes_the_proof_and_tells_the_resident_at_once(rt: Runtime) -> None:
    order_id = await _on_the_way(rt)
    before = len(await _to_aunt(rt))
    async with rt.db.read() as s:
        need = await transitions.proof_needed(rt, s, order_id, RUNNER)
    assert (need.doorstep_photo, need.amount, need.any) == (True, True, True)

    async with rt.db.session() as s:
        v = await transitions.deliver(rt, s, order_id, RUNNER, "door-1", 3550, "receipt-1")
    assert (v.status, v.amount_spent_fen, v.doorstep_photo, v.receipt_photo) == (
        "delivered",
        3550,
        "door-1",
        "receipt-1",
    )
    o = await _order(rt, order_id)
    assert (o.status, o.doorstep_photo, o.amount_spent_fen, o.receipt_photo) == (
        "delivered",
        "door-1",
        3550,
        "receipt-1",
    )
    assert o.delivered_at is not None
    # In the same transaction: the two photos, the old card's buttons taken off and the live
    # card sent anew below them (what was spent, where the payment stands, with Received and I
    # have paid), a short notice without buttons, then whom to pay and how, with "I have
    # paid" (the runner keeps no QR code: no picture).
    told = (await _to_aunt(rt))[before:]
    assert [(m.kind, m.media, m.photo, m.text == "") for m in told] == [
        (OutboxKind.SEND, "photo", "door-1", False),
        (OutboxKind.SEND, "photo", "receipt-1", False),
        (OutboxKind.EDIT, None, None, True),
        (OutboxKind.SEND, None, None, False),
        (OutboxKind.SEND, None, None, False),
        (OutboxKind.SEND, None, None, False),
    ]
    assert told[2].buttons is None and told[2].edit_of is not None  # the old card's go
    assert all("花费 ¥35.50" in m.text for m in told[3:5])
    paid = [{"text": "✅ 已付款", "data": f"pay:paid:{order_id}"}]
    assert told[3].buttons is not None
    assert told[3].buttons[0] == [{"text": _ZH("✅ Received"), "data": f"o:ok:{order_id}"}]
    assert paid in told[3].buttons
    assert told[4].buttons is None
    assert "¥35.50" in told[5].text and told[5].buttons == [paid]

    # Once delivered, a second press (or a redelivered update) changes nothing.
    async with rt.db.session() as s:
        with pytest.raises(Refused) as e:
            await transitions.deliver(rt, s, order_id, RUNNER, "door-2", 100, None)
    assert e.value.message == "Order #{id} has moved on; this button is out of date."
    assert (await _order(rt, order_id)).doorstep_photo == "door-1"
    assert len(await _to_aunt(rt)) == before + 6


async def test_deliver_refuses_missing_proof_strangers_and_cancelled_tasks(rt: Runtime) -> None:
    order_id = await _on_the_way(rt)
    cases = [
        (RUNNER, {}, transitions.NEED_DOORSTEP_PHOTO),
        (RUNNER, {"doorstep_photo": "door"}, transitions.NEED_AMOUNT),
        (RUNNER, {"doorstep_photo": "door", "amount_fen": -1}, transitions.BAD_AMOUNT),
        (
            RUNNER,
            {"doorstep_photo": "door", "amount_fen": amounts.MAX_FEN + 1},
            transitions.BAD_AMOUNT,
        ),
        (
            OTHER,
            {"doorstep_photo": "door", "amount_fen": 0},
            "Only the volunteer running this task can do that.",
        ),
        (
            AUNT,
            {"doorstep_photo": "d", "amount_fen": 0},
            "Only the volunteer running this task can do that.",
        ),
    ]
    for who, proof, refusal in cases:
        async with rt.db.session() as s:
            with pytest.raises(Refused) as e:
                await transitions.deliver(rt, s, order_id, who, **proof)
        assert e.value.message == refusal, (who, proof)
    async with rt.db.read() as s:
        with pytest.raises(Refused):
            await transitions.proof_needed(rt, s, order_id, OTHER)
    # Without the proof the config asks for, 📦's old path refuses too.
    async with rt.db.session() as s:
        with pytest.raises(Refused) as e:
            await transitions.advance(rt, s, order_id, RUNNER, "done")
    assert e.value.message == transitions.NEED_DOORSTEP_PHOTO
    await _unchanged(rt, order_id)

    # The resident cancels meanwhile: the proof is refused and nothing is half-written.
    async with rt.db.session() as s:
        await resident_moves.cancel_by_resident(rt, s, order_id, AUNT)
    async with rt.db.read() as s:
        with pytest.raises(Refused):
            await transitions.proof_needed(rt, s, order_id, RUNNER)
    async with rt.db.session() as s:
        with pytest.raises(Refused) as e:
            await transitions.deliver(rt, s, order_id, RUNNER, "door", 1200, "receipt")
    assert (e.value.message, e.value.params) == ("Order #{id} was cancelled.", {"id": order_id})
    await _unchanged(rt, order_id, "cancelled")


async def test_with_no_proof_configured_delivered_is_at_once(
    rt: Runtime, database_url: str
) -> None:
    order_id = await _on_the_way(rt)
    rt.settings = make_settings(
        database_url, delivery={"doorstep_photo": False, "ask_amount": False}
    )
    async with rt.db.read() as s:
        assert not (await transitions.proof_needed(rt, s, order_id, RUNNER)).any
    async with rt.db.session() as s:
        v = await transitions.advance(rt, s, order_id, RUNNER, "done")
    assert (v.status, v.doorstep_photo, v.amount_spent_fen) == ("delivered", None, None)
    told = await _to_aunt(rt)
    assert told[-1].media is None and "¥" not in told[-1].text
    assert not any(m.media == "photo" for m in told)
