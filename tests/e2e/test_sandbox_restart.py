"""`make run` without a token, stopped and started again on the same database (what anyone
trying the sandbox does): the emulator starts empty each time, the database does not.

- The bot still hears every user: Telegram's update ids only grow; an emulator counting from 1
  again fell below the poller's offset, and the bot answered nothing after a restart.
- The bot may still write to residents registered before: they have started it (a notice sent
  after the restart reached nobody: "bot can't initiate conversation")."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.clock import OffsetClock
from bot.db import Database
from bot.seed import DEMO
from bot.services import directory, residents
from handlers.groupbuys import NO_ORDERS
from handlers.help import HELP_RESIDENT
from handlers.keyboards import MENU_GROUPBUYS
from sandbox.client import SandboxClient
from tests.child_bot import ChildBot
from tests.conftest import EXAMPLE
from tests.factories import STAFF, Z
from tests.postgres import free_port

AUNT = 1001
STARTED = "bot started as"
NOTICE = "明早八点核酸检测，请按单元顺序下楼（重启后的通知）"


def _env(db_url: str, port: int, web_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAOTUI_")}
    return {
        **env,
        "PAOTUI_CONFIG": str(EXAMPLE),
        "PAOTUI_DATABASE__URL": db_url,
        "PAOTUI_SANDBOX__PORT": str(port),
        "PAOTUI_SANDBOX__WEB_PORT": str(web_port),
        "PAOTUI_BOT__POLL_TIMEOUT": "2",
        "PAOTUI_REPORTS__DAILY_SUMMARY_AT": "",
    }


def _with(data: str) -> Callable[[dict], bool]:
    return lambda m: data in str(m.get("reply_markup"))


async def _says_and_is_answered(c: SandboxClient, user: int, text: str, answer: Any) -> dict:
    sent = await c.send_text(user, text)
    return await c.wait_for(user, answer, timeout=60, after_message_id=sent["message_id"])


async def _press(c: SandboxClient, user: int, msg: dict, data: str) -> None:
    await c.press(user, user, msg["message_id"], data)


async def test_make_run_restarted_hears_and_reaches_everyone(tmp_path: Path) -> None:
    port = free_port()
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'paotui.db'}"
    env = _env(db_url, port, free_port())
    url = f"http://127.0.0.1:{port}"
    which = Z("Which compound (小区)?")
    async with ChildBot(env) as first, SandboxClient(url) as c:
        await first.wait_line(STARTED)
        await _says_and_is_answered(c, AUNT, "/start", which)
        await _says_and_is_answered(c, AUNT, "/cancel", Z("Stopped. Nothing was sent."))
    # Registered meanwhile, as if the first run had finished her registration.
    db = Database(db_url)
    async with db.session() as s:
        b = await directory.building_by_code(s, "xf1")
        assert b is not None
        await residents.register(
            s,
            OffsetClock(),
            telegram_id=AUNT,
            name="周阿姨",
            phone="13800001001",
            building_id=b.id,
            unit="1",
            room="302",
        )
    await db.dispose()

    async with ChildBot(env) as second, SandboxClient(url) as c:
        await second.wait_line(STARTED)
        # Staff send a notice to the whole community: it reaches her.
        whom = await _says_and_is_answered(c, STAFF, "/notice", _with("n:a:community"))
        await _press(c, STAFF, whom, "n:a:community")
        await c.wait_for(STAFF, lambda m: "n:a:" not in str(m.get("reply_markup")), timeout=30)
        preview = await _says_and_is_answered(c, STAFF, NOTICE, _with("n:send"))
        await _press(c, STAFF, preview, "n:send")
        await c.wait_for(AUNT, NOTICE, timeout=60)  # before she wrote anything in this run
        await _says_and_is_answered(c, AUNT, "/help", Z(HELP_RESIDENT)[:8])
        # The demo has a partner merchant's group-buy open for her building, to try.
        card = await _says_and_is_answered(c, AUNT, Z(MENU_GROUPBUYS), _with("gb:a:"))
        assert DEMO.merchant_name in card["text"]
        await _says_and_is_answered(c, DEMO.merchants[0][0], "/merchant", Z(NO_ORDERS))
