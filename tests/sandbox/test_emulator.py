"""The emulator must look like Telegram to python-telegram-bot: every call here goes through a real
``telegram.Bot`` over HTTP, so PTB's own ``de_json`` validates each result shape."""

from __future__ import annotations

import asyncio
import datetime as dtm
import os
import sys
import time

import httpx
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from sandbox.client import SandboxClient
from sandbox.emulator import Emulator
from sandbox.errors import SandboxError
from tests.factories import png
from tests.sandbox.conftest import ALICE, BOB, ROOT, TOKEN, started


async def test_get_me_urls_and_unknown_method(emu: Emulator, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "paotui_bot", True)
    assert emu.base_url == emu.url + "/bot"
    async with httpx.AsyncClient() as http:
        resp = await http.post(f"{emu.base_url}{TOKEN}/noSuchMethod")
        assert resp.status_code == 404
        assert resp.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method not found",
        }
        # Method names are case-insensitive; a JSON body works as well as PTB's form fields.
        resp = await http.post(f"{emu.base_url}other-bot/GETME", json={})
        assert resp.json()["ok"] and resp.json()["result"]["id"] > 0


async def test_updates_offsets_and_long_polling(
    emu: Emulator, bot: Bot, client: SandboxClient
) -> None:
    sent = await client.send_text(ALICE, "/start order_42")
    assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert sent["date"] == 1_750_000_000  # the fake clock
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [sent["update_id"]]
    msg = updates[0].message
    assert msg.text == "/start order_42" and msg.from_user.username == "alice"
    assert msg.chat.type == "private" and msg.chat.id == ALICE
    assert msg.from_user.language_code == "zh-hans"
    # Not confirmed yet: delivered again; confirming with offset drops it.
    assert len(await bot.get_updates(timeout=0)) == 1
    offset = sent["update_id"] + 1
    assert await bot.get_updates(offset=offset, timeout=0) == ()

    # Long polling returns as soon as an update arrives, not at the timeout.
    poll = asyncio.create_task(bot.get_updates(offset=offset, timeout=5))
    await asyncio.sleep(0.1)
    begin = time.monotonic()
    second = await client.send_text(ALICE, "你好")
    got = await poll
    assert time.monotonic() - begin < 1.0
    assert [u.update_id for u in got] == [second["update_id"]]
    assert got[0].message.text == "你好" and got[0].message.entities == ()
    stats = await client.stats()
    assert stats["pending_updates"] == 1 and stats["calls"]["getUpdates"] == 4


async def test_inline_keyboard_edit_and_callback(
    emu: Emulator, bot: Bot, client: SandboxClient
) -> None:
    offset = await started(client, bot)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("接单", callback_data="take:7"),
                InlineKeyboardButton("详情", url="https://example.com"),
            ]
        ]
    )
    sent = await bot.send_message(ALICE, "新订单 #7", reply_markup=keyboard)
    assert sent.reply_markup == keyboard and sent.from_user.id == 123456
    stored = await client.last_bot_message(ALICE)
    assert SandboxClient.buttons(stored) == [("接单", "take:7"), ("详情", None)]

    with pytest.raises(SandboxError) as refused:
        await client.press(ALICE, ALICE, sent.message_id, "take:8")
    assert refused.value.status == 400
    query_id = await client.press(ALICE, ALICE, sent.message_id, "take:7")
    (update,) = await bot.get_updates(offset=offset, timeout=0)
    query = update.callback_query
    assert (query.id, query.data, query.from_user.id) == (query_id, "take:7", ALICE)
    assert query.message.message_id == sent.message_id and query.message.text == "新订单 #7"
    assert query.chat_instance

    assert await bot.answer_callback_query(query.id, text="已接单", show_alert=True)
    answer = await client.callback_answer(query_id)
    assert answer["text"] == "已接单" and answer["show_alert"] is True
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)

    edited = await bot.edit_message_text(
        "订单 #7 已被接单", chat_id=ALICE, message_id=sent.message_id, reply_markup=keyboard
    )
    assert edited.edit_date is not None and edited.reply_markup == keyboard
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "订单 #7 已被接单", chat_id=ALICE, message_id=sent.message_id, reply_markup=keyboard
        )
    # Without reply_markup an edit drops the inline keyboard, like Telegram.
    plain = await bot.edit_message_text("订单 #7 完成", chat_id=ALICE, message_id=sent.message_id)
    assert plain.reply_markup is None
    found = await client.wait_for(ALICE, "完成", timeout=1)
    assert found["edited"] == 2 and [h["text"] for h in found["edit_history"]] == [
        "新订单 #7",
        "订单 #7 已被接单",
    ]
    # Forged data (button gone) only with force; the bot still receives it.
    forged = await client.press(ALICE, ALICE, sent.message_id, "take:7", force=True)
    updates = await bot.get_updates(offset=update.update_id + 1, timeout=0)
    assert updates[0].callback_query.id == forged
    assert await bot.edit_message_reply_markup(ALICE, sent.message_id, reply_markup=keyboard)
    assert await bot.delete_message(ALICE, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=ALICE, message_id=sent.message_id)
    assert (await client.messages(ALICE))[-1]["deleted"] is True
    assert await client.last_bot_message(ALICE) is None
    with pytest.raises(TimeoutError, match="not answered"):
        await client.callback_answer(forged, timeout=0.2)


async def test_photos_documents_and_file_download(
    emu: Emulator, bot: Bot, client: SandboxClient
) -> None:
    offset = await started(client, bot)
    image = png(300, 200)
    sent = await bot.send_photo(ALICE, photo=image, caption="<b>取件码</b> 1234", parse_mode="HTML")
    big = sent.photo[-1]
    assert (big.width, big.height, big.file_size) == (300, 200, len(image))
    assert sent.photo[0].width == 90  # thumbnail size first, like Telegram
    assert sent.caption == "取件码 1234"
    assert sent.caption_entities[0].type == "bold" and sent.caption_entities[0].length == 3
    again = await bot.send_photo(ALICE, photo=big.file_id)
    assert again.photo[-1].file_id == big.file_id
    tg_file = await bot.get_file(big.file_id)
    assert tg_file.file_path.startswith(emu.base_file_url)
    assert bytes(await tg_file.download_as_bytearray()) == image
    assert await client.download(big.file_id) == image
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_photo(ALICE, photo="nope")

    doc = await bot.send_document(
        ALICE, document=b"%PDF-1.4 receipt", filename="receipt.pdf", caption="收据"
    )
    assert doc.document.file_name == "receipt.pdf" and doc.caption == "收据"
    edited = await bot.edit_message_caption(ALICE, doc.message_id, caption="新收据")
    assert edited.caption == "新收据"

    # A user's photo reaches the bot as PhotoSize list it can download.
    user_photo = await client.send_photo(ALICE, png(1200, 900), caption="门牌")
    (update,) = await bot.get_updates(offset=offset, timeout=0)
    assert update.update_id == user_photo["update_id"]
    photo = update.message.photo[-1]
    assert (photo.width, photo.height) == (1200, 900) and update.message.caption == "门牌"
    downloaded = await (await bot.get_file(photo.file_id)).download_as_bytearray()
    assert bytes(downloaded) == png(1200, 900)


async def test_commands(bot: Bot) -> None:
    commands = [BotCommand("start", "开始"), BotCommand("orders", "我的订单")]
    assert await bot.set_my_commands(commands)
    assert await bot.set_my_commands(
        [BotCommand("admin", "管理")], scope=BotCommandScopeChat(ALICE)
    )
    assert await bot.get_my_commands() == tuple(commands)
    assert [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(ALICE))] == [
        "admin"
    ]
    with pytest.raises(BadRequest):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


async def test_contact_voice_sticker_location_updates(bot: Bot, client: SandboxClient) -> None:
    contact = await client.send_contact(ALICE, "+8613800000000")
    voice = await client.send_voice(ALICE, b"OggS-fake", duration=3)
    sticker = await client.send_sticker(ALICE, "🚲")
    location = await client.send_location(ALICE, 31.23, 121.47)
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [
        m["update_id"] for m in (contact, voice, sticker, location)
    ]
    c, v, s, loc = (u.message for u in updates)
    assert (c.contact.phone_number, c.contact.user_id, c.contact.first_name) == (
        "+8613800000000",
        ALICE,
        "Alice",
    )
    assert v.voice.duration == dtm.timedelta(seconds=3) and v.voice.mime_type == "audio/ogg"
    assert bytes(await (await bot.get_file(v.voice.file_id)).download_as_bytearray()) == (
        b"OggS-fake"
    )
    assert s.sticker.emoji == "🚲" and s.sticker.type == "regular"
    assert (loc.location.latitude, loc.location.longitude) == (31.23, 121.47)


async def test_redelivery_repeats_the_same_update(bot: Bot, client: SandboxClient) -> None:
    sent = await client.send_text(ALICE, "/start")
    first = (await bot.get_updates(timeout=0))[0]
    offset = first.update_id + 1
    assert await bot.get_updates(offset=offset, timeout=0) == ()
    assert await client.redeliver(sent["update_id"]) == sent["update_id"]
    again = await bot.get_updates(offset=offset, timeout=0)
    assert [u.update_id for u in again] == [first.update_id]
    assert again[0].to_dict() == first.to_dict()
    # Once returned, the same offset confirms it.
    assert await bot.get_updates(offset=offset, timeout=0) == ()


async def test_groups_members_and_chat_methods(
    emu: Emulator, bot: Bot, client: SandboxClient
) -> None:
    group = await client.create_group("跑腿志愿者群", [ALICE, BOB], username="paotui_grid")
    gid = group["id"]
    assert gid < -1_000_000_000_000 and group["type"] == "supergroup"
    updates = await bot.get_updates(timeout=0)
    joined, service = updates[0].my_chat_member, updates[1].message
    assert joined.new_chat_member.status == "administrator" and joined.from_user.id == ALICE
    assert service.new_chat_members[0].id == 123456
    offset = updates[-1].update_id + 1

    said = await client.send_text(BOB, "/orders@paotui_bot", gid)
    cai = await client.create_user(2001, "Cai")
    await client.add_member(gid, cai["id"], by=ALICE)
    updates = await bot.get_updates(offset=offset, timeout=0)
    assert updates[0].update_id == said["update_id"]
    assert updates[0].message.chat.title == "跑腿志愿者群"
    assert updates[0].message.entities[0].length == len("/orders@paotui_bot")
    assert updates[1].message.new_chat_members[0].first_name == "Cai"
    assert updates[1].message.from_user.id == ALICE

    chat = await bot.get_chat(gid)
    assert chat.title == "跑腿志愿者群" and chat.type == "supergroup"
    assert (await bot.get_chat("@paotui_grid")).id == gid
    assert (await bot.get_chat_member(gid, ALICE)).status == "creator"
    assert (await bot.get_chat_member(gid, BOB)).status == "member"
    assert (await bot.get_chat_member(gid, 123456)).status == "administrator"
    admins = await bot.get_chat_administrators(gid)
    assert {a.user.id for a in admins} == {ALICE, 123456}
    assert await bot.get_chat_member_count(gid) == 4
    link = await bot.create_chat_invite_link(gid, name="志愿者招募")
    assert link.invite_link.startswith("https://t.me/+") and link.creator.id == 123456
    sent = await bot.send_message(gid, "置顶通知")
    assert await bot.pin_chat_message(gid, sent.message_id)
    assert (await bot.get_chat(gid)).pinned_message.message_id == sent.message_id
    assert await bot.unpin_chat_message(gid, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat(ALICE)  # Alice never opened the private chat
    private = await client.send_text(ALICE, "帮我取快递")
    assert (await bot.get_chat(ALICE)).first_name == "Alice"
    forwarded = await bot.forward_message(gid, ALICE, private["message_id"])
    assert forwarded.text == "帮我取快递" and forwarded.forward_origin.sender_user.id == ALICE
    copied = await bot.copy_message(gid, ALICE, private["message_id"])
    assert (await client.messages(gid))[-1]["message_id"] == copied.message_id
    assert await bot.leave_chat(gid)
    with pytest.raises(Forbidden):
        await bot.send_message(gid, "gone")
    info = await client.chat(gid)
    assert info["members"][str(ALICE)] == "creator" and info["bots"]["123456"] == "left"


async def test_parse_modes_and_keyboards(bot: Bot, client: SandboxClient) -> None:
    await started(client, bot)
    html = await bot.send_message(
        ALICE, 'Hi <a href="https://t.me/x">链接</a> &lt;3', parse_mode="HTML"
    )
    assert html.text == "Hi 链接 <3"
    assert html.entities[0].type == "text_link" and html.entities[0].url == "https://t.me/x"
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(ALICE, "price <5 yuan", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)Character '\.' is reserved"):
        await bot.send_message(ALICE, "*订单* 12.5 元", parse_mode="MarkdownV2")
    md = await bot.send_message(ALICE, r"*订单* 12\.5 元 🚲 _快_", parse_mode="MarkdownV2")
    assert md.text == "订单 12.5 元 🚲 快"
    # Offsets count UTF-16 code units: the bicycle emoji is two.
    assert [(e.type, e.offset, e.length) for e in md.entities] == [
        ("bold", 0, 2),
        ("italic", 13, 1),
    ]
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(
            ALICE,
            "x",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("too long", callback_data="x" * 65)]]
            ),
        )

    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton("📱 发送手机号", request_contact=True)], ["取消"]], resize_keyboard=True
    )
    sent = await bot.send_message(ALICE, "请分享手机号", reply_markup=keyboard)
    assert sent.reply_markup is None  # the Bot API never echoes reply keyboards
    stored = await client.wait_for(ALICE, "手机号", after_message_id=sent.message_id - 1)
    assert SandboxClient.reply_keyboard(stored) == ["📱 发送手机号", "取消"]
    assert stored["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    assert await client.current_reply_keyboard(ALICE) == ["📱 发送手机号", "取消"]
    user_msg = await client.send_text(ALICE, "取消")
    reply = await bot.send_message(
        ALICE,
        "已取消",
        reply_markup=ReplyKeyboardRemove(),
        reply_to_message_id=user_msg["message_id"],
    )
    assert reply.reply_to_message.text == "取消"
    assert await client.current_reply_keyboard(ALICE) == []
    forced = await bot.send_message(ALICE, "备注?", reply_markup=ForceReply())
    assert (await client.last_bot_message(ALICE))["reply_markup"] == {"force_reply": True}
    assert forced.message_id > reply.message_id
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(ALICE, "x", reply_to_message_id=999)


async def test_wait_for_times_out_with_transcript(bot: Bot, client: SandboxClient) -> None:
    await started(client, bot)
    await bot.send_message(ALICE, "菜单")
    with pytest.raises(TimeoutError, match="菜单"):
        await client.wait_for(ALICE, "不存在", timeout=0.2)
    late = asyncio.create_task(client.wait_for(ALICE, lambda m: "稍后" in m["text"], timeout=3))
    await asyncio.sleep(0.05)
    await bot.send_message(ALICE, "稍后到达")
    assert (await late)["text"] == "稍后到达"


async def test_webhook_delivery_and_retry(emu: Emulator, bot: Bot, client: SandboxClient) -> None:
    received: list[tuple[dict, str | None]] = []
    statuses = [500, 200, 200]

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        )
        return web.Response(status=statuses[min(len(received), len(statuses)) - 1])

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    emu.webhook_retry_delay = 0.05
    try:
        assert await bot.set_webhook(url, secret_token="s3cret")
        with pytest.raises(Conflict):
            await bot.get_updates(timeout=0)
        sent = await client.send_text(ALICE, "/start")
        for _ in range(100):
            if len(received) >= 2:
                break
            await asyncio.sleep(0.02)
        assert [r[0]["update_id"] for r in received] == [sent["update_id"]] * 2  # retried
        assert received[0][1] == "s3cret"
        assert Update.de_json(received[1][0], bot).message.text == "/start"
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0
        assert info.last_error_message and "500" in info.last_error_message
        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
    finally:
        await runner.cleanup()


async def test_application_end_to_end(emu: Emulator, client: SandboxClient) -> None:
    """The way bot tests use the sandbox: a PTB Application polling the emulator."""

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(
            "欢迎使用跑腿",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("下单", callback_data="order")]]
            ),
        )

    async def order(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer("好的")
        await update.callback_query.edit_message_text("请描述您的需求")

    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(order))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            sent = await client.send_text(ALICE, "/start")
            menu = await client.wait_for(ALICE, "欢迎", after_message_id=sent["message_id"])
            query_id = await client.press_button(ALICE, menu, "下单")
            assert (await client.callback_answer(query_id))["text"] == "好的"
            edited = await client.wait_for(ALICE, "描述", timeout=5)
            assert edited["message_id"] == menu["message_id"] and edited["edited"] == 1
            assert client.buttons(edited) == []
        finally:
            await app.updater.stop()
            await app.stop()


async def _run(*args: str, env: dict[str, str]) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_cli_and_standalone_server(emu: Emulator, bot: Bot, client: SandboxClient) -> None:
    env = {**os.environ, "SANDBOX_URL": emu.url}
    out = await _run("-m", "sandbox.cli", "say", str(ALICE), "/start", "--wait", "0", env=env)
    assert "#1 Alice: /start" in out
    await bot.send_message(
        ALICE,
        "选择服务",
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("买菜", callback_data="buy"),
                    InlineKeyboardButton("取快递", callback_data="pickup"),
                ]
            ]
        ),
    )
    out = await _run("-m", "sandbox.cli", "chat", str(ALICE), env=env)
    assert "#2 bot: 选择服务" in out and "[2] 取快递 (pickup)" in out
    out = await _run(
        "-m", "sandbox.cli", "press", str(ALICE), str(ALICE), "2", "#2", "--wait", "0.1", env=env
    )
    assert "did not answer" in out
    assert (await client.callback_answers()) == {}
    assert (await bot.get_updates(timeout=0))[-1].callback_query.data == "pickup"
    out = await _run("-m", "sandbox.cli", "users", env=env)
    assert f"{ALICE}: Alice @alice" in out

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        "0",
        "--token",
        TOKEN,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        url = line.rsplit(" ", 1)[-1].strip()
        async with SandboxClient(url) as standalone:
            assert (await standalone.health())["default_token"] == TOKEN
    finally:
        proc.terminate()
        await proc.wait()
