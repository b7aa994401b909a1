"""Several BotService instances on one PostgreSQL database behind one bot token behave as one
bot: each update handled once, one user's updates in order and never two at once, exactly one
leader (polling, dispatching, sweeping), and another takes over when the leader stops."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select, text

from bot.clock import OffsetClock
from bot.db import Database
from bot.outbox.rows import enqueue
from bot.runtime import Runtime
from handlers.main import populate_emulator
from handlers.runner import BotService
from models import InboxUpdate
from tests.conftest import TOKEN
from tests.factories import Person, bot_service

if TYPE_CHECKING:
    from tests.postgres import Cluster  # noqa: F401  (the plugin below provides its fixtures)

pytest_plugins = ["tests.postgres"]

# Handling of an update, as seen from inside: (user, update_id, start, end) per instance.
Span = tuple[int, int, float, float]


def _spy(service: BotService, spans: list[Span], where: list[str], name: str) -> None:
    """Record when each update's handling starts and ends, and on which instance."""
    original = service.app.process_update

    async def process_update(update: Any) -> None:
        start = time.monotonic()
        await original(update)
        user = update.effective_user.id if update.effective_user else 0
        spans.append((user, update.update_id, start, time.monotonic()))
        where.append(name)

    service.app.process_update = process_update  # type: ignore[method-assign]


@pytest.fixture
async def instances(pg_rt: Runtime, pg_url: str, emu: Any) -> AsyncIterator[list[BotService]]:
    """Three instances, each with its own runtime and connection pool, one database."""
    populate_emulator(emu, TOKEN)
    services: list[BotService] = []
    # Few updates at once per instance, so that one instance cannot claim the whole burst.
    few = pg_rt.settings.bot.model_copy(update={"concurrent_updates": 4})
    pg_rt.settings = pg_rt.settings.model_copy(update={"bot": few})
    runtimes = [pg_rt] + [Runtime(pg_rt.settings, Database(pg_url), OffsetClock()) for _ in "ab"]
    for rt in runtimes:
        service = bot_service(rt, emu, TOKEN)
        service.leader_check_seconds = 1.0  # the default is 5: quicker takeover in the test
        await service.start()
        services.append(service)
    try:
        yield services
    finally:
        for service in services:
            await service.stop()
        for rt in runtimes[1:]:
            await rt.db.dispose()


async def _until(check: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _settled(services: list[BotService], emu: Any, users: list[int], each: int) -> None:
    await asyncio.wait_for(services[0].idle(), 60)
    await _until(
        lambda: all(len([m for m in emu.messages(u) if m["outgoing"]]) >= each for u in users),
        "every reply",
        60,
    )


def _check_once_in_order(spans: list[Span], users: list[int], each: int) -> None:
    by_user: dict[int, list[Span]] = defaultdict(list)
    for span in spans:
        by_user[span[0]].append(span)
    ids = [span[1] for span in spans]
    assert len(ids) == len(set(ids)), "an update was handled twice"
    for user in users:
        mine = sorted(by_user[user], key=lambda s: s[2])
        assert len(mine) == each, (user, len(mine))
        # In update order, one after another (never two of one user's at once).
        assert [s[1] for s in mine] == sorted(s[1] for s in mine)
        for before, after in itertools.pairwise(mine):
            assert before[3] <= after[2]


async def _stored(rt: Runtime) -> tuple[int, int]:
    """Updates in the inbox, and those not yet processed."""
    async with rt.db.read() as s:
        stored = (await s.execute(select(func.count()).select_from(InboxUpdate))).scalar_one()
        left = (
            await s.execute(
                select(func.count())
                .select_from(InboxUpdate)
                .where(InboxUpdate.processed_at.is_(None))
            )
        ).scalar_one()
    return stored, left


@pytest.mark.long
async def test_three_instances_handle_each_update_once_in_order_per_user(
    instances: list[BotService], emu: Any, pg_rt: Runtime
) -> None:
    leaders = [s for s in instances if s.leadership.leading]
    assert len(leaders) == 1
    await asyncio.wait_for(instances[0].idle(), 30)  # the demo groups' own updates
    before = await _stored(pg_rt)
    spans: list[Span] = []
    where: list[str] = []
    for i, service in enumerate(instances):
        _spy(service, spans, where, f"i{i}")
    users = [700_000 + n for n in range(30)]
    each = 4
    people = [Person(emu, u) for u in users]
    for u in users:
        emu.create_user(u, first_name=f"R{u}")
    for _ in range(each):
        for p in people:
            p.say("/help")
        await asyncio.sleep(0.05)
    await _settled(instances, emu, users, each)
    _check_once_in_order(spans, users, each)
    for u in users:  # each reply exactly once
        assert len([m for m in emu.messages(u) if m["outgoing"]]) == each
    stored, left = await _stored(pg_rt)
    # Every update stored handled once, none left.
    assert (stored - before[0], left) == (len(spans), 0)
    # The work was shared: more than one instance handled updates.
    assert len(set(where)) > 1, set(where)


@pytest.mark.long
async def test_another_instance_leads_and_sends_when_the_leader_stops(
    instances: list[BotService], emu: Any
) -> None:
    leader = next(s for s in instances if s.leadership.leading)
    others = [s for s in instances if s is not leader]
    users = [710_000 + n for n in range(10)]
    people = [Person(emu, u) for u in users]
    for u in users:
        emu.create_user(u, first_name=f"R{u}")
    for p in people:
        p.say("/help")
    await _settled(instances, emu, users, 1)

    # The replies of an instance that does not lead go through the leader's outbox, and so do
    # the leader's to a chat the outbox still owes a reply.
    def handed() -> int:
        return sum(s.replies.relayed_count + s.replies.deferred_count for s in others)

    relayed_before = handed()
    await leader.stop()
    # Messages sent while no one leads wait in Telegram (polling) until the new leader polls.
    for p in people:
        p.say("/help")
    started = time.monotonic()
    await _until(lambda: any(s.leadership.leading for s in others), "a new leader", 30)
    took = time.monotonic() - started
    assert sum(s.leadership.leading for s in others) == 1, took
    new = next(s for s in others if s.leadership.leading)
    # The outbox too: the new leader's dispatcher sends what is owed, once.
    async with new.rt.db.session() as s:
        for u in users:
            enqueue(s, new.rt.clock, chat_id=u, text="owed after the takeover")
    new.rt.wake_outbox()
    await _settled(others, emu, users, 3)
    await new.dispatcher.drain(30)
    for u in users:  # nothing lost, nothing twice
        assert len([m for m in emu.messages(u) if m["outgoing"]]) == 3
    assert [s.dispatcher.sent_count for s in others if s is not new] == [0]
    relayed = handed() - relayed_before
    assert new.dispatcher.sent_count == len(users) + relayed


@pytest.mark.long
async def test_a_leader_whose_lock_connection_dies_steps_down_and_another_leads(
    instances: list[BotService], pg_rt: Runtime
) -> None:
    """As when the leader's process is killed: its connection ends, the lock is free."""
    leader = next(s for s in instances if s.leadership.leading)
    async with pg_rt.db.session() as s:
        await s.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                " WHERE locktype = 'advisory' AND objid = :k"
            ),
            {"k": leader.leadership.key},
        )
    await _until(lambda: not leader.leadership.leading, "the old leader to step down", 30)
    await _until(
        lambda: sum(s.leadership.leading for s in instances) == 1, "exactly one new leader", 30
    )
    await _until(lambda: sum(s._leading for s in instances) == 1, "one running its duties", 30)
