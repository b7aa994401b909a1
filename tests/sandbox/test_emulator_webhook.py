"""The emulator's webhook delivery as Telegram's: setWebhook's secret_token checked by
Telegram's rule and sent back in X-Telegram-Bot-Api-Secret-Token on every POST, retries
included; without a secret_token, no header."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import BadRequest

from sandbox.client import SandboxClient
from sandbox.emulator import Emulator
from tests.sandbox.conftest import ALICE
from tests.waiting import until


async def serve(statuses: list[int], received: list[str | None]) -> tuple[web.AppRunner, str]:
    async def hook(request: web.Request) -> web.Response:
        received.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        return web.Response(status=statuses[min(len(received), len(statuses)) - 1])

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/hook"


async def test_the_secret_on_every_delivery_retries_included(
    emu: Emulator, bot: Bot, client: SandboxClient
) -> None:
    received: list[str | None] = []
    runner, url = await serve([500, 401, 200], received)
    emu.webhook_retry_delay = 0.05
    try:
        assert await bot.set_webhook(url, secret_token="Ab_9-z")
        await client.send_text(ALICE, "/start")
        await until(lambda: len(received) >= 3, "three deliveries", 10)
        await asyncio.sleep(0.1)
        assert received == ["Ab_9-z"] * 3  # retried after 500 and 401, then accepted
        # Without a secret_token, no header.
        assert await bot.set_webhook(url)
        await client.send_text(ALICE, "/help")
        await until(lambda: len(received) >= 4, "the fourth delivery", 10)
        assert received[3] is None
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("secret", ["has space", "ü", "x" * 257])
async def test_a_secret_token_telegram_refuses(emu: Emulator, bot: Bot, secret: str) -> None:
    with pytest.raises(BadRequest, match="unallowed characters"):
        await bot.set_webhook("http://127.0.0.1:9/hook", secret_token=secret)
    assert (await bot.get_webhook_info()).url == ""
