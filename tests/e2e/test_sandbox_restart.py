"""`make run` without a token, stopped and started again on the same database (what anyone
trying the sandbox does): the emulator starts empty each time, the database does not, and the
bot must still hear every user (Telegram's update ids only grow; an emulator counting from 1
again fell below the poller's offset, and the bot answered nothing after a restart)."""

from __future__ import annotations

import os
from pathlib import Path

from sandbox.client import SandboxClient
from tests.child_bot import ChildBot
from tests.conftest import EXAMPLE
from tests.factories import Z
from tests.postgres import free_port

AUNT = 1001
STARTED = "bot started as"


def _env(tmp_path: Path, port: int, web_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAOTUI_")}
    return {
        **env,
        "PAOTUI_CONFIG": str(EXAMPLE),
        "PAOTUI_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'paotui.db'}",
        "PAOTUI_SANDBOX__PORT": str(port),
        "PAOTUI_SANDBOX__WEB_PORT": str(web_port),
        "PAOTUI_BOT__POLL_TIMEOUT": "2",
        "PAOTUI_REPORTS__DAILY_SUMMARY_AT": "",
    }


async def _says_and_is_answered(url: str, text: str, answer: str) -> None:
    async with SandboxClient(url) as c:
        sent = await c.send_text(AUNT, text)
        await c.wait_for(AUNT, answer, timeout=60, after_message_id=sent["message_id"])


async def test_the_bot_hears_users_after_make_run_is_restarted(tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, port, free_port())
    url = f"http://127.0.0.1:{port}"
    welcome = Z("Which compound (小区)?")
    async with ChildBot(env) as first:
        await first.wait_line(STARTED)
        await _says_and_is_answered(url, "/start", welcome)
        await _says_and_is_answered(url, "/cancel", Z("Stopped. Nothing was sent."))
    async with ChildBot(env) as second:
        await second.wait_line(STARTED)
        await _says_and_is_answered(url, "/start", welcome)
