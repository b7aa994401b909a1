"""The staff member's phone in the sandbox page (issue 15 point 8): the staff menu under the
text field, 📋 To do listing an alert nobody has handled, and ✅ Handled on the alert itself.
Saves var/staff-menu.png; with PAOTUI_UPDATE_SCREENSHOT=1, docs/staff-menu.png instead."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.services import alerts
from handlers import alerts as alert_handlers
from handlers.keyboards import STAFF_TODO
from tests.browser.conftest import CHROMIUM_ARGS, ROOT
from tests.e2e.test_escalation import STAFF_TOLD, _order, _setup
from tests.factories import STAFF, Harness, Z

SCREENSHOT = ROOT / ("docs" if os.environ.get("PAOTUI_UPDATE_SCREENSHOT") else "var")
SCREENSHOT = SCREENSHOT / "staff-menu.png"


@pytest.mark.solo  # a real browser's clicks time out when the CPU is shared with other tests
async def test_the_staff_menu_and_handled_in_the_page(
    harness: Harness, page_url: str, chromium: str, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright, expect

    h = harness
    await _setup(h)  # staff and a grid leader, a resident, a volunteer on duty
    h.person(STAFF).say("/help")  # the staff menu comes with the answer
    await h.settle()
    oid = await _order(h)
    h.advance(minutes=61)
    await h.sweep()
    h.advance(minutes=180)  # unclaimed for four hours: the staff are alerted
    await h.sweep()

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(15_000)
        expect.set_options(timeout=15_000)
        try:
            await page.add_init_script("localStorage.setItem('paotui-sandbox-seen', '1')")
            await page.goto(page_url)
            boss = page.locator(f'.phone[data-user="{STAFF}"]')
            await expect(boss).to_be_visible()
            await expect(boss.locator(".bubble", has_text=Z(STAFF_TOLD)).last).to_be_visible()

            # 📋 To do, from the menu keyboard: the alert, with ✅ for it.
            await boss.locator(".kbtn", has_text=Z(STAFF_TODO)).click()
            todo = boss.locator(".bubble", has_text=Z(alert_handlers.TODO_TITLE)).last
            await expect(todo).to_contain_text(f"#{oid}")
            # ✅ on the alert itself: it then says who handled it, and nothing waits.
            await boss.locator('.ibtn[data-data^="sa:ok:"]').last.click()
            await expect(
                boss.locator(".bubble", has_text=Z(alerts.HANDLED_LINE)).last
            ).to_be_visible()
            await boss.locator(".kbtn", has_text=Z(STAFF_TODO)).click()
            await expect(
                boss.locator(".bubble", has_text=Z(alert_handlers.NOTHING_TO_DO)).last
            ).to_be_visible()
            await boss.locator(".msgs").evaluate("e => e.scrollTop = 1e9")
            SCREENSHOT.parent.mkdir(exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT))
        except BaseException:
            failure = tmp_path / "failure.png"
            await page.screenshot(path=str(failure))
            print(f"the page at the failure: {failure}")
            raise
        finally:
            await browser.close()
