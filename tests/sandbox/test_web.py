"""The sandbox page's JSON API and its live events, with a real ``telegram.Bot`` on the other
side (the browser itself is driven in tests/browser)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from sandbox.emulator import Emulator
from sandbox.web import SandboxWeb, demo_phone

TOKEN = "123456:TEST-token"
AUNT = 1001
GROUP = -1001000000001
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8 + b"IHDR" + b"\x00\x00\x00\x10\x00\x00\x00\x08"


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    emulator = Emulator()
    emulator.register_bot(TOKEN)
    emulator.create_user(AUNT, first_name="周阿姨")
    emulator.create_user(2001, first_name="王刚")
    emulator.create_group("第一网格", members=[2001], group_id=GROUP)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def web(emu: Emulator) -> AsyncIterator[tuple[SandboxWeb, list[float]]]:
    moved: list[float] = []

    async def advance(minutes: float) -> str:
        moved.append(minutes)
        return f"moved {minutes:g}"

    page = SandboxWeb(emu, advance=advance, roles={AUNT: "居民 resident"}, timezone="Asia/Shanghai")
    await page.start()
    yield page, moved
    await page.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def _events(resp: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """The ``messages`` events of a server-sent event stream."""
    kind = None
    async for raw in resp.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: ") and kind == "messages":
            yield json.loads(line[6:])


async def test_page_state_send_and_live_events(
    emu: Emulator, web: tuple[SandboxWeb, list[float]], http: aiohttp.ClientSession
) -> None:
    page, moved = web
    async with http.get(page.url + "/") as r:
        assert r.status == 200 and "跑腿" in await r.text()
    async with http.get(page.url + "/api/state") as r:
        state = await r.json()
    aunt = {"id": AUNT, "name": "周阿姨", "role": "居民 resident", "phone": "13800001001"}
    assert {**aunt, "started": False} in state["users"]
    assert state["groups"] == [{"id": GROUP, "title": "第一网格", "members": [2001]}]
    assert state["can_advance"] and state["timezone"] == "Asia/Shanghai"

    async with http.get(page.url + "/events") as stream:
        events = _events(stream)
        # The user writes: the event carries her message.
        async with http.post(
            page.url + "/api/send", json={"user_id": AUNT, "chat_id": AUNT, "text": "/start"}
        ) as r:
            assert r.status == 200
        ev = await asyncio.wait_for(anext(events), 5)
        assert ev["chat_id"] == AUNT and ev["messages"][0]["text"] == "/start"

        # The bot answers with a button, then edits it: both arrive, the edit as edited.
        async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as bot:
            markup = InlineKeyboardMarkup([[InlineKeyboardButton("好", callback_data="x:1")]])
            sent = await bot.send_message(AUNT, "您好", reply_markup=markup)
            ev = await asyncio.wait_for(anext(events), 5)
            assert ev["messages"][0]["reply_markup"]["inline_keyboard"][0][0]["text"] == "好"
            await bot.edit_message_text("您好！", chat_id=AUNT, message_id=sent.message_id)
            ev = await asyncio.wait_for(anext(events), 5)
            assert [(m["text"], m["edited"]) for m in ev["messages"]] == [("您好！", 1)]

            # A press the bot answers: the answer comes back to the page.
            await bot.edit_message_reply_markup(AUNT, sent.message_id, reply_markup=markup)

            async def answer() -> None:
                for _ in range(50):
                    updates = await bot.get_updates(timeout=0)
                    queries = [u.callback_query for u in updates if u.callback_query]
                    if queries:
                        await queries[0].answer("收到", show_alert=True)
                        return
                    await asyncio.sleep(0.05)

            answering = asyncio.create_task(answer())
            press = {"user_id": AUNT, "chat_id": AUNT, "message_id": sent.message_id, "data": "x:1"}
            async with http.post(page.url + "/api/press", json=press) as r:
                got = await r.json()
            await answering
            assert got["answer"]["text"] == "收到" and got["answer"]["show_alert"]

        # A photo from disk (multipart), then its bytes are served to the page.
        form = aiohttp.FormData()
        form.add_field("user_id", str(AUNT))
        form.add_field("chat_id", str(AUNT))
        form.add_field("kind", "photo")
        form.add_field("file", PNG, filename="door.png", content_type="image/png")
        async with http.post(page.url + "/api/send", data=form) as r:
            photo = (await r.json())["photo"][-1]
        async with http.get(f"{page.url}/file/{photo['file_id']}") as r:
            assert await r.read() == PNG and r.content_type == "image/png"

    # The contact button shares the demo phone; a voice note and a document are files too.
    async with http.post(
        page.url + "/api/send", json={"user_id": AUNT, "chat_id": AUNT, "kind": "contact"}
    ) as r:
        assert (await r.json())["contact"]["phone_number"] == demo_phone(AUNT) == "13800001001"
    for kind, name in (("voice", "note.ogg"), ("document", "list.txt")):
        form = aiohttp.FormData()
        for key, value in (("user_id", AUNT), ("chat_id", AUNT), ("kind", kind)):
            form.add_field(key, str(value))
        form.add_field("file", b"data", filename=name, content_type="application/octet-stream")
        async with http.post(page.url + "/api/send", data=form) as r:
            assert kind in await r.json()

    # In the group: a member may write; a stranger is refused with the reason.
    async with http.post(
        page.url + "/api/send", json={"user_id": 2001, "chat_id": GROUP, "text": "我来"}
    ) as r:
        assert r.status == 200
    async with http.post(
        page.url + "/api/send", json={"user_id": AUNT, "chat_id": GROUP, "text": "hi"}
    ) as r:
        assert r.status == 403 and "not a member" in (await r.json())["error"]
    async with http.get(f"{page.url}/api/chats/{GROUP}/messages") as r:
        assert [m.get("text") for m in await r.json()][-1] == "我来"

    # The time control calls the composition's callback.
    async with http.post(page.url + "/api/time", json={"minutes": 15}) as r:
        assert (await r.json())["note"] == "moved 15" and moved == [15]
    async with http.post(page.url + "/api/time", json={"minutes": -1}) as r:
        assert r.status == 400 and moved == [15]


async def test_without_a_clock_the_time_control_says_so(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    page = SandboxWeb(emu)
    await page.start()
    try:
        async with http.get(page.url + "/api/state") as r:
            assert not (await r.json())["can_advance"]
        async with http.post(page.url + "/api/time", json={"minutes": 15}) as r:
            assert r.status == 400 and "no clock" in (await r.json())["error"]
    finally:
        await page.stop()


# --- the page guards itself: anyone who reaches it can act as any demo user -----------------


async def test_api_posts_must_be_json(
    emu: Emulator, web: tuple[SandboxWeb, list[float]], http: aiohttp.ClientSession
) -> None:
    """JSON sent as text/plain (what any web page may post to another site without asking)
    or as a form is refused, and nothing is sent."""
    page, moved = web
    body = json.dumps({"user_id": AUNT, "chat_id": AUNT, "text": "/start"})
    for path in ("/api/send", "/api/press", "/api/time"):
        for ctype in ("text/plain", "application/x-www-form-urlencoded"):
            async with http.post(page.url + path, data=body, headers={"Content-Type": ctype}) as r:
                assert r.status == 415, (path, ctype)
    assert emu.messages(AUNT) == [] and moved == []
    # The page's own way still works.
    async with http.post(
        page.url + "/api/send", json={"user_id": AUNT, "chat_id": AUNT, "text": "/start"}
    ) as r:
        assert r.status == 200
    assert [m["text"] for m in emu.messages(AUNT)] == ["/start"]


async def test_requests_from_another_site_are_refused(
    emu: Emulator, web: tuple[SandboxWeb, list[float]], http: aiohttp.ClientSession
) -> None:
    page, _ = web
    send = {"user_id": AUNT, "chat_id": AUNT, "text": "/start"}
    evil = {"Origin": "http://evil.example"}
    async with http.post(page.url + "/api/send", json=send, headers=evil) as r:
        assert r.status == 403
    # A multipart upload is a plain form post for a browser: refused by its origin too.
    form = aiohttp.FormData()
    for key, value in (("user_id", AUNT), ("chat_id", AUNT), ("kind", "photo")):
        form.add_field(key, str(value))
    form.add_field("file", PNG, filename="x.png", content_type="image/png")
    async with http.post(page.url + "/api/send", data=form, headers=evil) as r:
        assert r.status == 403
    async with http.get(page.url + "/api/state", headers={"Sec-Fetch-Site": "cross-site"}) as r:
        assert r.status == 403
    # Another name for 127.0.0.1 (DNS rebinding): refused whatever the request.
    async with http.get(page.url + "/api/state", headers={"Host": "evil.example:80"}) as r:
        assert r.status == 403
    assert emu.messages(AUNT) == []
    # The page itself, by either of its loopback names, is served.
    port = page.url.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        own = {"Host": host, "Origin": f"http://{host}"}
        async with http.post(page.url + "/api/send", json=send, headers=own) as r:
            assert r.status == 200, host
    assert len(emu.messages(AUNT)) == 2


async def test_uploads_are_served_as_attachments(
    emu: Emulator, web: tuple[SandboxWeb, list[float]], http: aiohttp.ClientSession
) -> None:
    """An HTML file uploaded as a document (or as a "photo") never runs in the page."""
    page, _ = web
    html = b"<script>fetch('/api/send', {method: 'POST'})</script>"
    doc = emu.send_document(AUNT, html, file_name="notice.html", mime_type="text/html")
    fake = emu.send_photo(AUNT, html)
    real = emu.send_photo(AUNT, PNG)
    for msg in (doc["document"], fake["photo"][-1]):
        async with http.get(f"{page.url}/file/{msg['file_id']}") as r:
            assert r.status == 200 and await r.read() == html
            assert r.headers["Content-Disposition"].startswith("attachment")
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert r.content_type == "application/octet-stream"
    async with http.get(f"{page.url}/file/{real['photo'][-1]['file_id']}") as r:
        assert r.content_type == "image/png" and await r.read() == PNG
        assert r.headers["Content-Disposition"].startswith("inline")
        assert r.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_remote_host_is_refused_unless_allowed(emu: Emulator) -> None:
    with pytest.raises(PermissionError, match="allow_remote"):
        await SandboxWeb(emu).start("0.0.0.0", 0)
    with pytest.raises(PermissionError):
        await SandboxWeb(emu).start("192.168.1.20", 0)
    for host in ("127.0.0.1", "localhost"):
        page = SandboxWeb(emu)
        await page.start(host, 0)
        await page.stop()
    page = SandboxWeb(emu, allow_remote=True)  # explicitly allowed
    await page.start("0.0.0.0", 0)
    await page.stop()


def test_python_m_sandbox_refuses_a_remote_host(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sandbox.__main__ as cli

    served: list[tuple[Any, ...]] = []

    async def serve(*args: Any) -> None:  # instead of serving until Ctrl-C
        served.append(args)

    monkeypatch.setattr(cli, "serve", serve)
    with pytest.raises(SystemExit) as exc:
        cli.main(["--host", "0.0.0.0", "--port", "0"])
    assert exc.value.code == 2 and "--allow-remote" in capsys.readouterr().err
    assert served == []
    cli.main(["--host", "0.0.0.0", "--port", "0", "--allow-remote"])
    assert served and served[0][0] == "0.0.0.0"
