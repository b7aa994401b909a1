"""The emulator's faults and chat changes look like Telegram's to python-telegram-bot: an
outage, a stalled chat, a group upgraded to a supergroup (each through a real ``telegram.Bot``
and the HTTP control client)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.error import ChatMigrated, NetworkError

from sandbox.client import SandboxClient
from sandbox.emulator import Emulator
from tests.waiting import until

TOKEN = "123456:TEST-token"
ALICE = 1001
BASIC = -4001


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    emulator = Emulator()
    emulator.register_bot(TOKEN)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def bot(emu: Emulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as b:
        yield b


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(emu.url, token=TOKEN) as c:
        await c.create_user(ALICE, "Alice")
        yield c


async def test_an_outage_fails_every_call_until_lifted(bot: Bot, client: SandboxClient) -> None:
    await client.create_group("g", members=[ALICE], group_id=-1001000000077)
    await client.outage(502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(-1001000000077, "hi")
    with pytest.raises(NetworkError):
        await bot.get_updates(timeout=0)
    await client.outage(None)  # the connection is dropped: no answer at all
    with pytest.raises(NetworkError):
        await bot.send_message(-1001000000077, "hi")
    await client.end_outage()
    assert (await bot.send_message(-1001000000077, "back")).text == "back"


async def test_a_stalled_chat_holds_sends_until_released(
    emu: Emulator, bot: Bot, client: SandboxClient
) -> None:
    await client.create_group("g", members=[ALICE], group_id=-1001000000078)
    await client.stall(-1001000000078)
    send = asyncio.create_task(bot.send_message(-1001000000078, "held"))
    await until(lambda: emu.stalled_calls == 1, "the send to be held")
    assert not send.done()
    assert emu.messages(-1001000000078)[-1].get("text") != "held"
    await client.release(-1001000000078)
    assert (await send).text == "held"
    # after_delivery: the message is in the chat at once, only the answer waits.
    await client.stall(-1001000000078, after_delivery=True)
    send = asyncio.create_task(bot.send_message(-1001000000078, "delivered"))
    await until(lambda: emu.stalled_calls == 2, "the answer to be held")
    assert not send.done() and emu.messages(-1001000000078)[-1].get("text") == "delivered"
    await client.release(-1001000000078)
    assert (await send).text == "delivered"


async def test_a_group_upgraded_to_a_supergroup(
    emu: Emulator, bot: Bot, client: SandboxClient
) -> None:
    await client.create_group("basic", members=[ALICE], group_id=BASIC, chat_type="group")
    before = await bot.send_message(BASIC, "before")
    new = await client.upgrade_group(BASIC)
    new_id = new["id"]
    assert str(new_id).startswith("-100") and new["type"] == "supergroup"
    assert new["members"] == {str(ALICE): "creator"}
    # The old id answers 400 with migrate_to_chat_id: PTB raises ChatMigrated.
    with pytest.raises(ChatMigrated) as err:
        await bot.send_message(BASIC, "after")
    assert err.value.new_chat_id == new_id
    with pytest.raises(ChatMigrated):
        await bot.edit_message_text("edited", chat_id=BASIC, message_id=before.message_id)
    assert (await bot.send_message(new_id, "after")).chat.id == new_id
    # Both service messages reach the bot; the old history stays in the old chat.
    updates = await bot.get_updates(timeout=0)
    moves = [
        (u.message.chat.id, u.message.migrate_to_chat_id, u.message.migrate_from_chat_id)
        for u in updates
        if u.message and (u.message.migrate_to_chat_id or u.message.migrate_from_chat_id)
    ]
    assert moves == [(BASIC, new_id, None), (new_id, None, BASIC)]
    assert any(m.get("text") == "before" for m in emu.messages(BASIC))
