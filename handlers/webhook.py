"""Webhook mode (``[bot] mode = "webhook"``): the HTTP endpoint Telegram POSTs updates to, and
the start and stop of a bot that receives them so. Owns the answer Telegram gets: 401 without
the secret it was given by setWebhook (``X-Telegram-Bot-Api-Secret-Token``), 400 for a body
that is no update, 200 only once the update is stored in the inbox (DESIGN rule 5) and 500 when
the database refused it, so that Telegram delivers it again. Storing and processing are the bot
service's (``BotService.store``); several instances behind one proxy each store what they
receive, and the inbox keeps an update_id once.

Also owns the order updates are stored in (`ArrivalOrder`). Telegram sends a chat's messages
one after another, but a person's button presses in a queue of their own, side by side over up
to 40 connections: a press can arrive after the message typed just after it. An update whose
predecessors (by update_id) are not stored yet waits, unanswered, until they are (up to
`ORDER_WAIT`), so the inbox holds each person's updates in the order they were sent, and the
processor, which follows the inbox, handles them so.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import socket
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import func, select
from telegram import Update

from handlers.runner import BotService
from models import InboxUpdate

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Seconds a POST waits for the updates before it to be stored. Telegram has them in flight on
# other connections (milliseconds) or is retrying one the bot refused (a second and more);
# past this it is given up on: stored when it comes, out of order.
ORDER_WAIT = 2.0
# While waiting, how often to look for updates stored by the other instances (shared inbox).
ORDER_POLL = 0.05
# Telegram's connections (setWebhook's max_connections, its default) and how many of them may
# wait at once: never all, so that the update awaited always finds one free to come by.
MAX_CONNECTIONS = 40
MAX_WAITING = MAX_CONNECTIONS // 2


class ArrivalOrder:
    """Which update_ids the inbox holds, as far as this process knows: everything up to
    ``frontier``, and those above it. `turn` waits until the updates before one are stored (or
    `ORDER_WAIT` has passed, or too many wait already); `stored` records one. Update ids grow
    by one per update of the bot, so a hole below an update is one still on its way. With
    several instances (``shared``) the others store too: a waiting POST looks in the inbox."""

    def __init__(self, service: BotService, wait: float = ORDER_WAIT) -> None:
        self.service = service
        self.wait = wait
        self.frontier: int | None = None  # None: nothing stored yet, no order to keep
        self._above: set[int] = set()
        self._changed = asyncio.Event()
        self.waiting = 0
        self.gave_up = 0  # POSTs stored out of order after the wait (tests, logs)

    async def start(self) -> None:
        """From the inbox: what came before this process is all there is."""
        async with self.service.rt.db.read() as s:
            self.frontier = await s.scalar(
                select(func.max(InboxUpdate.update_id)).where(InboxUpdate.bot == self.service.bot)
            )

    def stored(self, update_id: int) -> None:
        if self.frontier is None:
            self.frontier = update_id
        elif update_id > self.frontier:
            self._above.add(update_id)
            while self.frontier + 1 in self._above:
                self.frontier += 1
                self._above.discard(self.frontier)
        self._changed.set()
        self._changed = asyncio.Event()

    def _due(self, update_id: int) -> bool:
        return self.frontier is None or update_id <= self.frontier + 1

    async def turn(self, update_id: int) -> None:
        """Return once ``update_id`` may be stored: every update before it is."""
        if self._due(update_id) or self.waiting >= MAX_WAITING:
            return
        self.waiting += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        try:
            while True:
                if self.service.shared:  # stored by the other instances meanwhile?
                    await self._look(update_id)
                if self._due(update_id):
                    return
                left = deadline - loop.time()
                if left <= 0:
                    assert self.frontier is not None
                    logger.info(
                        "update %s stored before %d earlier one(s) still on their way",
                        update_id,
                        update_id - self.frontier - 1 - len(self._above),
                    )
                    self.gave_up += 1
                    self._above = {i for i in self._above if i >= update_id}
                    self.frontier = update_id - 1
                    return
                changed = self._changed
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), min(left, ORDER_POLL))
        finally:
            self.waiting -= 1

    async def _look(self, update_id: int) -> None:
        """The updates before ``update_id`` another instance stored meanwhile."""
        assert self.frontier is not None
        async with self.service.rt.db.read() as s:
            ids = list(
                await s.scalars(
                    select(InboxUpdate.update_id).where(
                        InboxUpdate.bot == self.service.bot,
                        InboxUpdate.update_id > self.frontier,
                        InboxUpdate.update_id < update_id,
                    )
                )
            )
        for i in ids:
            self.stored(i)


class WebhookServer:
    """One bot service fed by webhook: ``start`` starts the service without polling, serves
    the endpoint, then sets the webhook; ``stop`` stops serving, then the service. The webhook
    is left set on stop: another instance behind the same proxy may still be serving it."""

    def __init__(
        self,
        service: BotService,
        *,
        url: str,
        secret: str,
        host: str = "127.0.0.1",
        port: int = 0,
        sock: socket.socket | None = None,
    ) -> None:
        # sock: a socket already bound (tests: its port is in the URL before the start).
        self.service = service
        self._sock = sock
        self.url = url
        self.path = urlsplit(url).path or "/"  # the reverse proxy passes the path on as it is
        self._secret = secret.encode()
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._accepting = False
        self.order = ArrivalOrder(service)

    async def start(self) -> None:
        await self.service.start(poll=False)
        await self.order.start()
        app = web.Application()
        app.router.add_post(self.path, self.receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site: web.BaseSite = (
            web.SockSite(self._runner, self._sock)
            if self._sock is not None
            else web.TCPSite(self._runner, self.host, self.port)
        )
        await site.start()
        self.host, self.port = self._runner.addresses[0][:2]
        self._accepting = True
        # Served before it is announced, so Telegram's first POST finds us. Every type of
        # update, as polling asks for; what waited at Telegram stays (no drop_pending_updates).
        bot = self.service.raw_bot
        await self.service._until_up(
            "setWebhook",
            lambda: bot.set_webhook(
                self.url,
                secret_token=self._secret.decode(),
                allowed_updates=Update.ALL_TYPES,
                max_connections=MAX_CONNECTIONS,
            ),
        )
        logger.info("receiving updates by webhook on %s:%s%s", self.host, self.port, self.path)

    async def stop(self) -> None:
        self._accepting = False
        if self._runner is not None:
            await self._runner.cleanup()  # answers the requests under way first
            self._runner = None
        await self.service.stop()

    async def receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, self._secret):
            logger.warning("webhook POST refused: missing or wrong secret token")
            return web.Response(status=401)
        if not self._accepting:
            return web.Response(status=503)  # stopping: Telegram tries again, maybe elsewhere
        body = await request.read()
        try:
            data = json.loads(body)
            update_id = data["update_id"] if isinstance(data, dict) else None
        except (ValueError, KeyError):
            update_id = None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            logger.warning("webhook POST refused: not an update (%d bytes)", len(body))
            return web.Response(status=400)
        await self.order.turn(update_id)  # the updates sent before it first
        try:
            await self.service.store([(update_id, body.decode("utf-8"))])
        except Exception:
            # Not stored: Telegram keeps the update and delivers it again.
            logger.exception("storing update %s failed; answered 500", update_id)
            return web.Response(status=500)
        self.order.stored(update_id)
        return web.Response(status=200)
