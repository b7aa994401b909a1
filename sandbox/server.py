"""The emulator's HTTP face (aiohttp): the routes bots call as they would call
api.telegram.org (``/bot<token>/<method>``, ``/file/bot<token>/<path>``), the ``/sandbox/...``
control routes of :mod:`sandbox.control`, and the server's start and stop. The Bot API route
is where an outage, ``fail_every`` and a stalled chat act, around :func:`sandbox.api.call`.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from aiohttp import web

from . import api
from . import operations as op
from .api import Params, Upload
from .control import ROUTES, add_control_routes, bind
from .errors import ApiError
from .faults import failure
from .ratelimit import arrived
from .telegram import Telegram

log = logging.getLogger(__name__)


async def read_params(request: web.Request) -> Params:
    """Query string + JSON, urlencoded or multipart body (PTB uses the latter two)."""
    values: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.can_read_body:
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON body") from None
            if isinstance(body, dict):
                values.update(body)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[key] = Upload(value.file.read(), value.filename, value.content_type)
                elif isinstance(value, bytes | bytearray):
                    values[key] = bytes(value).decode("utf-8", "replace")
                else:
                    values[key] = value
    return Params(values, uploads)


class Server:
    """Serves one :class:`Telegram` over HTTP."""

    def __init__(self, tg: Telegram) -> None:
        self.tg = tg
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._url: str | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self.bot_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self.file)
        add_control_routes(app, self.tg, (*ROUTES, bind(op.Health, self.health)))
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 = any free port); returns :attr:`url`."""
        # handler_cancellation: an abandoned long poll must not outlive its client.
        self._runner = web.AppRunner(
            self.app(), handler_cancellation=True, access_log=None, shutdown_timeout=2.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        self._url = f"http://{host}:{bound[1]}"
        self._session = aiohttp.ClientSession()
        updates = self.tg.world.updates
        updates.session = self._session  # webhooks are POSTed with it
        updates.closing = False
        return self._url

    async def stop(self) -> None:
        world = self.tg.world
        await world.updates.close(list(world.bots.values()))
        world.changed.notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
            world.updates.session = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("emulator not started")
        return self._url

    def health(self, tg: Telegram, o: op.Health) -> dict:
        """The control operation only the server can answer: where it is."""
        return {
            "url": self.url,
            "base_url": self.url + "/bot",
            "base_file_url": self.url + "/file/bot",
            "default_token": self.tg.default_token,
        }

    # ------------------------------------------------------------------ routes

    async def bot_api(self, request: web.Request) -> web.StreamResponse:
        """``/bot<token>/<method>``: faults of the whole server first, then the method."""
        tg, faults = self.tg, self.tg.faults
        bot = tg.world.bot_for_token(request.match_info["token"])
        # Where Telegram judges its limits (strict mode): before the body is read or anything
        # queues or stalls here.
        arrived(bot.limiter.clock())
        method = request.match_info["method"]
        if faults.outage_now is not None:
            return self._outage_answer(request, faults.outage_now.status)
        name = api.CANONICAL.get(method.lower())
        try:
            faults.raise_periodic_failure(bot, method)
            params = await read_params(request)
            await faults.wait_if_stalled(name, params.raw("chat_id"))
            result = await api.call(tg, bot, method, params)
            await faults.wait_if_stalled(name, params.raw("chat_id"), delivered=True)
        except ApiError as exc:
            return web.json_response(exc.envelope(), status=exc.code)
        except Exception as exc:  # an emulator bug must surface as a readable error
            log.exception("emulator failure in %s", request.path)
            err = ApiError(500, f"Internal Server Error: emulator bug: {exc!r}")
            return web.json_response(err.envelope(), status=500)
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _outage_answer(request: web.Request, status: int | None) -> web.Response:
        if status is None:
            if request.transport is not None:
                request.transport.close()  # connection reset: no HTTP answer at all
            raise web.HTTPServiceUnavailable  # never read by the client
        return web.json_response(failure(status).envelope(), status=status)

    async def file(self, request: web.Request) -> web.Response:
        """``/file/bot<token>/<path>``: a stored file's bytes."""
        record = self.tg.file_store.files_by_path.get(request.match_info["path"])
        if record is None:
            return web.json_response(ApiError(404, "Not Found").envelope(), status=404)
        return web.Response(
            body=record.data, content_type=record.mime_type or "application/octet-stream"
        )
