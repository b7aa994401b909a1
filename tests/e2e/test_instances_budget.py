"""Three instances of the bot on one PostgreSQL database, each update handed to the instance the
test chooses: Telegram's limits hold in total (only the leader sends; the others hand their
replies to its outbox), one chat's replies arrive once each and in order whichever instance
answered, and the leader hears at once (NOTIFY) of a reply another instance handed over, with
the outbox's poll set far beyond the test's wait. PostgreSQL by nature (its own cluster,
whatever ``--db`` says), like tests/e2e/test_instances.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from telegram import Update

from bot.clock import OffsetClock
from bot.db import Database
from bot.runtime import Runtime
from handlers.main import populate_emulator
from handlers.persistence import refresh
from handlers.runner import BotService
from tests.conftest import TOKEN
from tests.factories import Person, bot_service
from tests.waiting import until

if TYPE_CHECKING:
    from tests.postgres import Cluster  # noqa: F401  (the plugin below provides its fixtures)

pytest_plugins = ["tests.postgres"]

# The outbox's poll: far beyond any wait below, so that only a wake-up sends in time.
POLL_SECONDS = 600.0


@dataclass
class Router:
    """Takes each update from the emulator and hands it to the instance ``pick`` names, the way
    the runner handles one (refresh, process, persist): one user's updates one after another,
    different users' at once (as the inbox's claims keep them)."""

    services: list[BotService]
    pick: Any = lambda data: 0  # (update dict) -> instance index
    tails: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    handled: list[tuple[int, int]] = field(default_factory=list)  # (user, instance)
    _offset: int | None = None

    async def run(self) -> None:
        raw = self.services[0].raw_bot
        while True:
            updates = await raw.get_updates(offset=self._offset, timeout=1)
            for u in updates:
                self._offset = u.update_id + 1
                data = u.to_dict()
                user = u.effective_user.id if u.effective_user else 0
                index = self.pick(data)
                prev = self.tails.get(user)
                self.tails[user] = asyncio.create_task(self._handle(index, data, user, prev))

    async def _handle(
        self, index: int, data: dict[str, Any], user: int, prev: asyncio.Task[None] | None
    ) -> None:
        if prev is not None:
            with contextlib.suppress(Exception):
                await prev
        app = self.services[index].app
        update = Update.de_json(data, app.bot)
        await refresh(app, update)
        await app.process_update(update)
        await app.update_persistence()
        self.handled.append((user, index))

    async def idle(self) -> None:
        while any(not t.done() for t in self.tails.values()):
            await asyncio.gather(*self.tails.values(), return_exceptions=True)


@pytest.fixture
async def three(pg_rt: Runtime, pg_url: str, emu: Any) -> AsyncIterator[Router]:
    """Three instances, none polling (the router hands updates out), the first leading."""
    populate_emulator(emu, TOKEN)
    outbox = pg_rt.settings.outbox.model_copy(update={"poll_seconds": POLL_SECONDS})
    pg_rt.settings = pg_rt.settings.model_copy(update={"outbox": outbox})
    runtimes = [pg_rt] + [Runtime(pg_rt.settings, Database(pg_url), OffsetClock()) for _ in "ab"]
    services: list[BotService] = []
    for rt in runtimes:
        service = bot_service(rt, emu, TOKEN)
        await service.start(poll=False)
        services.append(service)
    assert [s.leadership.leading for s in services] == [True, False, False]
    router = Router(services)
    task = asyncio.create_task(router.run())
    try:
        yield router
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await router.idle()
        for service in services:
            await service.stop()
        for rt in runtimes[1:]:
            await rt.db.dispose()


def _replies(emu: Any, user: int) -> list[dict[str, Any]]:
    return [m for m in emu.messages(user) if m["outgoing"]]


async def _burst(three: Router, emu: Any, users: list[int], commands: tuple[str, ...]) -> None:
    """Each user sends ``commands`` at once, each to another instance than the last; wait
    until every update is handled and every reply is in (each exactly once)."""
    people = [Person(emu, u) for u in users]
    for u in users:
        emu.create_user(u, first_name=f"R{u}")
    turn = {u: n for n, u in enumerate(users)}

    def pick(data: dict[str, Any]) -> int:
        user = data.get("message", {}).get("from", {}).get("id")
        if user not in turn:
            return 0  # the demo groups' own updates
        turn[user] += 1
        return turn[user] % 3

    three.pick = pick
    for p in people:
        for command in commands:
            p.say(command)
    each = len(commands)
    await until(lambda: all(len(_replies(emu, u)) >= each for u in users), "every reply", 90)
    await three.idle()
    await three.services[0].dispatcher.drain(30)
    for u in users:
        assert len(_replies(emu, u)) == each, u
        assert sorted(i for user, i in three.handled if user == u) == sorted(
            n % 3 for n in range(turn[u] - each + 1, turn[u] + 1)
        )
    assert {i for _, i in three.handled} == {0, 1, 2}
    # Within Telegram's limits in total: the strict emulator refused nothing.
    refused = emu.bot(TOKEN).limiter.refused_ever
    assert not refused, f"the instances exceeded Telegram's limits: {dict(refused)} 429s"
    leader, *others = three.services
    # Only the leader's dispatcher sent: what the others handed over, and what the leader
    # queued behind it (a chat still owed), once each.
    assert leader.replies.relayed_count == 0
    assert [s.dispatcher.sent_count for s in others] == [0, 0]
    assert leader.dispatcher.sent_count == sum(s.replies.relayed_count for s in others) + (
        leader.replies.deferred_count
    )


@pytest.mark.realtime
async def test_one_chat_s_replies_from_three_instances_keep_its_pace_and_order(
    three: Router, emu: Any
) -> None:
    """12 residents each send /help, /volunteer (a question with a chat keyboard), /cancel (the
    keyboard taken off) at once, each to another instance: paced per instance, a chat's next
    reply would leave another instance within its second. At Telegram's real speed, the strict
    emulator refuses nothing and each chat gets its three replies once, in order, the
    keyboards kept through the outbox."""
    users = [720_000 + n for n in range(12)]
    await _burst(three, emu, users, ("/help", "/volunteer", "/cancel"))
    for u in users:
        first, second, third = (r.get("reply_markup") or {} for r in _replies(emu, u))
        assert "keyboard" not in first and "remove_keyboard" not in first
        assert second.get("keyboard"), (u, second)
        assert third.get("remove_keyboard"), (u, third)
    assert sum(s.replies.relayed_count for s in three.services[1:]) == 2 * len(users)


@pytest.mark.long
@pytest.mark.realtime
async def test_a_burst_over_three_instances_keeps_one_overall_budget(
    three: Router, emu: Any
) -> None:
    """90 residents' /help at once, spread over three instances: paced per instance they would
    go at up to 3 × 30/s; at Telegram's real speed the strict emulator refuses nothing."""
    users = [721_000 + n for n in range(90)]
    await _burst(three, emu, users, ("/help",))
    assert sum(s.replies.relayed_count for s in three.services[1:]) == 60


async def test_a_reply_of_an_instance_that_does_not_lead_wakes_the_leader(
    three: Router, emu: Any
) -> None:
    """The outbox's poll is ten minutes: the reply arrives within seconds only because the
    instance that handed it over woke the leader (NOTIFY); a missing wake-up times out."""
    leader, follower, _ = three.services
    three.pick = lambda data: 1
    user = 730_001
    emu.create_user(user, first_name="R")
    Person(emu, user).say("/help")
    await until(lambda: len(_replies(emu, user)) == 1, "the reply, sent by the leader", 20)
    await leader.dispatcher.drain(10)
    assert follower.replies.relayed_count == 1
    assert leader.dispatcher.sent_count == 1
    assert follower.wakeup.notified >= 1 and leader.wakeup.heard >= 1
