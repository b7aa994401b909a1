"""Webhook mode end to end: the real bot service behind the real webhook endpoint
(handlers/webhook.py), the emulator delivering updates by POST as Telegram does (the secret
header on every POST, retries after any non-2xx answer)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, text
from telegram.error import Conflict

from bot.clock import OffsetClock
from bot.db import Database
from bot.runtime import Runtime
from bot.services.orders import form
from handlers.main import populate_emulator
from handlers.registration import WELCOME
from handlers.transport import CALLS_IN_TRANSACTION
from handlers.webhook import SECRET_HEADER, WebhookServer
from models import InboxUpdate, Order
from tests.child_bot import ChildBot
from tests.conftest import TOKEN
from tests.factories import Harness, Z, bot_service, buttons, register_by_buttons, text_of
from tests.privacy_guard import GroupLog, group_leaks
from tests.waiting import until

pytest_plugins = ["tests.postgres"]

SECRET = "s3cret_-TOKEN"


def webhook_server(rt: Runtime, emu: Any) -> WebhookServer:
    """A bot service fed by webhook on a loopback port of its own (bound before the start, so
    the URL given to setWebhook names it)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    service = bot_service(rt, emu, TOKEN)
    return WebhookServer(service, url=f"http://127.0.0.1:{port}/telegram", secret=SECRET, sock=sock)


@pytest.fixture(params=["sqlite", "postgres"])
def any_rt(request: pytest.FixtureRequest) -> Runtime:
    """The seeded runtime of tests/conftest.py (SQLite) or of tests/postgres.py."""
    rt: Runtime = request.getfixturevalue("rt" if request.param == "sqlite" else "pg_rt")
    return rt


@pytest.fixture
async def hook(any_rt: Runtime, emu: Any) -> AsyncIterator[Harness]:
    """As the ``harness`` fixture, with updates arriving by webhook instead of getUpdates, on
    SQLite and on PostgreSQL."""
    rt = any_rt
    populate_emulator(emu, TOKEN)
    log = GroupLog().attach(emu)
    emu.webhook_retry_delay = 0.05
    server = webhook_server(rt, emu)
    await server.start()
    h = Harness(service=server.service, rt=rt, emu=emu, group_log=log)
    h.webhook = server  # type: ignore[attr-defined]
    CALLS_IN_TRANSACTION.clear()
    try:
        yield h
    finally:
        await server.stop()
    assert not CALLS_IN_TRANSACTION, f"Telegram called inside a transaction: {CALLS_IN_TRANSACTION}"
    assert not emu.bot(TOKEN).limiter.refused_ever
    assert not await group_leaks(rt, log)


async def inbox_ids(rt: Runtime) -> list[int]:
    async with rt.db.read() as s:
        return list(await s.scalars(select(InboxUpdate.update_id).order_by(InboxUpdate.update_id)))


async def post(url: str, body: bytes, secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as resp,
    ):
        return resp.status


async def caught_up(h: Harness) -> None:
    """Every update the emulator holds delivered, stored and processed."""
    bot = h.emu.bot(TOKEN)
    await until(lambda: not bot.pending and not bot.redeliveries, "the webhook deliveries", 30)
    await h.settle()


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "answered 500" in r.getMessage()]


def an_update(update_id: int, user_id: int, text: str) -> bytes:
    user = {"id": user_id, "is_bot": False, "first_name": "周阿姨"}
    message = {
        "message_id": 1,
        "date": int(time.time()),
        "chat": {"id": user_id, "type": "private", "first_name": "周阿姨"},
        "from": user,
        "text": text,
    }
    return json.dumps({"update_id": update_id, "message": message}).encode()


async def test_a_resident_registers_and_orders_by_webhook(hook: Harness) -> None:
    h = hook
    bot = h.emu.bot(TOKEN)
    assert bot.webhook["url"] == h.webhook.url and bot.webhook["secret_token"] == SECRET  # type: ignore[attr-defined]
    assert not h.service.polling
    with pytest.raises(Conflict):  # nobody polls: Telegram refuses getUpdates meanwhile
        await h.service.raw_bot.get_updates(timeout=0)

    aunt = h.person(1001, "周阿姨")
    await register_by_buttons(h, aunt)
    aunt.contact("13800001001")
    done = await aunt.expect("13800001001")
    assert "幸福小区 2栋 3-502" in text_of(done)
    confirmation = await h.order(aunt, "groceries", "两颗白菜", "today")
    assert "#1" in text_of(confirmation)
    await caught_up(h)
    assert await h.count(Order) == 1
    # Every update came by webhook, was stored and processed; Telegram holds none back.
    delivered = sorted(bot.log)
    assert await inbox_ids(h.rt) == delivered and len(delivered) >= 10
    assert not bot.pending and bot.webhook_error is None
    async with h.rt.db.read() as s:
        assert not list(
            await s.scalars(select(InboxUpdate).where(InboxUpdate.processed_at.is_(None)))
        )

    # Stopping leaves the webhook set: another instance behind the proxy may still serve it.
    await h.webhook.stop()  # type: ignore[attr-defined]
    assert bot.webhook is not None and bot.webhook["url"] == h.webhook.url  # type: ignore[attr-defined]


async def test_a_press_and_the_next_message_delivered_the_other_way_round(hook: Harness) -> None:
    """Telegram delivers a person's button presses and their messages in two queues over
    parallel connections: the press's POST can come after the message typed just after it.
    The bot stores and handles them in update_id order, as they were sent."""
    h = hook
    aunt = await h.register(1001, "周阿姨")
    aunt.say("/order")
    kinds = await aunt.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
    await caught_up(h)
    budget = form.steps_for("groceries")[1]  # asked once the description is in
    # The press's connection is slower than the message's: its POST sets off later.
    h.emu.webhook_latency = lambda update: 0.5 if "callback_query" in update else 0.0
    h.emu.press(1001, 1001, kinds["message_id"], "d:cat:groceries")
    typed = h.emu.send_text(1001, "两颗白菜，一盒鸡蛋")
    assert typed["update_id"] == max(h.emu.bot(TOKEN).log)  # sent after the press
    # As sent: the kind chosen, then the text taken as the description, then the budget asked.
    await aunt.expect(Z(budget.prompt))
    await caught_up(h)
    stray = Z("Please use the buttons above to continue, or /cancel to stop.")
    assert not any(stray in text_of(m) for m in aunt.chat())


async def test_a_post_without_the_secret_or_an_update_is_refused(hook: Harness) -> None:
    h = hook
    url = h.webhook.url  # type: ignore[attr-defined]
    h.person(1001, "周阿姨")
    good = an_update(500_001, 1001, "/help")
    await caught_up(h)
    before = await inbox_ids(h.rt)  # the groups' my_chat_member updates, by webhook
    assert await post(url, good, None) == 401
    assert await post(url, good, "wrong") == 401
    assert await post(url, good, SECRET + "x") == 401
    assert await post(url, good, "") == 401
    assert await post(url, b"{not json", SECRET) == 400
    assert await post(url, b"\xff\xfe", SECRET) == 400
    assert await post(url, b"[1, 2]", SECRET) == 400
    assert await post(url, b'{"update_id": "500001"}', SECRET) == 400
    assert await post(url, b'{"message": {}}', SECRET) == 400
    assert await inbox_ids(h.rt) == before  # nothing refused was stored
    assert await post(url, good, SECRET) == 200
    assert await inbox_ids(h.rt) == [*before, 500_001]
    await h.settle()


async def test_a_database_failure_answers_500_and_telegram_delivers_again(
    hook: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """The inbox table out of the way (renamed by another connection: every INSERT fails with
    the database's own "no such table" / "relation does not exist") while an update arrives:
    the bot answers 500, stores nothing, the emulator retries; once the table is back the
    update is stored and handled, once."""
    h = hook
    bot = h.emu.bot(TOKEN)
    aunt = h.person(1001, "周阿姨")
    await caught_up(h)
    before = await inbox_ids(h.rt)
    other = Database(h.rt.settings.database.url)  # another connection, as a DBA's
    try:
        async with other.session() as s:
            await s.execute(text("ALTER TABLE inbox RENAME TO inbox_away"))
        aunt.say("/start")
        await until(
            lambda: bot.webhook_error is not None and "500" in bot.webhook_error[1],
            "a 500 answered to the emulator",
            30,
        )
        # Delivered again and refused again, stored never.
        await until(lambda: len(refusals(caplog)) >= 3, "the emulator's retries", 30)
        assert bot.pending
    finally:
        async with other.session() as s:
            await s.execute(text("ALTER TABLE inbox_away RENAME TO inbox"))
        await other.dispose()
    await aunt.expect(Z(WELCOME))
    await until(lambda: not bot.pending, "the update delivered", 30)
    await h.settle()
    assert await inbox_ids(h.rt) == sorted(bot.log) == [*before, max(bot.log)]
    replies = [m for m in h.emu.messages(1001) if m["outgoing"] and Z(WELCOME)[:20] in text_of(m)]
    assert len(replies) == 1


async def test_two_instances_on_one_database_store_an_update_once(
    any_rt: Runtime, emu: Any
) -> None:
    """Two instances behind one proxy (two services, two webhook servers, one database, on
    SQLite and on PostgreSQL): the same update POSTed to both at once, three times each, is
    stored once; different updates spread over both are each stored."""
    populate_emulator(emu, TOKEN)
    emu.create_user(1001, first_name="周阿姨")
    url = any_rt.settings.database.url
    db2 = Database(url)
    rt2 = Runtime(any_rt.settings, db2, OffsetClock())
    first, second = webhook_server(any_rt, emu), webhook_server(rt2, emu)
    await first.start()
    await second.start()
    try:
        await until(lambda: not emu.bot(TOKEN).pending, "the groups' updates delivered", 30)
        before = await inbox_ids(any_rt)
        update = an_update(600_001, 1001, "/start")
        urls = [first.url, second.url]
        statuses = await asyncio.gather(*(post(u, update, SECRET) for u in urls * 3))
        assert statuses == [200] * 6
        assert await inbox_ids(any_rt) == [*before, 600_001]
        others = [an_update(600_100 + i, 1001, "/help") for i in range(10)]
        statuses = await asyncio.gather(
            *(post(urls[i % 2], body, SECRET) for i, body in enumerate(others + others))
        )
        assert statuses == [200] * 20
        stored = await inbox_ids(rt2)
        assert stored == [*before, 600_001, *range(600_100, 600_110)]
        await asyncio.wait_for(first.service.idle(), 30)
        await asyncio.wait_for(second.service.idle(), 30)
    finally:
        await second.stop()
        await first.stop()
        await db2.dispose()


@pytest.mark.parametrize("backend", ["postgres"])  # several instances: PostgreSQL only
async def test_two_instances_store_one_persons_updates_in_order(
    backend: str, pg_rt: Runtime, emu: Any
) -> None:
    """The later of two updates reaches one instance first, the earlier one the other a moment
    later: the later one is stored only once the earlier one is (the first instance sees it in
    the shared inbox), so the two are handled in the order they were sent."""
    populate_emulator(emu, TOKEN)
    emu.create_user(1001, first_name="周阿姨")
    rt2 = Runtime(pg_rt.settings, Database(pg_rt.settings.database.url), OffsetClock())
    first, second = webhook_server(pg_rt, emu), webhook_server(rt2, emu)
    await first.start()
    await second.start()
    try:
        await until(lambda: not emu.bot(TOKEN).pending, "the groups' updates delivered", 30)
        n = max(await inbox_ids(pg_rt)) + 1
        later = asyncio.create_task(post(first.url, an_update(n + 1, 1001, "/help"), SECRET))
        await asyncio.sleep(0.3)  # the earlier one's connection is slower
        assert await post(second.url, an_update(n, 1001, "/start"), SECRET) == 200
        assert await later == 200
        async with pg_rt.db.read() as s:
            rows = (
                await s.execute(
                    select(InboxUpdate.update_id)
                    .where(InboxUpdate.update_id >= n)
                    .order_by(InboxUpdate.received_at, InboxUpdate.update_id)
                )
            ).scalars()
            assert list(rows) == [n, n + 1]  # stored in the order sent
        assert first.order.gave_up == second.order.gave_up == 0
        await asyncio.wait_for(first.service.idle(), 30)
        await asyncio.wait_for(second.service.idle(), 30)
    finally:
        await second.stop()
        await first.stop()
        await rt2.db.dispose()


@pytest.mark.long
async def test_paotui_run_in_webhook_mode(rt: Runtime, emu: Any) -> None:
    """The real `paotui run` process, configured for webhook mode by the environment: it sets
    the webhook with its secret, answers through it, and on SIGTERM stops with status 0 and
    leaves the webhook set."""
    populate_emulator(emu, TOKEN)
    with socket.socket() as probe:  # a free port for the process to listen on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/tg/hook"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PAOTUI_")},
        "PAOTUI_BOT__TOKEN": TOKEN,
        "PAOTUI_BOT__API_BASE_URL": emu.base_url,
        "PAOTUI_BOT__API_FILE_URL": emu.base_file_url,
        "PAOTUI_BOT__MODE": "webhook",
        "PAOTUI_BOT__WEBHOOK_URL": url,
        "PAOTUI_BOT__LISTEN": f"127.0.0.1:{port}",
        "PAOTUI_BOT__WEBHOOK_SECRET": SECRET,
        "PAOTUI_DATABASE__URL": rt.settings.database.url,
        "PAOTUI_REPORTS__DAILY_SUMMARY_AT": "",
    }
    bot = emu.bot(TOKEN)
    async with ChildBot(env) as child:
        await child.wait_line("receiving updates by webhook")
        assert bot.webhook == {**bot.webhook, "url": url, "secret_token": SECRET}
        emu.send_text(1001, "/start")
        await emu.wait_for(1001, Z(WELCOME), 30)
        assert await post(url, an_update(700_001, 1001, "/start"), "wrong") == 401
        code = await child.stop()
    assert code == 0, child.lines[-20:]
    assert bot.webhook is not None and bot.webhook["url"] == url  # left for the other instances
    assert SECRET not in "\n".join(child.lines)  # never logged
