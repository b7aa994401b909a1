"""`paotui run`: the database, the bot services (handlers.bots: one, or one per community),
and, without a token, the local emulator with a demo community so anyone can try it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot import inbox, sweep
from bot.chat_bots import unserved
from bot.clock import Clock, OffsetClock
from bot.config import ConfigError, Settings
from bot.db import Database
from bot.demo_supplies import seed_demo_supplies
from bot.i18n import N_, gettext_for
from bot.migrate import upgrade_async
from bot.runtime import Runtime
from bot.seed import DEMO, Demo, ensure_admins, seed_demo, seed_demo_places
from handlers.bots import SANDBOX_TOKEN, Bots, BotSpec, specs
from handlers.runner import BotService
from handlers.webhook import WebhookServer
from models import Resident

logger = logging.getLogger(__name__)

__all__ = ["SANDBOX_TOKEN", "populate_emulator", "receiver", "serve"]

# TESTS ONLY: Telegram's limits paced this many times faster than real time, to match an
# emulator run so (tests/e2e/test_district_processes.py, bench/district.py start `paotui run`
# with it; see bot.outbox.pacer.PaceClock). Real Telegram is 1, the default.
TEST_TIME_SCALE_ENV = "PAOTUI_TEST_TIME_SCALE"


def populate_emulator(
    emu: Any, token: str, demo: Demo = DEMO, *, username: str = "paotui_bot"
) -> None:
    """The demo's people and group chats, on the emulator's side."""
    emu.register_bot(token, username=username, first_name="跑腿")
    for tid, name in demo.residents:
        emu.create_user(tid, first_name=name)
    for tid, name in [*demo.staff, *demo.merchants]:
        emu.create_user(tid, first_name=name)
    for g in demo.grids:
        for tid, name in g.volunteers:
            emu.create_user(tid, first_name=name)
        emu.create_group(
            g.group_title,
            members=[tid for tid, _ in g.volunteers],
            with_bot=True,
            token=token,
            group_id=g.group_chat_id,
        )


class BotTime:
    """The emulator's clock (message dates) follows the bot's, so moving one moves both."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def now(self) -> float:
        return self.clock.now().timestamp()


def demo_roles(demo: Demo = DEMO) -> dict[int, str]:
    roles = {tid: "居民 resident" for tid, _ in demo.residents}
    roles.update({tid: "工作人员 staff" for tid, _ in demo.staff})
    roles.update({tid: "商家 merchant" for tid, _ in demo.merchants})
    for g in demo.grids:
        roles.update({tid: "志愿者 volunteer" for tid, _ in g.volunteers})
    return roles


# What the sandbox page's time buttons say was done (bot.sweep.PARTS), in the bot's language.
SWEEP_LABELS = {
    "phone orders handed over": N_("phone orders handed to another staff member: {n}"),
    "escalation": N_("escalation steps: {n}"),
    "shift reminders": N_("shift reminders: {n}"),
    "handovers": N_("shift handovers: {n}"),
    "care check-ins": N_("care check-ins asked: {n}"),
    "care alerts": N_("care alerts: {n}"),
    "scheduled notices": N_("scheduled notices sent: {n}"),
    "group-buy deadlines": N_("group-buys closed at their deadline: {n}"),
    "building statuses": N_("building status changes applied: {n}"),
    "repeating orders": N_("repeating orders placed: {n}"),
    "payment reminders": N_("payment reminders: {n}"),
    "daily summary": N_("daily summaries: {n}"),
    "delivery alerts": N_("delivery alerts: {n}"),
    "privacy retention": N_("old personal data removed: {n}"),
}
CLOCK_NOTE = N_(
    "🕒 The time buttons move the bot's clock and the emulator's together (message times "
    "follow), then run the bot's sweep at once: escalations of unclaimed tasks, reminders, "
    "shift handovers and scheduled notices due by then are sent. Time only moves forward; "
    "restart `make run` to go back to now."
)


async def start_page(emu: Any, rt: Runtime, host: str, port: int, demo: Demo = DEMO) -> Any:
    """The browser page over the emulator; its time buttons move the bot's clock and run the
    sweep at once, so escalations, reminders and scheduled notices due by then fire."""
    from sandbox.web import SandboxWeb

    clock = rt.clock
    assert isinstance(clock, OffsetClock)

    async def advance(minutes: float) -> str:
        clock.advance(timedelta(minutes=minutes))
        fired = await sweep.run_once(rt)
        _ = gettext_for(rt.default_language)
        done = "; ".join(_(SWEEP_LABELS.get(k, k)).format(n=v) for k, v in fired.items() if v) or _(
            "nothing was due"
        )
        step = (
            _("{n} d").format(n=f"{minutes / 1440:g}")
            if minutes >= 1440
            else _("{n} h").format(n=f"{minutes / 60:g}")
            if minutes >= 60
            else _("{n} min").format(n=f"{minutes:g}")
        )
        return f"🕒 +{step}: {done}"

    page = SandboxWeb(
        emu,
        advance=advance,
        allow_remote=rt.settings.sandbox.allow_remote,
        roles=demo_roles(demo),
        timezone=rt.settings.i18n.timezone,
        clock_note=gettext_for(rt.default_language)(CLOCK_NOTE),
    )
    await page.start(host, port)
    return page


def open_private_chats(emu: Any, token: str, demo: Demo = DEMO) -> None:
    """Volunteers and staff of the demo have talked to the bot before (as approved volunteers
    and staff have), so it may write to them: the task card after a claim, alerts, notices."""
    bot = emu.bot(token)
    for tid, _ in [*demo.staff, *demo.merchants, *(v for g in demo.grids for v in g.volunteers)]:
        emu.private_chat(bot, tid).started = True


def sandbox_instructions(url: str, demo: Demo = DEMO) -> str:
    people = ", ".join(f"{tid} {name}" for tid, name in demo.residents)
    vols = ", ".join(f"{tid} {name}" for tid, name in demo.grids[0].volunteers[:2])
    staff = ", ".join(f"{tid} {name}" for tid, name in demo.staff)
    merchant = ", ".join(f"{tid} {name}" for tid, name in demo.merchants)
    cli = ".venv/bin/python -m sandbox.cli"
    group = demo.grids[0].group_chat_id
    return f"""
paotui is running on the local Telegram emulator at {url} (no token configured).
Residents: {people}; volunteers of {demo.grids[0].name}: {vols}; staff: {staff}.
Partner merchant {demo.merchant_name}: its contact {merchant} (/merchant). A group-buy of it is
open for {", ".join(demo.groupbuy_buildings)} until tomorrow 18:00: residents there press 🛒 团购.
Group chat of {demo.grids[0].name}: {group}.
Act as a user from another terminal:
  export SANDBOX_URL={url}
  {cli} say 1001 /start          # 周阿姨 starts registering
  {cli} chat 1001                # her chat; buttons are numbered #1, #2...
  {cli} press 1001 1001 3 '#1'   # she presses button 1 of message 3
  {cli} contact 1001 13800001001 # she shares her phone number
  {cli} chat {group}   # the volunteers' group
  {cli} press 2001 {group} <message> '#1'   # volunteer 2001 claims a task
Stop with Ctrl+C.
"""


def receiver(service: BotService, settings: Settings, index: int = 0) -> BotService | WebhookServer:
    """What runs the service: itself, polling, or in webhook mode the server fed by Telegram.
    One bot per community (``[[bots]]``), webhook mode: the ``index``-th bot is posted to at
    ``webhook_url``/<its name> and listens on ``listen``'s port + ``index``."""
    bot = settings.bot
    if bot.mode != "webhook":
        return service
    assert bot.webhook_url is not None and bot.webhook_secret is not None
    host, port = bot.listen_address
    url = bot.webhook_url
    if settings.bots:
        url, port = f"{url.rstrip('/')}/{settings.bots[index].name}", port + index
    return WebhookServer(
        service,
        url=url,
        secret=bot.webhook_secret.get_secret_value(),
        host=host,
        port=port,
    )


def _demo_bot(bots: list[BotSpec], demo: Demo = DEMO) -> BotSpec:
    """The bot serving the demo community (its groups, its staff), else the first."""
    return next((b for b in bots if b.communities is None or demo.code in b.communities), bots[0])


async def serve(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    await upgrade_async(settings.database.url)
    db = Database(settings.database.url, echo=settings.database.echo)
    rt = Runtime(settings, db, OffsetClock())
    async with db.session() as s:
        await ensure_admins(s, rt.clock, settings.admins.telegram_ids)

    emu = None
    if settings.has_token:
        bot_specs = specs(settings)
        base_url, base_file_url = settings.bot.api_base_url, settings.bot.api_file_url
    else:
        from sandbox.emulator import Emulator  # only the no-token demo needs it
        from sandbox.web import check_bind

        try:
            check_bind(settings.sandbox.host, settings.sandbox.allow_remote)
        except PermissionError as e:
            raise SystemExit(str(e)) from None
        emu = Emulator(clock=BotTime(rt.clock))
        await emu.start(settings.sandbox.host, settings.sandbox.port)
        bot_specs = specs(settings, emulated=True)
        demo_bot = _demo_bot(bot_specs)
        # Each bot of [[bots]] with its token in the emulator; the demo's first, so that the
        # page and the sandbox's command line talk to it by default.
        populate_emulator(emu, demo_bot.token, username=demo_bot.username or "paotui_bot")
        for spec in bot_specs:
            if spec is not demo_bot:
                emu.register_bot(spec.token, username=spec.username, first_name="跑腿")
        open_private_chats(emu, demo_bot.token)
        # The emulator starts afresh each run, the database does not: Telegram's update ids
        # only grow, so each bot's go on after the last one stored (else the first updates of
        # this run fall below the poller's offset and are never seen).
        async with db.read() as s:
            for spec in bot_specs:
                last = await inbox.last_update_id(s, spec.name)
                if last is not None:
                    emu.bot(spec.token).next_update_id = last + 1
            # Residents registered in an earlier run have started the bot: it may write to them
            # (a notice, their order's card), as Telegram would let it.
            registered = (
                await s.execute(
                    select(Resident.telegram_id, Resident.name).where(
                        Resident.telegram_id.is_not(None)
                    )
                )
            ).all()
        for tid, name in registered:
            if tid is None:
                continue
            if tid not in emu.users:
                emu.create_user(tid, first_name=name)
            for spec in bot_specs:
                emu.private_chat(emu.bot(spec.token), tid).started = True
        if settings.sandbox.seed_demo:
            async with db.session() as s:
                seeded = await seed_demo(s, rt.clock)
                if seeded:
                    await seed_demo_places(rt, s)
            if seeded:
                await seed_demo_supplies(rt)
        base_url, base_file_url = emu.base_url, emu.base_file_url
    async with db.read() as s:
        alone = await unserved(s, settings)
    if alone:
        if emu is not None:
            await emu.stop()
        await db.dispose()
        raise ConfigError(
            "bad configuration:\n  bots: no bot serves the communities " + ", ".join(alone)
        )
    bots = Bots(
        rt,
        bot_specs,
        base_url=base_url,
        base_file_url=base_file_url,
        time_scale=float(os.environ.get(TEST_TIME_SCALE_ENV, "1")),
    )
    await bots.adopt()
    fronts = [receiver(service, settings, i) for i, service in enumerate(bots.services)]

    async def start_all() -> None:
        # Side by side: a bot whose Telegram is slow to answer holds up no other.
        await asyncio.gather(*(front.start() for front in fronts))

    # Start-up waits for Telegram as long as it takes (BotService._until_up); a stop signal
    # meanwhile ends it cleanly.
    starting = asyncio.create_task(start_all())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        logger.info("stopped before Telegram answered")
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        for front in fronts:
            # A bot that started meanwhile stops; a webhook may be serving already, waiting
            # for setWebhook; a bot still starting has nothing to stop.
            await front.stop()
        await bots.close()
        if emu is not None:
            await emu.stop()
        await db.dispose()
        return
    stopping.cancel()
    starting.result()  # a final refusal (a bad token) ends `paotui run` here
    page = None
    if emu is not None:
        page = await start_page(emu, rt, settings.sandbox.host, settings.sandbox.web_port)
        print(sandbox_instructions(emu.url), flush=True)
        print(f"Open {page.url} in your browser: a phone for each person of the demo.", flush=True)
    try:
        await stop.wait()
    finally:
        logger.info("stopping")
        if page is not None:
            await page.stop()
        for front in reversed(fronts):
            await front.stop()
        await bots.close()
        if emu is not None:
            await emu.stop()
        await db.dispose()
