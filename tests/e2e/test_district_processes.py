"""Three `paotui run` processes on one PostgreSQL database behind one bot, as a district runs
them (issue 14 point 2's end-to-end test): 50 volunteers race for one task, 200 residents order
at once, the leader is killed with SIGKILL while their updates are under way and another takes
over, then a notice reaches 3,000 households, each once, and the strict emulator refused
nothing (0 × 429) all along.

Real processes (tests/child_bot.py) against the emulator served over HTTP from this test
process, on the tests' fast clock: the children pace Telegram's limits on it too
(handlers.main.TEST_TIME_SCALE_ENV). Households and volunteers are seeded by bulk insert; the
orders, the claims and every reply go through the bot. The notice is written by the notice
service itself (`notices.create`, what a staff member's ✅ send runs) from this process, and
sent by whichever child leads. PostgreSQL only by nature: deselected under ``--db sqlite``."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, insert, select

from bot.i18n import gettext_for
from bot.runtime import Runtime
from bot.services import notices
from bot.services.orders import form
from handlers.main import TEST_TIME_SCALE_ENV, open_private_chats, populate_emulator
from models import (
    Building,
    Grid,
    InboxUpdate,
    Order,
    OrderEvent,
    OutboxMessage,
    OutboxStatus,
    Resident,
    Volunteer,
    VolunteerStatus,
)
from tests.child_bot import ChildBot
from tests.conftest import EXAMPLE, TOKEN
from tests.factories import ANSWERS, GROUP_1, STAFF, Harness, Person, Z, buttons, text_of
from tests.privacy_guard import GroupLog, group_leaks
from tests.waiting import until

if TYPE_CHECKING:
    from tests.postgres import Cluster  # noqa: F401  (the plugin below provides its fixtures)

pytest_plugins = ["tests.postgres"]
pytestmark = pytest.mark.long

INSTANCES = 3
VOLUNTEERS = [30_001 + i for i in range(50)]
HOUSEHOLDS = [6_000_000 + i for i in range(3_000)]
RACE = HOUSEHOLDS[0]  # orders the task the volunteers race for
ORDERING = HOUSEHOLDS[1:201]  # the 200 who order at once
NOTICE = "致全体居民：明日八点起核酸检测，请按楼栋下楼（多实例测试）"
LEADS = "this instance leads"
KIND = "other"
# Long enough for an update claimed by the killed instance: its lease (30 s) runs out first.
LONG = 300.0
_ZH = gettext_for("zh_CN")


@pytest.fixture(params=["postgres"])
def postgres_only(request: pytest.FixtureRequest) -> str:
    """A backend parameter of the test's own: tests/conftest.py runs it in the PostgreSQL
    phase only (deselected under --db sqlite)."""
    return str(request.param)


async def _seed(rt: Runtime, emu: Any) -> None:
    """The households and volunteers, by bulk insert, and their side in the emulator (users who
    have started the bot; the volunteers members of grid 1's group)."""
    now = rt.clock.now()
    async with rt.db.read() as s:
        grid_1 = await s.scalar(select(Grid.id).where(Grid.group_chat_id == GROUP_1))
        places = (await s.execute(select(Building.id, Building.grid_id))).all()
    in_grid_1 = [b for b, g in places if g == grid_1]
    rows = [
        {
            "telegram_id": uid,
            "name": f"居民{uid}",
            "phone": f"138{uid % 10**8:08d}",
            # The race's resident lives in grid 1; the others anywhere in the community.
            "building_id": in_grid_1[0] if uid == RACE else places[i % len(places)][0],
            "unit": "1",
            "room": str(2101 + i % 800),  # four digits: no budget or count reads as a room
            "created_at": now,
            "updated_at": now,
        }
        for i, uid in enumerate(HOUSEHOLDS)
    ]
    vols = [
        {
            "telegram_id": tid,
            "name": f"志愿者{tid}",
            "grid_id": grid_1,
            "status": VolunteerStatus.APPROVED,
            "created_at": now,
        }
        for tid in VOLUNTEERS
    ]
    async with rt.db.session() as s:
        await s.execute(insert(Resident), rows)
        await s.execute(insert(Volunteer), vols)
    populate_emulator(emu, TOKEN)
    open_private_chats(emu, TOKEN)
    bot = emu.bot(TOKEN)
    for uid in HOUSEHOLDS:
        emu.create_user(uid, first_name=f"居民{uid}")
        emu.private_chat(bot, uid).started = True
    for tid in VOLUNTEERS:
        emu.create_user(tid, first_name=f"志愿者{tid}")
        emu.private_chat(bot, tid).started = True
        emu.add_member(GROUP_1, tid)


def _env(emu: Any, url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("PAOTUI_")},
        "PAOTUI_CONFIG": str(EXAMPLE),
        "PAOTUI_BOT__TOKEN": TOKEN,
        "PAOTUI_BOT__API_BASE_URL": emu.base_url,
        "PAOTUI_BOT__API_FILE_URL": emu.base_file_url,
        "PAOTUI_BOT__POLL_TIMEOUT": "2",
        # The tests' server has no TLS (tests/postgres.py): without this, asyncpg's default
        # (sslmode "prefer") builds a TLS context, the CA bundle loaded, for every connection
        # it opens (~0.3 s of CPU each on a busy machine), and each child opens many.
        "PAOTUI_DATABASE__URL": f"{url}?ssl=disable",
        "PAOTUI_OUTBOX__POLL_SECONDS": "0.1",
        "PAOTUI_REPORTS__DAILY_SUMMARY_AT": "",
        TEST_TIME_SCALE_ENV: str(emu.time_scale),
    }


@pytest.fixture
async def children(
    postgres_only: str, pg_rt: Runtime, pg_url: str, emu: Any
) -> AsyncIterator[list[ChildBot]]:
    """The seeded district and three `paotui run` processes on it, started; stopped (SIGTERM)
    at the end, their logs' ends printed."""
    await _seed(pg_rt, emu)
    started: list[ChildBot] = []
    try:
        for _ in range(INSTANCES):
            child = ChildBot(_env(emu, pg_url))
            await child.__aenter__()
            started.append(child)
        for child in started:
            await child.wait_line("bot started as", LONG)
        yield started
    finally:
        for i, child in enumerate(started):
            await child.stop()
            print(f"--- instance {i}:", *child.lines[-15:], sep="\n")


def _leaders(children: list[ChildBot]) -> list[ChildBot]:
    return [c for c in children if c.running and any(LEADS in line for line in c.lines)]


async def _order(h: Harness, uid: int) -> int:
    """``uid`` orders through the chat (a parcel to fetch: the form's shortest), answering
    every question of the form (as Harness.order, with waits long enough for a killed
    instance's lease); the order's id, read from the confirmation."""
    emu = h.emu
    p = Person(emu, uid)
    answers = {**ANSWERS[KIND], "urgency": "normal"}
    p.say("/order")
    kinds = await p.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)), LONG)
    emu.press(uid, uid, kinds["message_id"], f"d:cat:{KIND}")
    for step in form.steps_for(KIND):
        prompt = _ZH(step.prompt)
        current = await emu.wait_for(
            uid, lambda m, t=prompt: t in text_of(m), LONG, after_message_id=kinds["message_id"] - 1
        )
        value = answers[step.key]
        if value in {c.value for c in step.choices}:
            emu.press(uid, uid, current["message_id"], f"d:v:{value}")
        else:
            p.say(value)
    summary = await emu.wait_for(
        uid,
        lambda m: any(d.startswith("d:ok:") for _, d in buttons(m)),
        LONG,
        after_message_id=kinds["message_id"] - 1,
    )
    confirm = next(d for _, d in buttons(summary) if d.startswith("d:ok:"))
    emu.press(uid, uid, summary["message_id"], confirm)
    mid = summary["message_id"]
    done = await emu.wait_for(uid, lambda m: m["message_id"] == mid and "#" in text_of(m), LONG)
    found = re.search(r"#(\d+)", text_of(done))
    assert found is not None
    return int(found[1])


async def _race(h: Harness) -> None:
    """50 volunteers press 🙋 on one task's group post at once: one wins, 49 are told it is
    taken, the database holds one claim."""
    order_id = await _order(h, RACE)
    post = await h.emu.wait_for(GROUP_1, lambda m: f"#{order_id} " in text_of(m), LONG)
    qids = [h.emu.press(t, GROUP_1, post["message_id"], f"o:claim:{order_id}") for t in VOLUNTEERS]
    answers = await asyncio.gather(*(h.emu.wait_callback_answer(q, LONG) for q in qids))
    texts = [(a or {}).get("text") or "" for a in answers]
    winners = [t for t in texts if f"#{order_id}" in t]
    taken = [t for t in texts if Z("Already taken by {name}.") in t]
    assert (len(winners), len(taken)) == (1, len(VOLUNTEERS) - 1), texts
    async with h.rt.db.read() as s:
        claims = await s.scalar(
            select(func.count())
            .select_from(OrderEvent)
            .where(OrderEvent.order_id == order_id, OrderEvent.to_status == "claimed")
        )
        order = await s.get(Order, order_id)
    assert claims == 1 and order is not None and order.status == "claimed"


async def _in_hand(rt: Runtime, pid: int) -> set[int]:
    """The users with an update that the instance of process ``pid`` had claimed and not marked
    processed (read right after its death, before its lease runs out)."""
    async with rt.db.read() as s:
        keys = await s.scalars(
            select(InboxUpdate.serial_key).where(
                InboxUpdate.claimed_by.like(f"%:{pid}:%"), InboxUpdate.processed_at.is_(None)
            )
        )
        return {int(k[1:]) for k in keys if k and k.startswith("u")}


async def _orders_with_a_kill(h: Harness, children: list[ChildBot]) -> list[ChildBot]:
    """200 residents order at once; once a fifth of them are through, the leader is killed
    with SIGKILL. Another instance leads within 30 s; the survivors.

    Every resident orders once and sees their confirmation once, those the killed instance was
    serving at its death (an update of theirs claimed and not marked done) too: their updates
    are handled again once its lease runs out, and a reply it had committed to and not sent
    comes from the instance that takes the update over (tests/e2e/test_instances_replay.py).
    How many it was serving is printed.

    The one exception is a message the killed leader had on its way to Telegram (its outbox
    row 'sending' at the death): Telegram may have delivered it, and a send has no idempotency
    key, so the new leader's resend can be a second copy. Only those may arrive twice."""
    leaders = _leaders(children)
    assert len(leaders) == 1, [c.lines[-5:] for c in children]
    leader = leaders[0]
    assert leader.proc is not None
    orders = {uid: asyncio.create_task(_order(h, uid)) for uid in ORDERING}
    try:
        await until(lambda: sum(t.done() for t in orders.values()) >= 40, "a fifth", LONG)
        assert not all(t.done() for t in orders.values())  # mid-run: updates under way
        killed = time.monotonic()
        await leader.kill()
        served = await _in_hand(h.rt, leader.proc.pid) & set(ORDERING)
        mid_send = await _mid_send(h.rt)
        survivors = [c for c in children if c is not leader]
        await until(lambda: bool(_leaders(survivors)), "another instance to lead", 30)
        print(f"another instance leads {time.monotonic() - killed:.1f} s after the kill")
        assert len(_leaders(survivors)) == 1
        await asyncio.wait_for(asyncio.gather(*orders.values()), 3 * LONG)
        await _nothing_lost(h)  # the killed instance's updates handled again, all sent
    finally:
        for task in orders.values():
            task.cancel()
        await asyncio.gather(*orders.values(), return_exceptions=True)
    ids = {
        uid: task.result()
        for uid, task in orders.items()
        if not task.cancelled() and task.exception() is None
    }
    print(
        f"the killed instance was serving {len(served)} of the residents ordering; "
        f"{len([u for u in served if u in ids])} of them were confirmed all the same"
    )
    assert set(ORDERING) <= set(ids)
    assert len(set(ids.values())) == len(ids)
    async with h.rt.db.read() as s:
        per_resident = dict(
            (
                await s.execute(
                    select(Resident.telegram_id, func.count(Order.id))
                    .join(Order, Order.resident_id == Resident.id)
                    .where(Resident.telegram_id.in_(ORDERING))
                    .group_by(Resident.telegram_id)
                )
            ).all()
        )
        mine = dict(
            (
                await s.execute(
                    select(Resident.telegram_id, Order.id)
                    .join(Order, Order.resident_id == Resident.id)
                    .where(Resident.telegram_id.in_(ORDERING))
                )
            ).all()
        )
    assert {u: n for u, n in per_resident.items() if n != 1} == {}  # never two orders
    assert set(ORDERING) <= set(per_resident)
    sent_as = _ZH("Sent as order #{id}:")
    twice = 0
    for uid, order_id in mine.items():  # each confirmation once, and the order's one card
        number = re.compile(rf"#{order_id}(?!\d)")
        shown = [m for m in h.emu.messages(uid) if m["outgoing"] and number.search(text_of(m))]
        confirmed = [m for m in shown if sent_as.format(id=order_id) in text_of(m)]
        # A copy more only of what the killed leader was sending to this very chat.
        may_repeat = sum(1 for text in mid_send.get(uid, []) if number.search(text))
        assert len({text_of(m) for m in shown}) == 2, (uid, [text_of(m) for m in shown])
        assert 1 <= len(confirmed) <= 1 + may_repeat, (uid, [text_of(m) for m in shown])
        assert len(shown) - 2 <= may_repeat, (uid, [text_of(m) for m in shown])
        twice += len(shown) - 2
        assert ids[uid] == order_id
    print(
        f"the killed leader had {sum(map(len, mid_send.values()))} message(s) on their way; "
        f"{twice} reached a resident twice"
    )
    return survivors


async def _mid_send(rt: Runtime) -> dict[int, list[str]]:
    """The messages the leader had on their way when it died (their rows 'sending': only the
    leader sends, and none other leads yet), by chat."""
    found: dict[int, list[str]] = defaultdict(list)
    async with rt.db.read() as s:
        rows = await s.execute(
            select(OutboxMessage.chat_id, OutboxMessage.text).where(
                OutboxMessage.status == OutboxStatus.SENDING
            )
        )
        for chat, text in rows:
            found[chat].append(text or "")
    return found


async def _notice(h: Harness) -> dict[int, set[int]]:
    """A notice to the whole community, written as staff sending it would; until every
    household has it. The notice's messages seen in each chat (counted once sent, by id)."""
    seen: dict[int, set[int]] = defaultdict(set)

    def on_change(chat: Any, msg: dict[str, Any] | None) -> None:
        if msg is not None and msg.get("outgoing") and NOTICE in text_of(msg):
            seen[chat.id].add(int(msg["message_id"]))

    h.emu.listeners.append(on_change)
    async with h.rt.db.session() as s:
        notice = await notices.create(h.rt, s, STAFF, notices.COMMUNITY, "c1", NOTICE)
    assert notice.recipients >= len(HOUSEHOLDS)
    await until(
        lambda: sum(1 for uid in HOUSEHOLDS if seen.get(uid)) == len(HOUSEHOLDS),
        "the notice in every household's chat",
        LONG,
    )
    return seen


async def _nothing_lost(h: Harness) -> None:
    """Every update the emulator holds for the bot was fetched, stored and processed; every
    outbox row was sent."""
    bot = h.emu.bot(TOKEN)

    async def left() -> tuple[int, int, int]:
        async with h.rt.db.read() as s:
            pending = await s.scalar(
                select(func.count())
                .select_from(InboxUpdate)
                .where(InboxUpdate.processed_at.is_(None))
            )
            unsent = await s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status != OutboxStatus.SENT)
            )
        return len(bot.pending), int(pending or 0), int(unsent or 0)

    deadline = time.monotonic() + LONG
    while (state := await left()) != (0, 0, 0):
        assert time.monotonic() < deadline, f"(at Telegram, unprocessed, unsent) = {state}"
        await asyncio.sleep(0.2)
    async with h.rt.db.read() as s:
        stored = set(await s.scalars(select(InboxUpdate.update_id)))
    logged = {u["update_id"] for u in h.emu.updates_log(TOKEN)}
    assert logged <= stored, f"{len(logged - stored)} updates never stored"


async def test_three_processes_one_database_one_bot(
    children: list[ChildBot], pg_rt: Runtime, emu: Any
) -> None:
    log = GroupLog().attach(emu)
    h = Harness(service=None, rt=pg_rt, emu=emu)
    began = time.monotonic()

    def took(what: str) -> None:
        print(f"{what}: {time.monotonic() - began:.1f} s from the start")

    await _race(h)
    took("the race")
    survivors = await _orders_with_a_kill(h, children)
    took("200 orders")
    seen = await _notice(h)
    took("the notice")
    await _nothing_lost(h)
    async with pg_rt.db.read() as s:
        households = list(await s.scalars(select(Resident.telegram_id)))
    twice = {uid: len(seen[uid]) for uid in households if len(seen[uid]) != 1}
    assert not twice, f"households that did not get the notice exactly once: {twice}"
    assert all(c.running for c in survivors)  # the others carried on
    # At least once, not exactly once, across a kill: what the killed instance had handled but
    # not yet marked processed is handled again once its lease runs out; a press answered twice
    # is refused by Telegram the second time. Counted for the record, not asserted.
    again = sum("could not answer callback query" in ln for c in survivors for ln in c.lines)
    print(f"presses answered a second time after the kill: {again}")
    refused = emu.bot(TOKEN).limiter.refused_ever
    assert not refused, f"the instances exceeded Telegram's limits in total: {dict(refused)} 429s"
    leaks = await group_leaks(pg_rt, log)
    assert not leaks, "personal data reached a group chat:\n" + "\n".join(leaks)
