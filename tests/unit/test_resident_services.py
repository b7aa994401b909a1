"""The resident's services without Telegram: the form's checks, recipients, care, caps,
problems and thanks."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.errors import Refused
from bot.runtime import Runtime
from bot.services import care_flags, directory, residents
from bot.services.orders import drafts, form, resident_moves, transitions
from models import Order, OrderProblem, OutboxMessage, Resident
from tests.factories import ANSWERS, STAFF, VOLUNTEERS_1


async def _register(rt: Runtime, tid: int = 1001) -> None:
    async with rt.db.session() as s:
        b = await directory.building_by_code(s, "xf1")
        assert b is not None
        await residents.register(
            s,
            rt.clock,
            telegram_id=tid,
            name="周阿姨",
            phone="13800001001",
            building_id=b.id,
            unit="1",
            room="101",
        )


async def _submit(rt: Runtime, kind: str = "groceries", tid: int = 1001, **extra: str) -> int:
    async with rt.db.session() as s:
        d = await drafts.start_draft(rt, s, tid, category=kind)
        await drafts.update_draft(rt, s, d.id, tid, urgency="normal", **{**ANSWERS[kind], **extra})
        return (await drafts.submit_draft(rt, s, d.id, tid)).order.id


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("budget", " 80 ", "80"),
        ("budget", "120元", "120"),
        ("amount", "300 块", "300"),
        ("gas_account", "12 34 56 78", "12345678"),
        ("pharmacy", "老百姓大药房", "老百姓大药房"),
    ],
)
def test_typed_answers_are_cleaned(key: str, raw: str, expected: str) -> None:
    assert form.clean(key, raw, 1000) == expected


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("budget", "很多"),
        ("budget", "0"),
        ("budget", "99999"),
        ("amount", "-5"),
        ("gas_account", "12"),
        ("gas_account", "卡号"),
        ("pharmacy", "x" * 41),
        ("provider", " "),
        ("description", " "),
        ("description", "x" * 1001),
        ("urgency", "whenever"),
    ],
)
def test_bad_typed_answers_are_refused(key: str, raw: str) -> None:
    with pytest.raises(Refused):
        form.clean(key, raw, 1000)


def test_every_kind_asks_its_own_questions_then_the_common_ones() -> None:
    for kind, answers in ANSWERS.items():
        keys = [s.key for s in form.steps_for(kind)]
        assert keys[-3:] == ["urgency", "time_window", "payment"]
        assert set(keys) == set(answers) | {"urgency"}
        assert form.next_step(kind, {**answers, "urgency": "normal"}) is None


async def test_recipients_route_the_order_to_their_grid(rt: Runtime) -> None:
    await _register(rt)
    async with rt.db.session() as s:
        b = await directory.building_by_code(s, "hp6")
        assert b is not None
        r = await residents.add_recipient(
            s,
            rt.clock,
            owner_telegram_id=1001,
            name="王奶奶",
            phone="13700001234",
            building_id=b.id,
            unit="2",
            room="401",
        )
        d = await drafts.start_draft(rt, s, 1001, category="other")
        await drafts.set_recipient(rt, s, d.id, 1001, r.id)
        await drafts.update_draft(rt, s, d.id, 1001, urgency="normal", **ANSWERS["other"])
        v = (await drafts.submit_draft(rt, s, d.id, 1001)).order
    assert (v.grid_id, v.contact_name, v.contact_phone, v.room) == (
        2,
        "王奶奶",
        "13700001234",
        "401",
    )
    async with rt.db.session() as s:
        # Someone else's recipient cannot be used; a removed one is gone from the list.
        await _register(rt, 1002)
        d2 = await drafts.start_draft(rt, s, 1002, category="other")
        with pytest.raises(Refused):
            await drafts.set_recipient(rt, s, d2.id, 1002, r.id)
        assert await residents.remove_recipient(s, 1001, r.id) == "王奶奶"
        assert await residents.recipients_of(s, 1001) == []
        with pytest.raises(Refused):
            await residents.remove_recipient(s, 1001, r.id)


async def test_open_order_cap(rt: Runtime) -> None:
    await _register(rt)
    for _ in range(rt.settings.limits.max_open_orders):
        await _submit(rt)
    async with rt.db.session() as s:
        with pytest.raises(Refused) as info:
            await drafts.start_draft(rt, s, 1001)
    assert info.value.params == {"n": rt.settings.limits.max_open_orders}
    # Cancelling one makes room again.
    async with rt.db.session() as s:
        await resident_moves.cancel_by_resident(rt, s, 1, 1001)
        await drafts.start_draft(rt, s, 1001)


async def test_care_flags_make_orders_priority(rt: Runtime) -> None:
    await _register(rt)
    async with rt.db.session() as s:
        assert await residents.toggle_care(s, rt.clock, 1001, "chronic") == {"chronic"}
    first = await _submit(rt)
    async with rt.db.session() as s:
        assert await residents.toggle_care(s, rt.clock, 1001, "chronic") == set()
        res = await s.scalar(select(Resident))
        assert res is not None and res.care_consent_at is None
        assert await care_flags.flags_of(s, res.id) == ()
        with pytest.raises(Refused):
            await residents.toggle_care(s, rt.clock, 1001, "rich")
    second = await _submit(rt)
    async with rt.db.read() as s:
        assert (await s.get(Order, first)).priority is True
        assert (await s.get(Order, second)).priority is False


async def _deliver(rt: Runtime, order_id: int) -> None:
    async with rt.db.session() as s:
        await transitions.claim(rt, s, order_id, VOLUNTEERS_1[0])
        for verb in ("buy", "go"):
            await transitions.advance(rt, s, order_id, VOLUNTEERS_1[0], verb)
        await transitions.deliver(rt, s, order_id, VOLUNTEERS_1[0], "door.jpg", 0)


async def test_problems_reach_the_staff_in_scope_and_thanks_once(rt: Runtime) -> None:
    await _register(rt)
    oid = await _submit(rt)
    async with rt.db.session() as s:
        with pytest.raises(Refused):  # not delivered yet
            await resident_moves.report_problem(rt, s, oid, 1001, "missing")
    await _deliver(rt, oid)
    async with rt.db.session() as s:
        with pytest.raises(Refused):  # not the resident
            await resident_moves.report_problem(rt, s, oid, 1002, "missing")
        told = await resident_moves.report_problem(rt, s, oid, 1001, "wrong", "鸡蛋少了一盒")
    assert told == 1  # the demo community's one staff member
    async with rt.db.read() as s:
        problem = await s.scalar(select(OrderProblem))
        to_staff = (
            await s.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == STAFF))
        ).all()
    assert problem is not None and problem.kind == "wrong"
    assert len(to_staff) == 1 and "鸡蛋少了一盒" in to_staff[0].text
    async with rt.db.session() as s:
        with pytest.raises(Refused):  # not confirmed yet
            await resident_moves.rate(rt, s, oid, 1001, 5)
        await resident_moves.confirm_receipt(rt, s, oid, 1001)
        v = await resident_moves.rate(rt, s, oid, 1001, 4)
        assert v.rating == 4
    async with rt.db.session() as s:
        with pytest.raises(Refused):
            await resident_moves.rate(rt, s, oid, 1001, 5)
        with pytest.raises(Refused):
            await resident_moves.rate(rt, s, oid, 1001, 9)


async def test_order_again_copies_the_answers(rt: Runtime) -> None:
    await _register(rt)
    oid = await _submit(rt, "gas")
    async with rt.db.session() as s:
        d = await drafts.copy_order(rt, s, oid, 1001)
        assert d.category == "gas" and d.details == {
            k: v for k, v in ANSWERS["gas"].items() if k not in form.COLUMN_KEYS
        }
        assert d.next_step is None
        with pytest.raises(Refused):
            await drafts.copy_order(rt, s, oid, 1002)
