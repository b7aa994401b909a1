"""Webhook mode (``[bot] mode = "webhook"``): the HTTP endpoint Telegram POSTs updates to, and
the start and stop of a bot that receives them so. Owns the answer Telegram gets: 401 without
the secret it was given by setWebhook (``X-Telegram-Bot-Api-Secret-Token``), 400 for a body
that is no update, 200 only once the update is stored in the inbox (DESIGN rule 5) and 500 when
the database refused it, so that Telegram delivers it again. Storing and processing are the bot
service's (``BotService.store``); several instances behind one proxy each store what they
receive, and the inbox keeps an update_id once.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update

from handlers.runner import BotService

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


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

    async def start(self) -> None:
        await self.service.start(poll=False)
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
        try:
            await self.service.store([(update_id, body.decode("utf-8"))])
        except Exception:
            # Not stored: Telegram keeps the update and delivers it again.
            logger.exception("storing update %s failed; answered 500", update_id)
            return web.Response(status=500)
        return web.Response(status=200)
