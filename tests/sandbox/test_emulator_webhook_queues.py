"""The emulator's webhook delivery queue by queue, as the Bot API server's: a chat's messages one
at a time and in order (the next only after a 2xx, a refused one first tried again); a person's
button presses in a queue of their own beside it; the queues side by side over up to
setWebhook's max_connections, the ready ones by queue id. So a press and the message typed just
after it can arrive the other way round, which is what the bot must put right."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from sandbox.client import SandboxClient
from sandbox.emulator import Emulator
from sandbox.updates import queue_of
from tests.sandbox.conftest import ALICE, started
from tests.waiting import until


class Hook:
    """A webhook endpoint recording what arrives (update ids), answering from ``statuses`` in
    turn (then 200), holding each answer until ``release`` is set."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.received: list[int] = []
        self.statuses = list(statuses or [])
        self.release = asyncio.Event()
        self.release.set()
        self.in_flight = 0
        self.most_in_flight = 0
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            update: dict[str, Any] = await request.json()
            self.received.append(update["update_id"])
            await self.release.wait()
            return web.Response(status=self.statuses.pop(0) if self.statuses else 200)
        finally:
            self.in_flight -= 1

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{self.runner.addresses[0][1]}/hook"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def _a_button(client: SandboxClient, bot: Bot) -> int:
    await started(client, bot)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="ok")]])
    return (await bot.send_message(ALICE, "press me", reply_markup=keyboard)).message_id


def test_queues_as_the_bot_api_server_keys_them() -> None:
    message = {"update_id": 1, "message": {"chat": {"id": -5}, "from": {"id": 7}}}
    press = {"update_id": 2, "callback_query": {"from": {"id": 7}}}
    assert queue_of(message) == -5  # the chat's
    assert queue_of(press) == 7 + (3 << 33)  # the sender's presses, apart from their chat
    assert queue_of({"update_id": 3, "my_chat_member": {}}) == ("own", 3)


async def test_a_press_and_the_next_message_go_by_queue_not_by_update_id(
    emu: Emulator, bot: Bot, client: SandboxClient
) -> None:
    shown = await _a_button(client, bot)
    hook = Hook()
    url = await hook.start()
    try:
        assert await bot.set_webhook(url, max_connections=1)  # one at a time: the order shows
        # Both waiting at once (as when the bot was slow to answer): the press sent first.
        emu.press(ALICE, ALICE, shown, "ok")
        typed = emu.send_text(ALICE, "typed just after")
        await until(lambda: len(hook.received) == 2, "both delivered", 10)
        # The chat's queue (id = the chat's id) goes before the presses' (id + 3 << 33).
        assert hook.received == [typed["update_id"], typed["update_id"] - 1]
    finally:
        await hook.stop()


async def test_one_chat_in_order_behind_a_refusal_and_queues_side_by_side(
    emu: Emulator, bot: Bot, client: SandboxClient
) -> None:
    shown = await _a_button(client, bot)
    emu.webhook_retry_delay = 0.05
    hook = Hook(statuses=[500])
    url = await hook.start()
    try:
        assert await bot.set_webhook(url)  # max_connections 40
        first = emu.send_text(ALICE, "one")["update_id"]
        second = emu.send_text(ALICE, "two")["update_id"]
        await until(lambda: hook.received[-1:] == [second], "the second message", 10)
        assert hook.received == [first, first, second]  # refused, tried again, then the next
        # Two queues at once: the press goes while the chat's message is still unanswered.
        hook.release.clear()
        emu.send_text(ALICE, "three")
        emu.press(ALICE, ALICE, shown, "ok")
        await until(lambda: hook.in_flight == 2, "two deliveries under way together", 10)
        hook.release.set()
        await until(lambda: not emu.bot().pending, "all delivered", 10)
        assert hook.most_in_flight == 2
    finally:
        hook.release.set()
        await hook.stop()
