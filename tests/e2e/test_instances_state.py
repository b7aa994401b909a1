"""Two instances of the bot on one database, each update handed to one of them as the test
chooses (as several ``paotui run`` processes would share them): a form in progress carries
over whichever instance takes the next step, and a timeout the first instance scheduled stays
quiet once the person went on at the other, on PostgreSQL and on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select
from telegram import Update

from bot.clock import OffsetClock
from bot.config import Settings
from bot.db import Database, is_sqlite
from bot.runtime import Runtime
from bot.seed import seed_demo
from bot.services.orders import form
from handlers.flood_guard import FLOOD_KEY
from handlers.persistence import persistent_conversations, refresh
from handlers.resident_forms import TIMED_OUT
from handlers.runner import BotService
from models import ChatState, Order
from tests.conftest import TOKEN, make_settings
from tests.factories import ANSWERS, Harness, Z, bot_service, buttons, text_of
from tests.waiting import until

if TYPE_CHECKING:
    pass


@dataclass
class Instances:
    """Several BotServices on one database, none polling: a router takes each update from the
    emulator and hands it to ``target``, the way the runner handles one (refresh, process,
    persist)."""

    services: list[BotService]
    target: int = 0
    # (update id, instance, user id or 0), in the order handled
    handled: list[tuple[int, int, int]] = field(default_factory=list)
    _offset: int | None = None

    async def route(self) -> None:
        raw = self.services[0].raw_bot
        while True:
            updates = await raw.get_updates(offset=self._offset, timeout=1)
            for u in updates:
                self._offset = u.update_id + 1
                await self.handle(self.target, u.to_dict())

    async def handle(self, index: int, data: dict[str, Any]) -> None:
        app = self.services[index].app
        update = Update.de_json(data, app.bot)
        await refresh(app, update)
        await app.process_update(update)
        await app.update_persistence()
        user = update.effective_user
        self.handled.append((update.update_id, index, user.id if user else 0))

    def of(self, user_id: int) -> list[int]:
        """The instances that handled ``user_id``'s updates, in order."""
        return [index for _, index, user in self.handled if user == user_id]


async def _runtime(settings: Settings, *, seed: bool) -> Runtime:
    db = Database(settings.database.url)
    rt = Runtime(settings, db, OffsetClock())
    if seed:
        async with db.session() as s:
            await seed_demo(s, rt.clock)
    return rt


@contextlib.asynccontextmanager
async def instances(
    emu: Any, database_url: str, **overrides: Any
) -> AsyncIterator[tuple[Instances, Harness]]:
    """Two instances on the test's database (the backend `--db` chose), on the tests' settings
    with ``overrides``."""
    from handlers.main import populate_emulator

    settings = make_settings(database_url, **overrides)
    populate_emulator(emu, TOKEN)
    runtimes = [await _runtime(settings, seed=i == 0) for i in range(2)]
    services = [bot_service(rt, emu, TOKEN) for rt in runtimes]
    for service in services:
        await service.start(poll=False)
    inst = Instances(services)
    router = asyncio.create_task(inst.route())
    try:
        yield inst, Harness(service=services[0], rt=runtimes[0], emu=emu)
    finally:
        router.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await router
        for service in services:
            await service.stop()
        for rt in runtimes:
            await rt.db.dispose()


@pytest.fixture
async def two(emu: Any, database_url: str) -> AsyncIterator[tuple[Instances, Harness]]:
    async with instances(emu, database_url) as pair:
        yield pair


async def test_an_order_form_carries_over_between_instances(
    two: tuple[Instances, Harness],
) -> None:
    inst, h = two
    aunt = await h.register(1001, "周阿姨", settle=False)
    # /order on A, the kind on B, then each answer on the other instance than the last.
    inst.target = 0
    aunt.say("/order")
    kinds = await aunt.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
    inst.target = 1
    await aunt.press_data(kinds, "d:cat:groceries")
    answers = {**ANSWERS["groceries"], "urgency": "normal"}
    for i, st in enumerate(form.steps_for("groceries")):
        inst.target = i % 2
        prompt = form_prompt(st.prompt)
        current = await h.emu.wait_for(
            1001,
            lambda m, t=prompt: t in text_of(m),
            15.0,
            after_message_id=kinds["message_id"] - 1,
        )
        value = answers[st.key]
        if value in {c.value for c in st.choices}:
            await aunt.press_data(current, f"d:v:{value}")
        else:
            aunt.say(value)
    inst.target = 1 - inst.target
    summary = await h.form_summary(1001, kinds)
    ok = next(d for _, d in buttons(summary) if d.startswith("d:ok:"))
    qid = h.emu.press(1001, 1001, summary["message_id"], ok)
    await h.wait_edit(1001, summary["message_id"], lambda m: "#" in text_of(m))
    # The edit is out before the router saves the form's end: wait for the press's whole turn.
    pressed = h.emu.callback_queries[qid]["update_id"]
    await until(lambda: any(u == pressed for u, _, _ in inst.handled), "the press handled")
    # Both instances took part, and the order is the one answered.
    assert set(inst.of(1001)) == {0, 1}
    async with h.rt.db.read() as s:
        orders = list(await s.scalars(select(Order)))
        conv = list(await s.scalars(select(ChatState).where(ChatState.kind == "conv")))
    assert len(orders) == 1
    o = orders[0]
    assert o.category == "groceries"
    assert o.details == {k: v for k, v in ANSWERS["groceries"].items() if k not in form.COLUMN_KEYS}
    assert (o.time_window, o.payment) == (answers["time_window"], answers["payment"])
    assert conv == []  # the form is over on every instance's behalf


def form_prompt(msgid: str) -> str:
    from bot.i18n import gettext_for

    return gettext_for("zh_CN")(msgid)


async def test_the_flood_guard_counts_across_instances(two: tuple[Instances, Harness]) -> None:
    inst, h = two
    if is_sqlite(h.rt.db.url):
        pytest.skip("on SQLite one process counts in memory (handlers/flood_guard.py)")
    for service in inst.services:
        service.app.bot_data[FLOOD_KEY].per_minute = 3
    kid = h.person(1002, "小明")
    # Six messages in a few seconds, each to the other instance than the last.
    for i in range(6):
        inst.target = i % 2
        kid.say(f"/help {i}")
        await until(lambda n=i + 1: len(inst.of(1002)) >= n, f"update {i} handled")
    for service in inst.services:
        await service.dispatcher.drain(15.0)
    warning = Z("You are sending messages very fast. Please wait a minute, then try again.")
    replies = [text_of(m) for m in kid.chat()]
    # As on one instance: three answered, one friendly warning, the rest ignored.
    assert sum(warning in r for r in replies) == 1
    assert len(replies) == 4
    assert inst.of(1002) == [0, 1, 0, 1, 0, 1]


async def test_a_stale_timeout_on_one_instance_stays_quiet(emu: Any, database_url: str) -> None:
    """The order form begun on A goes on at B; A's timeout for it (scheduled at A's last step)
    fires while the person is still answering at B: A says nothing, forgets nothing and does not
    end the form for B, which finishes it."""
    limits = {"conversation_timeout_seconds": 3}
    async with instances(emu, database_url, limits=limits) as (inst, h):
        aunt = await h.register(1001, "周阿姨", settle=False)
        steps = form.steps_for("groceries")
        answers = {**ANSWERS["groceries"], "urgency": "normal"}
        inst.target = 0
        aunt.say("/order")
        kinds = await aunt.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
        await aunt.press_data(kinds, "d:cat:groceries")

        async def answer(i: int) -> None:
            prompt = form_prompt(steps[i].prompt)
            current = await h.emu.wait_for(
                1001, lambda m: prompt in text_of(m), 15.0, after_message_id=kinds["message_id"] - 1
            )
            value = answers[steps[i].key]
            before = len(inst.of(1001))
            if value in {c.value for c in steps[i].choices}:
                await aunt.press_data(current, f"d:v:{value}")
            else:
                aunt.say(value)
            await until(lambda: len(inst.of(1001)) > before, f"answer {i} handled")

        await answer(0)  # A's last step: its timeout is due in 3 s
        a_form = next(
            c for c in persistent_conversations(inst.services[0].app) if c.name == "order"
        )
        await until(lambda: (1001, 1001) in a_form.timeout_jobs, "A's timeout scheduled")
        inst.target = 1
        await answer(1)  # on B; the form's state stays the same, its answers change
        # The person stays busy at B (each sticker a step of the form there: "please type")
        # until A's timeout has fired and its turn is over.
        while (1001, 1001) in a_form.timeout_jobs or (1001, 1001) in a_form._conversations:
            before = len(inst.of(1001))
            h.emu.send_sticker(1001)
            await until(lambda n=before: len(inst.of(1001)) > n, "a sticker handled")
            await asyncio.sleep(0.5)
        for service in inst.services:
            await service.app.update_persistence()
            await service.dispatcher.drain(15.0)
        assert not any(Z(TIMED_OUT) in text_of(m) for m in aunt.chat())
        async with h.rt.db.read() as s:
            rows = await s.scalar(
                select(func.count())
                .select_from(ChatState)
                .where(ChatState.kind == "conv", ChatState.name == "order")
            )
        assert rows == 1  # the form is alive, for B

        for i in range(2, len(steps)):
            await answer(i)
        summary = await h.form_summary(1001, kinds)
        ok = next(d for _, d in buttons(summary) if d.startswith("d:ok:"))
        await aunt.press_data(summary, ok)
        await h.wait_edit(1001, summary["message_id"], lambda m: "#" in text_of(m))
        async with h.rt.db.read() as s:
            orders = list(await s.scalars(select(Order)))
        assert len(orders) == 1
        assert orders[0].description == answers["description"]  # A's answer, kept
        assert orders[0].payment == answers["payment"]
        assert set(inst.of(1001)) == {0, 1}
