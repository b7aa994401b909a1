"""The sandbox page in a real browser: a resident orders groceries in her phone, a volunteer
claims the task in the grid's group and runs it to the door in his, and the resident's phone
shows each step live. Saves var/sandbox.png; with PAOTUI_UPDATE_SCREENSHOT=1, docs/sandbox.png
(the README's picture) instead."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.i18n import gettext_for
from bot.services.orders import form, kinds, texts
from handlers import delivery
from handlers.keyboards import MENU_ORDER
from tests.browser.conftest import CHROMIUM_ARGS, ROOT
from tests.factories import ANSWERS, GROUP_1, Harness, Z, png

AUNT, WANG = 1001, 2001
SCREENSHOT = (
    ROOT / "docs" / "sandbox.png"
    if os.environ.get("PAOTUI_UPDATE_SCREENSHOT")
    else ROOT / "var" / "sandbox.png"
)
# The resident's live card of the order, once finished (issue 15).
CARD_SCREENSHOT = SCREENSHOT.with_name("live_card.png")
_ZH = gettext_for("zh_CN")


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.mark.solo  # a real browser's clicks time out when the CPU is shared with other tests
async def test_order_claim_and_deliver_in_the_page(
    harness: Harness, page_url: str, browser: Any, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    h = harness
    aunt_bot = await h.register(AUNT, "周阿姨")  # registration by buttons has its own e2e test
    # register's /help may be answered before the registration commits (no menu keyboard then):
    # once registered, /help answers with the menu her phone presses.
    aunt_bot.say("/help")
    h.person(WANG).say("/help")  # approved volunteers have a private chat with the bot
    await h.settle()

    page = await browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(15_000)

    async def play() -> None:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.add_init_script("localStorage.setItem('paotui-sandbox-seen', '1')")
        await page.goto(page_url)
        expect.set_options(timeout=15_000)

        aunt = page.locator(f'.phone[data-user="{AUNT}"]')
        wang = page.locator(f'.phone[data-user="{WANG}"]')
        await expect(page.locator(".phone")).to_have_count(4)
        await expect(wang.locator(f'.chat-tab.active[data-chat="{GROUP_1}"]')).to_be_visible()

        async def press(phone: Any, data: str) -> None:
            await phone.locator(f'.ibtn[data-data="{data}"]').last.click()

        async def type_in(phone: Any, text: str) -> None:
            await phone.locator(".entry").fill(text)
            await phone.locator(".entry").press("Enter")

        async def shows(phone: Any, text: str) -> None:
            await expect(phone.locator(".bubble", has_text=text).last).to_be_visible()

        # 周阿姨 orders groceries with the buttons of her phone: the menu keyboard, then the form.
        await aunt.locator(".kbtn", has_text=_ZH(MENU_ORDER)).click()
        await press(aunt, "d:cat:groceries")
        answers = {**ANSWERS["groceries"], "urgency": "normal"}
        for st in form.steps_for("groceries"):
            await shows(aunt, _ZH(st.prompt))
            value = answers[st.key]
            if value in {c.value for c in st.choices}:
                await press(aunt, f"d:v:{value}")
            else:
                await type_in(aunt, value)
        await aunt.locator('.ibtn[data-data^="d:ok:"]').last.click()
        await shows(aunt, "#1")

        # 王刚 sees the task in the group pane and claims it; the card comes privately.
        await shows(wang, _ZH("Groceries"))
        await press(wang, "o:claim:1")
        # The bot's answer to the press pops up as Telegram's alert does.
        await expect(page.locator("#modal-text")).to_contain_text("#1")
        await page.locator("#modal-ok").click()
        await shows(aunt, Z("{name} took your order {title} ({time})."))
        await wang.locator(f'.chat-tab[data-chat="{WANG}"]').click()
        await press(wang, "o:buy:1")
        await shows(aunt, Z("{name} has bought the items for {title} ({time})."))
        await press(wang, "o:go:1")
        await shows(aunt, Z("{name} is on the way with {title} ({time})."))

        # 📦: a photo at the door from disk, what was spent, Skip the receipt.
        await press(wang, "o:done:1")
        await shows(wang, Z(delivery.ASK_PHOTO))
        photo = tmp_path / "door.png"
        photo.write_bytes(png(160, 120, rgb=(0xF0, 0x90, 0x30)))
        await wang.locator("input.f-photo").set_input_files(str(photo))
        await shows(wang, Z(delivery.ASK_AMOUNT))
        await type_in(wang, "35")
        await shows(wang, Z(delivery.ASK_RECEIPT))
        await press(wang, "dl:skip:1")
        await shows(wang, Z(delivery.DELIVERED))

        # The resident's phone: the photo at the door (an image), the amount, ✅ Received.
        await expect(aunt.locator(".bubble img").last).to_be_visible()
        at_door = Z(texts.AT_DOOR)
        await shows(aunt, at_door)
        await expect(aunt.locator(".bubble", has_text=at_door).last).to_contain_text("¥35.00")
        await press(aunt, "o:ok:1")
        await shows(wang, Z("The resident received {title}. Thank you for running it!"))

        await page.locator(".phone").first.locator(".msgs").evaluate("e => e.scrollTop = 1e9")
        SCREENSHOT.parent.mkdir(exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT))
        # The order's one live card in her chat: every step ticked, finished.
        card = aunt.locator(".bubble", has_text=f"【{_ZH(kinds.FINISHED)}】").last
        await expect(card).to_be_visible()
        await card.scroll_into_view_if_needed()
        await aunt.screenshot(path=str(CARD_SCREENSHOT))
        assert errors == []

    try:
        await play()
    except BaseException:
        failure = tmp_path / "failure.png"
        await page.screenshot(path=str(failure))
        print(f"the page at the failure: {failure}")
        raise


async def test_time_buttons_move_the_bots_clock_and_run_the_sweep(
    harness: Harness, page_url: str
) -> None:
    """+1 小时 on the page: the bot's clock moves and what fell due fires at once."""
    import aiohttp

    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    await h.order(aunt, urgency="normal")  # a second ping after 60 minutes unclaimed
    before = h.rt.clock.now()
    async with aiohttp.ClientSession() as http:
        async with http.post(page_url + "/api/time", json={"minutes": 61}) as r:
            moved = await r.json()
        async with http.get(page_url + "/api/state") as r:
            state = await r.json()
    assert "催单升级 1 次" in moved["note"], moved  # the sweep's work, in the page's Chinese
    assert (h.rt.clock.now() - before).total_seconds() >= 61 * 60
    assert state["can_advance"] and "定时检查" in state["clock_note"]
    assert state["timezone"] == h.rt.settings.i18n.timezone


async def test_run_without_a_token_prints_the_page_address(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`paotui run` with no token: emulator, bot and page, and the address on 127.0.0.1."""
    import asyncio
    import re

    import aiohttp

    from handlers.main import serve
    from tests.conftest import make_settings

    settings = make_settings(database_url, sandbox={"port": 0, "web_port": 0})
    assert not settings.has_token
    stop = asyncio.Event()
    running = asyncio.create_task(serve(settings, stop=stop))
    try:
        url = None
        for _ in range(200):
            found = re.search(
                r"Open (http://127\.0\.0\.1:\d+) in your browser", capsys.readouterr().out
            )
            if found:
                url = found.group(1)
                break
            assert not running.done(), running.exception()
            await asyncio.sleep(0.05)
        assert url is not None, "no page address printed"
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/") as r:
                assert r.status == 200 and "跑腿" in await r.text()
            async with http.get(url + "/api/state") as r:
                state = await r.json()
        users = {u["id"]: u for u in state["users"]}
        assert users[AUNT]["name"] == "周阿姨" and not users[AUNT]["started"]
        assert users[WANG]["started"]  # volunteers have a private chat with the bot
        assert any(g["id"] == GROUP_1 and WANG in g["members"] for g in state["groups"])
        assert state["can_advance"]
    finally:
        stop.set()
        await asyncio.wait_for(running, 15)
