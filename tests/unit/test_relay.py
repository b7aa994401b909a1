"""The relay service on a real SQLite file, without Telegram."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import limits
from bot.buttons import Button, from_json, relay_action
from bot.errors import Refused
from bot.runtime import Runtime
from bot.services import directory, people, relay, residents
from bot.services.orders import drafts, resident_moves, transitions
from models import Community, Grid, OrderMessage, OutboxMessage, Staff, StaffRole
from tests.factories import ANSWERS, STAFF, VOLUNTEERS_1, VOLUNTEERS_2

AUNT = 1001
RUNNER = VOLUNTEERS_1[0]  # 王刚


async def _order(rt: Runtime, *, claimed: bool = True) -> int:
    """周阿姨 orders medicine (grid 1); 王刚 takes it unless ``claimed`` is False."""
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
        d = await drafts.start_draft(rt, s, AUNT)
        await drafts.update_draft(
            rt, s, d.id, AUNT, category="medicine", urgency="today", **ANSWERS["medicine"]
        )
        order_id = (await drafts.submit_draft(rt, s, d.id, AUNT)).order.id
        if claimed:
            await transitions.claim(rt, s, order_id, RUNNER)
    return order_id


async def _refusal(rt: Runtime, order_id: int, telegram_id: int) -> Refused:
    async with rt.db.read() as s:
        with pytest.raises(Refused) as e:
            await relay.can_message(s, order_id, telegram_id)
    return e.value


async def _relayed(rt: Runtime, chat_id: int) -> list[OutboxMessage]:
    async with rt.db.read() as s:
        rows = await s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.chat_id == chat_id, OutboxMessage.text.contains("💬"))
            .order_by(OutboxMessage.id)
        )
        return list(rows)


async def test_who_may_write_and_when(rt: Runtime) -> None:
    order_id = await _order(rt)
    async with rt.db.read() as s:
        v, role = await relay.can_message(s, order_id, AUNT)
        assert (v.id, role) == (order_id, "resident")
        _, role = await relay.can_message(s, order_id, RUNNER)
        assert role == "volunteer"

    for stranger in (1002, VOLUNTEERS_1[1], VOLUNTEERS_2[0], STAFF):
        e = await _refusal(rt, order_id, stranger)
        assert (e.message, e.params) == (relay.NOT_YOURS, {"id": order_id})
    assert (await _refusal(rt, 999, AUNT)).message == relay.NO_ORDER

    # Still open at the door ("where did you leave it?"); closed once received.
    async with rt.db.session() as s:
        for verb in ("buy", "go"):
            await transitions.advance(rt, s, order_id, RUNNER, verb)
        await transitions.deliver(rt, s, order_id, RUNNER, "door.jpg", 0)
    async with rt.db.read() as s:
        await relay.can_message(s, order_id, AUNT)
        await relay.can_message(s, order_id, RUNNER)
    async with rt.db.session() as s:
        await resident_moves.confirm_receipt(rt, s, order_id, AUNT)
    for who in (AUNT, RUNNER):
        e = await _refusal(rt, order_id, who)
        assert (e.message, e.params) == (relay.CLOSED, {"id": order_id})


async def test_nobody_to_write_to_before_a_claim_and_after_a_release_or_cancel(
    rt: Runtime,
) -> None:
    order_id = await _order(rt, claimed=False)
    e = await _refusal(rt, order_id, AUNT)
    assert (e.message, e.params) == (relay.NOBODY_YET, {"id": order_id})

    async with rt.db.session() as s:
        await transitions.claim(rt, s, order_id, RUNNER)
        await transitions.release(rt, s, order_id, RUNNER, "busy")
    assert (await _refusal(rt, order_id, AUNT)).message == relay.NOBODY_YET
    assert (await _refusal(rt, order_id, RUNNER)).message == relay.NOT_YOURS  # not theirs now

    async with rt.db.session() as s:
        await transitions.claim(rt, s, order_id, VOLUNTEERS_1[1])
        await resident_moves.cancel_by_resident(rt, s, order_id, AUNT)
    for who in (AUNT, VOLUNTEERS_1[1]):
        assert (await _refusal(rt, order_id, who)).message == relay.CLOSED


async def test_send_keeps_the_message_and_owes_it_to_the_other_party(rt: Runtime) -> None:
    order_id = await _order(rt)
    async with rt.db.session() as s:
        await relay.send(rt, s, order_id, AUNT, text="  布洛芬没有的话，对乙酰氨基酚也行  ")
        await relay.send(rt, s, order_id, RUNNER, text="好的", photo="PHOTO-FILE-ID")
        await relay.send(rt, s, order_id, RUNNER, photo="PHOTO-2")

    [to_runner] = await _relayed(rt, RUNNER)
    assert to_runner.text.startswith("💬 周阿姨 ")  # the resident's contact name
    assert f"#{order_id}" in to_runner.text
    assert to_runner.text.endswith("\n布洛芬没有的话，对乙酰氨基酚也行")
    assert to_runner.photo is None
    [[reply]] = from_json(to_runner.buttons) or [[]]
    assert reply.data == relay_action(order_id)

    with_caption, photo_only = await _relayed(rt, AUNT)
    assert with_caption.text.startswith("💬 王刚 ")  # the runner's first name
    assert with_caption.text.endswith("\n好的")
    assert (with_caption.photo, with_caption.media) == ("PHOTO-FILE-ID", "photo")
    assert photo_only.photo == "PHOTO-2" and not photo_only.text.endswith("\n")

    async with rt.db.read() as s:
        stored = (await s.scalars(select(OrderMessage).order_by(OrderMessage.id))).all()
    assert [(m.sender_role, m.sender_telegram_id, m.text, m.photo) for m in stored] == [
        ("resident", AUNT, "布洛芬没有的话，对乙酰氨基酚也行", None),
        ("volunteer", RUNNER, "好的", "PHOTO-FILE-ID"),
        ("volunteer", RUNNER, None, "PHOTO-2"),
    ]


async def test_the_message_is_in_the_readers_language(rt: Runtime) -> None:
    order_id = await _order(rt)
    async with rt.db.session() as s:
        await people.set_language(s, rt.clock, RUNNER, "en")
        await relay.send(rt, s, order_id, AUNT, text="谢谢")
    [msg] = await _relayed(rt, RUNNER)
    assert msg.text == f"💬 周阿姨 about 💊 #{order_id} Medicine:\n谢谢"
    assert from_json(msg.buttons) == [[Button("↩️ Reply", relay_action(order_id))]]


async def test_empty_and_too_long_messages_are_refused(rt: Runtime) -> None:
    order_id = await _order(rt)
    limit = rt.settings.limits.max_text_length
    async with rt.db.session() as s:
        with pytest.raises(Refused) as e:
            await relay.send(rt, s, order_id, AUNT, text="   ")
        assert e.value.message == relay.EMPTY
        with pytest.raises(Refused) as e:
            await relay.send(rt, s, order_id, AUNT, text="长" * (limit + 1))
        assert e.value.message == relay.TOO_LONG
        assert e.value.params == {"n": limit + 1, "limit": limit}
        with pytest.raises(Refused) as e:
            await relay.send(rt, s, 999, AUNT, text="hello")
        assert e.value.message == relay.NO_ORDER
    async with rt.db.read() as s:
        assert (await s.scalars(select(OrderMessage))).all() == []
    assert await _relayed(rt, RUNNER) == []


async def test_a_relayed_caption_too_long_for_telegram_is_refused_not_cut(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relayed with its "💬 name about order" line, a photo's text must fit Telegram's 1,024
    characters of a caption: too long is refused with the room left, nothing kept or cut."""
    order_id = await _order(rt)
    monkeypatch.setattr(rt.settings.limits, "max_text_length", 2000)
    async with rt.db.session() as s:
        with pytest.raises(Refused) as refused:
            await relay.send(rt, s, order_id, AUNT, text="长" * 1020, photo="P")
    assert refused.value.message == limits.TOO_LONG_TO_SEND
    fits = refused.value.params["limit"]
    assert refused.value.params["n"] == 1020 and 950 < fits < 1020
    assert await _relayed(rt, RUNNER) == []
    async with rt.db.read() as s:
        assert (await s.scalars(select(OrderMessage))).all() == []
    # What fits goes through whole; emoji count twice, as Telegram counts them.
    async with rt.db.session() as s:
        with pytest.raises(Refused):
            await relay.send(rt, s, order_id, AUNT, text="🍎" * (fits // 2 + 1), photo="P")
    async with rt.db.session() as s:
        await relay.send(rt, s, order_id, AUNT, text="长" * fits, photo="P")
    [msg] = await _relayed(rt, RUNNER)
    assert msg.text.endswith("长" * fits) and limits.tg_len(msg.text) == limits.CAPTION_LIMIT


async def test_staff_read_the_thread_of_orders_in_their_scope(rt: Runtime) -> None:
    order_id = await _order(rt)
    async with rt.db.session() as s:
        await relay.send(rt, s, order_id, AUNT, text="在吗")
    rt.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    async with rt.db.session() as s:
        await relay.send(rt, s, order_id, RUNNER, text="在", photo="P")
        await transitions.advance(rt, s, order_id, RUNNER, "buy")
        grid1, grid2 = (await s.scalars(select(Grid.id).order_by(Grid.id))).all()
        now = rt.clock.now()
        elsewhere = Community(code="other", name="别的社区", created_at=now)
        s.add(elsewhere)
        await s.flush()
        s.add_all(
            [
                Staff(telegram_id=9101, name="admin", role=StaffRole.ADMIN, created_at=now),
                Staff(
                    telegram_id=9102,
                    name="leader 1",
                    role=StaffRole.GRID_LEADER,
                    grid_id=grid1,
                    created_at=now,
                ),
                Staff(
                    telegram_id=9103,
                    name="leader 2",
                    role=StaffRole.GRID_LEADER,
                    grid_id=grid2,
                    created_at=now,
                ),
                Staff(
                    telegram_id=9104,
                    name="elsewhere",
                    role=StaffRole.COMMUNITY,
                    community_id=elsewhere.id,
                    created_at=now,
                ),
            ]
        )

    async with rt.db.read() as s:
        for staff in (STAFF, 9101, 9102):
            v, messages = await relay.thread(s, order_id, staff)
            assert v.id == order_id
            assert [(m.role, m.sender_name, m.text, m.photo) for m in messages] == [
                ("resident", "周阿姨", "在吗", None),
                ("volunteer", "王刚", "在", "P"),
            ]
            assert messages[0].at < messages[1].at
        for outsider in (9103, 9104, AUNT, RUNNER):
            with pytest.raises(Refused) as e:
                await relay.thread(s, order_id, outsider)
            assert (e.value.message, e.value.params) == (relay.NOT_IN_CHARGE, {"id": order_id})
        with pytest.raises(Refused) as e:
            await relay.thread(s, 999, STAFF)
        assert e.value.message == relay.NO_ORDER
