"""An instance that dies between the commit of an update's work and its reply (SIGKILL, a
power cut): the update, still unmarked (and, on PostgreSQL, still claimed), is handled again by
the next instance once the dead one's lease has run out (on SQLite: by the instance started
after it), and the person gets the reply the dead one never sent: the confirmation of an order
made once, or the next question of the form. On PostgreSQL and on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from telegram.request import BaseRequest

from bot.clock import OffsetClock
from bot.db import Database, is_sqlite
from bot.runtime import Runtime
from bot.seed import seed_demo
from bot.services.orders import form
from handlers.runner import BotService
from models import Order, OrderDraft
from tests.conftest import TOKEN, make_settings
from tests.factories import ANSWERS, Harness, Person, bot_service, buttons, text_of
from tests.waiting import until

# A killed instance abandons the connections its handlers held (as SIGKILL does): collected in
# the killing test (``kill``), whose warnings about them are expected, not in a later test.
pytestmark = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)

USER = 1001


def lose_replies(service: BotService, methods: set[str]) -> asyncio.Event:
    """From now on ``service``'s direct calls of these Bot API methods never reach Telegram,
    nor the outbox: they hang (the process dies before its reply goes out). The event is set
    when one hangs."""
    request: BaseRequest = service.app.bot._request[1]
    original = request.do_request
    hung = asyncio.Event()

    async def do_request(url: str, *args: Any, **kw: Any) -> tuple[int, bytes]:
        if url.rsplit("/", 1)[-1] in methods:
            hung.set()
            await asyncio.Event().wait()
        return await original(url, *args, **kw)

    request.do_request = do_request  # type: ignore[method-assign]
    # A reply queued behind what the outbox owes the chat (the order's live card, written with
    # the order) is handed to the outbox instead: that hand-off never happens either.
    limiter: Any = service.app.bot.rate_limiter
    defer = limiter._defer

    async def hand_off(endpoint: str, data: Any, chat_id: int, why: str | None) -> bool:
        if endpoint in methods:
            hung.set()
            await asyncio.Event().wait()
        return bool(await defer(endpoint, data, chat_id, why))

    limiter._defer = hand_off
    return hung


async def kill(service: BotService) -> None:
    """As SIGKILL: everything the instance runs stops where it is; nothing it claimed is
    released, nothing it handled is marked, no form is saved, its connections close (the
    leader's lock with them). Nothing of PTB's shutdown (which would save the forms)."""
    service._running = False
    tasks = [*service._tasks, *service._tails.values()]
    for extra in (service._poller, service._marker):
        if extra is not None:
            tasks.append(extra)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if service._leading:
        service._leading = False
        await service.dispatcher.stop()
    if service.app.job_queue is not None:
        await service.app.job_queue.stop(wait=False)
    await service.leadership.close()
    await service.wakeup.close()
    if service._claims is not None:
        await service._claims.close()
    await service.rt.db.dispose()
    await service.raw_bot.shutdown()
    await service.app.bot.shutdown()
    gc.collect()  # what it abandoned, reported here (filtered above), not in the next test


@contextlib.asynccontextmanager
async def first_instance(emu: Any, database_url: str) -> AsyncIterator[Harness]:
    """Instance A on the test's database, seeded, with short leases (a dead one's claims run
    out in 2 s)."""
    from handlers.main import populate_emulator

    settings = make_settings(database_url)
    populate_emulator(emu, TOKEN)
    rt = Runtime(settings, Database(database_url), OffsetClock())
    async with rt.db.session() as s:
        await seed_demo(s, rt.clock)
    service = bot_service(rt, emu, TOKEN)
    service.lease_seconds = 2.0
    await service.start()
    yield Harness(service=service, rt=rt, emu=emu)


@contextlib.asynccontextmanager
async def next_instance(
    emu: Any, database_url: str, *, leads: bool = True
) -> AsyncIterator[BotService]:
    """Instance B, started after A died, which takes A's update over once its lease ran out:
    the leader (A's lock is gone), or (``leads`` False, on PostgreSQL) an instance that does
    not lead, another one (which claims nothing) leading before it starts."""
    started: list[BotService] = []
    try:
        if not leads and not is_sqlite(database_url):
            rt = Runtime(make_settings(database_url), Database(database_url), OffsetClock())
            leader = bot_service(rt, emu, TOKEN)
            leader.claim_depth = 0
            await leader.start()
            started.append(leader)
            assert leader.leadership.leading
        rt = Runtime(make_settings(database_url), Database(database_url), OffsetClock())
        service = bot_service(rt, emu, TOKEN)
        await service.start()
        started.append(service)
        yield service
    finally:
        for each in reversed(started):
            await each.stop()
            await each.rt.db.dispose()


async def fill_form(h: Harness, p: Person, upto: int | None = None) -> dict[str, Any]:
    """/order, the parcel errand, the questions answered (all, or the first ``upto``); the
    last question asked (or the summary)."""
    p.say("/order")
    kinds = await p.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
    await p.press_data(kinds, "d:cat:other")
    steps = form.steps_for("other")
    answers = {**ANSWERS["other"], "urgency": "normal"}
    for i, st in enumerate(steps):
        prompt = form_prompt(st.prompt)
        current = await h.emu.wait_for(
            p.user_id,
            lambda m, t=prompt: t in text_of(m) and bool(buttons(m)),
            15.0,
            after_message_id=kinds["message_id"] - 1,
        )
        if i == upto:
            return current
        value = answers[st.key]
        if value in {c.value for c in st.choices}:
            await p.press_data(current, f"d:v:{value}")
        else:
            p.say(value)
    return await h.emu.wait_for(
        p.user_id,
        lambda m: any(d.startswith("d:ok:") for _, d in buttons(m)),
        15.0,
        after_message_id=kinds["message_id"] - 1,
    )


def form_prompt(msgid: str) -> str:
    from bot.i18n import gettext_for

    return gettext_for("zh_CN")(msgid)


@pytest.mark.parametrize("leads", [True, False], ids=["leader", "not-leader"])
async def test_a_confirmation_lost_with_its_instance_comes_from_the_next(
    emu: Any, database_url: str, leads: bool
) -> None:
    async with first_instance(emu, database_url) as h:
        aunt = await h.register(USER, "周阿姨")
        summary = await fill_form(h, aunt)
        await h.settle()
        ok = next(d for _, d in buttons(summary) if d.startswith("d:ok:"))
        hung = lose_replies(h.service, {"editMessageText", "sendMessage"})
        emu.press(USER, USER, summary["message_id"], ok)
        await asyncio.wait_for(hung.wait(), 15)  # committed, its reply under way
        assert await h.count(Order) == 1
        await kill(h.service)
    # The confirmation (the summary edited) never went out; the order's card, written with
    # the order, may have.
    shown = [m for m in emu.messages(USER) if m["message_id"] == summary["message_id"]]
    assert shown and "#" not in text_of(shown[-1])
    async with next_instance(emu, database_url, leads=leads) as b:
        hb = Harness(service=b, rt=b.rt, emu=emu)
        done = await hb.wait_edit(
            USER, summary["message_id"], lambda m: "#" in text_of(m), timeout=30
        )
        await asyncio.wait_for(b.idle(), 30)
        await b.dispatcher.drain(15)
        async with b.rt.db.read() as s:
            orders = list(await s.scalars(select(Order)))
        assert len(orders) == 1
        assert f"#{orders[0].id}" in text_of(done)
        # Once in the chat: the summary edited into it and the order's one live card, no
        # second confirmation or card.
        card = await hb.card(orders[0].id)
        said = [m for m in emu.messages(USER) if m["outgoing"] and "#" in text_of(m)]
        assert [m["message_id"] for m in said] == [summary["message_id"], card["message_id"]]


async def test_a_question_lost_with_its_instance_comes_from_the_next(
    emu: Any, database_url: str
) -> None:
    steps = form.steps_for("other")
    # The description: a typed answer (its next question a new message).
    typed = next(i for i, st in enumerate(steps) if not st.choices)
    async with first_instance(emu, database_url) as h:
        aunt = await h.register(USER, "周阿姨")
        await fill_form(h, aunt, upto=typed)
        await h.settle()
        hung = lose_replies(h.service, {"sendMessage", "editMessageText"})
        aunt.say(ANSWERS["other"][steps[typed].key])
        await asyncio.wait_for(hung.wait(), 15)
        await kill(h.service)
    nxt = form_prompt(steps[typed + 1].prompt)
    assert not any(nxt in text_of(m) for m in emu.messages(USER) if m["outgoing"])
    async with next_instance(emu, database_url) as b:
        await emu.wait_for(USER, lambda m: nxt in text_of(m), 30.0)
        await asyncio.wait_for(b.idle(), 30)
        async with b.rt.db.read() as s:
            draft = await s.scalar(select(OrderDraft))
        assert draft is not None
        assert draft.description == ANSWERS["other"]["description"]
        asked = [m for m in emu.messages(USER) if m["outgoing"] and nxt in text_of(m)]
        assert len(asked) == 1
        # The form goes on at B: the rest answered, one order.
        p = Person(emu, USER)
        summary = await fill_rest(emu, p, typed + 1)
        ok = next(d for _, d in buttons(summary) if d.startswith("d:ok:"))
        await p.press_data(summary, ok)
        await Harness(service=b, rt=b.rt, emu=emu).wait_edit(
            USER, summary["message_id"], lambda m: "#" in text_of(m)
        )
        async with b.rt.db.read() as s:
            assert len(list(await s.scalars(select(Order)))) == 1


async def fill_rest(emu: Any, p: Person, start: int) -> dict[str, Any]:
    steps = form.steps_for("other")
    answers = {**ANSWERS["other"], "urgency": "normal"}
    seen = 0
    for st in steps[start:]:
        prompt = form_prompt(st.prompt)
        current = await emu.wait_for(
            p.user_id,
            lambda m, t=prompt: t in text_of(m) and bool(buttons(m)),
            15.0,
            after_message_id=seen,
        )
        seen = current["message_id"] - 1
        value = answers[st.key]
        if value in {c.value for c in st.choices}:
            await p.press_data(current, f"d:v:{value}")
        else:
            p.say(value)
    return await emu.wait_for(
        p.user_id, lambda m: any(d.startswith("d:ok:") for _, d in buttons(m)), 15.0
    )


async def test_an_update_handled_keeps_its_lease_until_it_is_marked(
    emu: Any, database_url: str
) -> None:
    """PostgreSQL: instance A handled an update and its mark is slow to land (a busy database):
    the update stays A's, however long past its lease, and B never handles it a second time
    (that second handling, beside the person's next update, could put the form's previous
    question back over the summary being confirmed)."""
    if is_sqlite(database_url):
        pytest.skip("one instance on SQLite: no leases")
    async with first_instance(emu, database_url) as h:
        a = h.service
        aunt = await h.register(USER, "周阿姨")
        await until(lambda: len(aunt.chat()) == 1, "the reply to her first message")
        await h.settle()
        a.lease_seconds = 1.0
        landed = asyncio.Event()
        original = a._mark_handled

        async def slow_mark() -> None:
            await landed.wait()
            await original()

        a._mark_handled = slow_mark  # type: ignore[method-assign]
        before = len(aunt.chat())
        aunt.say("/help")
        await until(lambda: len(aunt.chat()) > before, "the reply")
        async with next_instance(emu, database_url) as b:
            await asyncio.sleep(4 * a.lease_seconds)  # the lease it was claimed with: long over
            landed.set()
            await asyncio.wait_for(b.idle(), 30)
            await b.dispatcher.drain(15)
            assert len(aunt.chat()) == before + 1
        await a.stop()
        await a.rt.db.dispose()
