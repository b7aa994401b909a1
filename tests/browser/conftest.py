"""Browser tests: Playwright driving Debian's Chromium (never a downloaded browser)."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.main import BotTime, start_page
from tests.factories import Harness

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Debian's Chromium, installed with apt-get if missing. A browser test that
    cannot get one fails with the reason: it never skips silently."""
    script = ROOT / "scripts" / "ensure_chromium.sh"
    done = subprocess.run(
        ["sh", str(script)], capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0 or not Path(CHROMIUM).exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM} and {script.name} could not install it "
            f"(exit {done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}",
            pytrace=False,
        )
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.fail("the playwright package is missing: pip install -e '.[dev]'", pytrace=False)
    return CHROMIUM


@pytest.fixture
async def page_url(harness: Harness) -> AsyncIterator[str]:
    """The sandbox page served on a free port, against the test's emulator and bot. As in
    `make run`, message times and the page's clock follow the bot's clock (a test that moves it
    shows the times a user would see)."""
    harness.emu.clock = harness.emu.world.clock = BotTime(harness.rt.clock)
    page = await start_page(harness.emu, harness.rt, "127.0.0.1", 0)
    try:
        yield page.url
    finally:
        await page.stop()
