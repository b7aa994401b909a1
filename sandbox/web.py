"""The sandbox in a browser: a Telegram-like page over the emulator, one "phone" per user.

Plain HTML/CSS/JS from ``sandbox/web/`` and a small JSON API served by aiohttp:

``GET /``                         the page
``GET /api/state``                the bot, every user, every group, the emulator's clock
``GET /api/chats/{id}/messages``  a chat's messages (``id`` = user id for their private chat)
``POST /api/send``                a user sends text, or (multipart) a photo, document or voice,
                                  or shares their contact
``POST /api/press``               a user presses an inline button; waits briefly for the answer
``POST /api/time``                move the clock forward (when the composition gave a callback)
``GET /file/{file_id}``           the bytes of a stored file (photos, documents, voice)
``GET /events``                   server-sent events: new, edited and deleted messages

It imports nothing outside ``sandbox/``: the clock control is a callback handed in by whoever
composes the bot and the emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import SandboxError
from .state import ACTIVE_STATUSES

if TYPE_CHECKING:
    from .emulator import Emulator
    from .state import ChatState

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("web")
# Receives minutes; moves the clock(s) and runs what became due; returns a line for the page.
AdvanceClock = Callable[[float], Awaitable[str]]
_SKIP = ("edit_history", "raw_text", "raw_caption")


def demo_phone(user_id: int) -> str:
    """The phone number a user shares with the contact button: 138 and the id, 11 digits."""
    return "138" + str(user_id)[-8:].zfill(8)


def message_view(msg: dict) -> dict:
    """A stored message as the page wants it (JSON-safe, without the edit history)."""
    return {k: v for k, v in msg.items() if k not in _SKIP}


class SandboxWeb:
    """The page and its API over one :class:`Emulator` (with its default bot)."""

    def __init__(
        self,
        emu: Emulator,
        *,
        advance: AdvanceClock | None = None,
        clock_note: str = "",
        roles: dict[int, str] | None = None,
        timezone: str | None = None,
    ) -> None:
        self.emu = emu
        self.advance = advance
        self.clock_note = clock_note
        self.roles = roles or {}
        self.timezone = timezone  # IANA name the page shows times in (default: the browser's)
        self._queues: set[asyncio.Queue[dict | None]] = set()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    # ------------------------------------------------------------------ lifecycle

    def app(self) -> web.Application:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        r = app.router
        r.add_get("/", self._index)
        r.add_get("/api/state", self._state)
        r.add_get("/api/chats/{chat_id}/messages", self._messages)
        r.add_post("/api/send", self._send)
        r.add_post("/api/press", self._press)
        r.add_post("/api/time", self._time)
        r.add_get("/file/{file_id}", self._file)
        r.add_get("/events", self._events)
        r.add_static("/static/", STATIC)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self.emu.listeners.append(self._on_change)
        self._runner = web.AppRunner(
            self.app(), handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound = self._runner.addresses[0][1]
        shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        self._url = f"http://{shown}:{bound}"
        return self._url

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.emu.listeners.remove(self._on_change)
        for q in list(self._queues):
            q.put_nowait(None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("page not started")
        return self._url

    # ------------------------------------------------------------------ live updates

    def _on_change(self, chat: ChatState, msg: dict | None) -> None:
        """A message was added, edited or deleted: each open page gets it."""
        if msg is None or not self._queues:
            return
        event = {"chat_id": chat.id, "messages": [message_view(msg)]}
        for q in self._queues:
            q.put_nowait(event)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await resp.prepare(request)
        queue: asyncio.Queue[dict | None] = asyncio.Queue()
        self._queues.add(queue)
        try:
            await resp.write(b"retry: 1000\n: connected\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), 15)
                except TimeoutError:
                    await resp.write(b": keep-alive\n\n")
                    continue
                if event is None:
                    break
                data = json.dumps(event, ensure_ascii=False)
                await resp.write(f"event: messages\ndata: {data}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._queues.discard(queue)
        return resp

    # ------------------------------------------------------------------ API

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def _state(self, request: web.Request) -> web.Response:
        emu = self.emu
        token = emu.default_token
        bot = emu.bot(token).me() if token else None
        users = [
            {
                "id": u["id"],
                "name": " ".join(filter(None, (u.get("first_name"), u.get("last_name")))),
                "role": self.roles.get(u["id"], ""),
                "phone": demo_phone(u["id"]),
                # Has talked to the bot: the page offers START to those who have not.
                "started": (token, u["id"]) in emu.private_chats
                and emu.private_chats[(token, u["id"])].started,
            }
            for u in sorted(emu.users.values(), key=lambda u: u["id"])
        ]
        groups = [
            {
                "id": g.id,
                "title": g.title,
                "members": [uid for uid, s in g.members.items() if s in ACTIVE_STATUSES],
            }
            for g in emu.groups.values()
        ]
        return web.json_response(
            {
                "bot": bot,
                "users": users,
                "groups": groups,
                "now": emu.now(),
                "can_advance": self.advance is not None,
                "clock_note": self.clock_note,
                "timezone": self.timezone,
            }
        )

    async def _messages(self, request: web.Request) -> web.Response:
        try:
            chat_id = int(request.match_info["chat_id"])
            msgs = self.emu.messages(chat_id)
        except (SandboxError, ValueError) as exc:
            return _error(exc)
        return web.json_response([message_view(m) for m in msgs if not m["deleted"]])

    async def _send(self, request: web.Request) -> web.Response:
        emu = self.emu
        try:
            if request.content_type == "multipart/form-data":
                form = await request.post()
                d: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
                upload = form.get("file")
            else:
                d = await request.json()
                upload = None
            user_id = int(d["user_id"])
            chat_id = int(d.get("chat_id") or user_id)
            common: dict[str, Any] = {"chat_id": None if chat_id == user_id else chat_id}
            kind = d.get("kind", "text")
            if kind == "text":
                msg = emu.send_text(user_id, str(d.get("text") or "").strip(), **common)
            elif kind == "contact":
                msg = emu.send_contact(user_id, d.get("phone") or demo_phone(user_id), **common)
            elif kind in ("photo", "document", "voice"):
                if not isinstance(upload, web.FileField):
                    raise SandboxError(400, "choose a file first")
                data = upload.file.read()
                caption = d.get("caption") or None
                if kind == "photo":
                    msg = emu.send_photo(user_id, data, caption=caption, **common)
                elif kind == "document":
                    msg = emu.send_document(
                        user_id,
                        data,
                        file_name=upload.filename or "file.bin",
                        mime_type=upload.content_type or "application/octet-stream",
                        caption=caption,
                        **common,
                    )
                else:
                    msg = emu.send_voice(user_id, data, duration=5, **common)
            else:
                raise SandboxError(400, f"unknown kind {kind!r}")
        except (SandboxError, KeyError, ValueError, TypeError) as exc:
            return _error(exc)
        return web.json_response(message_view(msg))

    async def _press(self, request: web.Request) -> web.Response:
        try:
            d = await request.json()
            query_id = self.emu.press(
                int(d["user_id"]), int(d["chat_id"]), int(d["message_id"]), str(d["data"])
            )
        except (SandboxError, KeyError, ValueError, TypeError) as exc:
            return _error(exc)
        answer = await self.emu.wait_callback_answer(query_id, 5.0)
        return web.json_response({"answer": answer})

    async def _time(self, request: web.Request) -> web.Response:
        if self.advance is None:
            return _error(SandboxError(400, "this sandbox has no clock control"))
        try:
            d = await request.json()
            minutes = float(d["minutes"])
            if not 0 < minutes <= 60 * 24 * 31:
                raise ValueError("minutes must be between 0 and a month")
            note = await self.advance(minutes)
        except (KeyError, ValueError, TypeError) as exc:
            return _error(exc)
        return web.json_response({"now": self.emu.now(), "note": note})

    async def _file(self, request: web.Request) -> web.Response:
        record = self.emu.files.get(request.match_info["file_id"])
        if record is None:
            return web.Response(status=404, text="no such file")
        headers = {"Cache-Control": "max-age=3600"}
        if record.file_name:
            headers["Content-Disposition"] = f'inline; filename="{record.file_name}"'
        return web.Response(
            body=record.data,
            content_type=record.mime_type or "application/octet-stream",
            headers=headers,
        )


def _error(exc: Exception) -> web.Response:
    if isinstance(exc, SandboxError):
        return web.json_response({"error": exc.message}, status=exc.status)
    return web.json_response({"error": f"bad request: {exc}"}, status=400)
