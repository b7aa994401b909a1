"""The emulator holds a bot to Telegram's flood limits and fails the way Telegram does (429 with
retry_after, injected 5xx, Forbidden, not found), through a real ``telegram.Bot``."""

from __future__ import annotations

import datetime as dtm

import pytest
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from sandbox.client import SandboxClient
from sandbox.emulator import Emulator
from tests.sandbox.conftest import ALICE, BOB, TOKEN, started


async def test_private_chat_burst_limit(emu: Emulator, bot: Bot, client: SandboxClient) -> None:
    await started(client, bot)
    await client.set_limits(private_rate=1, private_burst=3, global_rate=None)
    for i in range(3):
        await bot.send_message(ALICE, f"msg {i}")
    with pytest.raises(RetryAfter) as exc:
        await bot.send_message(ALICE, "one too many")
    assert exc.value.retry_after == dtm.timedelta(seconds=1)
    stats = await client.stats()
    assert stats["rate_limited"] == 1 and stats["sent"] == 3 and stats["per_chat"][ALICE] == 3
    assert len(await client.bot_messages(ALICE)) == 3  # the refused call had no effect
    assert await client.rate_limited() == 1
    # answerCallbackQuery / getMe / chat actions are not message-producing.
    assert await bot.send_chat_action(ALICE, "typing")
    await bot.get_me()


async def test_group_limit(emu: Emulator, bot: Bot, client: SandboxClient) -> None:
    emu.set_limits(group_rate=2, group_window=3)
    group = await client.create_group("网格一群", [ALICE, BOB])
    other = await client.create_group("网格二群", [BOB])
    await bot.send_message(group["id"], "1")
    await bot.send_message(group["id"], "2")
    with pytest.raises(RetryAfter) as exc:
        await bot.send_message(group["id"], "3")
    assert exc.value.retry_after == dtm.timedelta(seconds=3)
    await bot.send_message(other["id"], "another group has its own window")
    assert emu.stats(TOKEN)["per_chat_rate_limited"] == {group["id"]: 1}


async def test_global_limit(emu: Emulator, bot: Bot, client: SandboxClient) -> None:
    users = [await client.create_user(2000 + i, f"U{i}") for i in range(4)]
    for user in users:
        await client.send_text(user["id"], "/start")
    emu.set_limits(global_rate=3, global_window=2)
    for user in users[:3]:
        await bot.send_message(user["id"], "hi")
    with pytest.raises(RetryAfter) as exc:
        await bot.send_message(users[3]["id"], "hi")
    assert exc.value.retry_after == dtm.timedelta(seconds=2)
    assert emu.stats()["rate_limited"] == 1


async def test_injected_failures(bot: Bot, client: SandboxClient) -> None:
    await started(client, bot)
    await client.fail_next(1, status=500)
    with pytest.raises(NetworkError):
        await bot.send_message(ALICE, "boom")
    await client.fail_next(1, status=502)
    with pytest.raises(NetworkError, match=r"(?i)Bad Gateway"):
        await bot.send_message(ALICE, "boom")
    await client.fail_next(1, status=429, retry_after=7)
    with pytest.raises(RetryAfter) as exc:
        await bot.send_message(ALICE, "boom")
    assert exc.value.retry_after == dtm.timedelta(seconds=7)
    assert (await bot.send_message(ALICE, "ok now")).text == "ok now"
    stats = await client.stats()
    assert (stats["injected_failures"], stats["rate_limited"], stats["sent"]) == (3, 1, 1)


async def test_fail_every_answers_every_nth_call_with_bad_gateway(
    bot: Bot, client: SandboxClient
) -> None:
    await started(client, bot)
    await client.set_limits(private_rate=None)
    await client.fail_every(3)
    outcomes = []
    for i in range(6):
        try:
            await bot.send_message(ALICE, f"#{i}")
            outcomes.append("ok")
        except NetworkError as exc:
            assert "bad gateway" in str(exc).lower()
            outcomes.append("502")
    assert outcomes == ["ok", "ok", "502", "ok", "ok", "502"]
    await client.fail_every(0)
    for i in range(4):
        await bot.send_message(ALICE, f"calm {i}")
    stats = await client.stats()
    assert (stats["injected_failures"], stats["sent"]) == (2, 8)
    # Only some methods: every getMe fails, messages go through.
    await client.fail_every(1, methods=["getMe"])
    with pytest.raises(NetworkError):
        await bot.get_me()
    assert (await bot.send_message(ALICE, "still fine")).text == "still fine"
    await client.fail_every(None)
    assert (await bot.get_me()).id == bot.id


async def test_forbidden_and_not_found(emu: Emulator, bot: Bot, client: SandboxClient) -> None:
    with pytest.raises(Forbidden, match=r"(?i)can't initiate conversation"):
        await bot.send_message(BOB, "hello stranger")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(999_999, "nobody")
    offset = await started(client, bot)
    await client.block_bot(ALICE)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(ALICE, "hello?")
    (update,) = await bot.get_updates(offset=offset, timeout=0)
    member = update.my_chat_member
    assert member.new_chat_member.status == "kicked" and member.from_user.id == ALICE
    # Writing again means "Restart": the bot may answer again.
    await client.send_text(ALICE, "/start")
    assert await bot.send_message(ALICE, "welcome back")
    group = await client.create_group("无机器人群", [ALICE], with_bot=False)
    with pytest.raises(Forbidden, match=r"(?i)not a member"):
        await bot.send_message(group["id"], "hi")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(-100123, "hi")
