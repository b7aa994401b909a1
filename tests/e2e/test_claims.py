"""Claims: exactly one of many simultaneous presses wins; buttons are checked on the server."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from models import Order, OrderEvent, Volunteer, VolunteerStatus
from tests.factories import GROUP_1, STAFF, VOLUNTEERS_2, Harness, Z, buttons, text_of


async def _twenty_volunteers(h: Harness) -> list[int]:
    """Twenty approved volunteers of grid 1, all members of its group chat."""
    ids = list(range(3001, 3021))
    async with h.rt.db.session() as s:
        for tid in ids:
            s.add(
                Volunteer(
                    telegram_id=tid,
                    name=f"志愿者{tid}",
                    grid_id=1,
                    status=VolunteerStatus.APPROVED,
                    created_at=h.rt.clock.now(),
                )
            )
    for tid in ids:
        h.person(tid, f"志愿者{tid}")
        h.emu.add_member(GROUP_1, tid)
    return ids


async def test_twenty_press_claim_at_once_one_wins(harness: Harness) -> None:
    h = harness
    vols = await _twenty_volunteers(h)
    aunt = await h.register(1001, "周阿姨")
    await h.order(aunt)
    post = await aunt.expect_in(GROUP_1, "#1")

    # All twenty presses are queued before the bot sees any of them.
    qids = [h.emu.press(tid, GROUP_1, post["message_id"], "o:claim:1") for tid in vols]
    answers = await asyncio.gather(*(h.emu.wait_callback_answer(q, 20.0) for q in qids))
    assert all(a is not None for a in answers)
    winners = [a for a in answers if "#1" in (a["text"] or "")]
    taken = [a for a in answers if Z("Already taken by {name}.") in (a["text"] or "")]
    assert len(winners) == 1
    assert len(taken) == 19

    await h.settle()
    async with h.rt.db.read() as s:
        order = await s.scalar(select(Order))
        assert order is not None and order.status == "claimed"
        winner = await s.get(Volunteer, order.volunteer_id)
        claims = (
            await s.scalars(select(OrderEvent).where(OrderEvent.to_status == "claimed"))
        ).all()
    assert len(claims) == 1 and claims[0].actor_telegram_id == winner.telegram_id
    edited = next(m for m in h.emu.messages(GROUP_1) if m["message_id"] == post["message_id"])
    assert winner.name in text_of(edited) and buttons(edited) == []
    # Every loser was told who has it.
    assert all(winner.name in a["text"] for a in taken)


async def test_forged_and_stale_buttons_get_an_alert_and_change_nothing(
    harness: Harness,
) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    mine = await h.order(aunt)
    post = await aunt.expect_in(GROUP_1, "#1")
    stranger = h.person(1002, "吴大爷")
    stranger.say("/help")
    h.emu.add_member(GROUP_1, 1002)  # a resident who is in the group chat, not a volunteer
    other_grid = h.person(VOLUNTEERS_2[0])
    h.emu.add_member(GROUP_1, VOLUNTEERS_2[0])
    stale = Z("This button is out of date or not for you. Nothing was changed.")

    async def press(who: int, data: str, msg: dict) -> str:
        qid = h.emu.press(who, msg["chat"]["id"], msg["message_id"], data, force=True)
        ans = await h.emu.wait_callback_answer(qid, 10.0)
        assert ans is not None, data
        return str(ans["text"])

    # A resident who is not a volunteer, and a volunteer of another grid, cannot claim.
    assert Z("Only approved volunteers of this grid can take tasks.") in await press(
        1002, "o:claim:1", post
    )
    assert Z(
        "This task belongs to another grid. If nobody there takes it in time, "
        "it will be opened to the whole community."
    ) in await press(other_grid.user_id, "o:claim:1", post)
    # Someone else's order: cannot cancel, confirm or run it (forged on a message of their own
    # chat; in a group, only a group's buttons are read at all).
    own = await stranger.expect(lambda m: True)
    assert Z("This is not your order.") in await press(1002, "o:cxl:1:open", own)
    # ✅ is a button of the resident's live card: anyone else's press is out of date.
    assert stale in await press(1002, "o:ok:1", own)
    assert Z("Only the volunteer running this task can do that.") in await press(
        1002, "o:buy:1", own
    )
    for data in ("o:cxl:1", "o:ok:1", "o:buy:1"):
        assert stale in await press(1002, data, post)
    # An id that does not exist, and garbage data.
    assert Z("This order does not exist.") in await press(VOLUNTEERS_2[0], "o:claim:999", post)
    assert stale in await press(1002, "o:claim:abc", post)
    assert stale in await press(1002, "zz:top:1", post)
    assert stale in await press(1002, "x" * 64, post)

    # An order already cancelled: its old claim button is refused.
    await h.settle()
    await aunt.press(mine, Z("Cancel this order"))
    sure = await aunt.expect(lambda m: "o:cxl:1:open" in str(m.get("reply_markup")))
    await aunt.press(sure, Z("Yes, cancel it"))
    await h.settle()
    assert Z("Order #{id} was cancelled.") in await press(h.person(2001).user_id, "o:claim:1", post)
    # Staff are not volunteers either.
    h.person(STAFF)
    h.emu.add_member(GROUP_1, STAFF)
    assert Z("Only approved volunteers of this grid can take tasks.") in await press(
        STAFF, "o:claim:1", post
    )

    async with h.rt.db.read() as s:
        order = await s.scalar(select(Order))
        assert order is not None and order.status == "cancelled" and order.volunteer_id is None
        events = (await s.scalars(select(OrderEvent).order_by(OrderEvent.id))).all()
    assert [e.to_status for e in events] == ["open", "cancelled"]
    # The group post now says it was cancelled and has no button left.
    edited = next(m for m in h.emu.messages(GROUP_1) if m["message_id"] == post["message_id"])
    assert buttons(edited) == []
