"""A local Telegram Bot API emulator: the emulated :class:`~sandbox.telegram.Telegram` served
over HTTP by :mod:`sandbox.server`.

Bots talk to it exactly like to api.telegram.org (``/bot<token>/<method>``,
``/file/bot<token>/<path>``); tests and the CLI play the humans through ``/sandbox/...``
(see :mod:`sandbox.control`) or through the synchronous methods of :class:`Emulator` when they
run in the same event loop.
"""

from __future__ import annotations

from functools import cached_property

from .server import Server
from .state import Clock, SystemClock
from .telegram import Telegram

__all__ = ["Clock", "Emulator", "SystemClock"]


class Emulator(Telegram):
    """The emulated Telegram server. All state lives in memory; one instance per test is cheap."""

    @cached_property
    def server(self) -> Server:
        """The HTTP server (made on first use; it starts with :meth:`start`)."""
        return Server(self)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 = any free port); returns :attr:`url`."""
        return await self.server.start(host, port)

    async def stop(self) -> None:
        await self.server.stop()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def base_url(self) -> str:
        return self.url + "/bot"

    @property
    def base_file_url(self) -> str:
        return self.url + "/file/bot"
