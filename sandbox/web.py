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

Anyone who reaches the page can act as any demo user, so it guards itself:

- it serves this computer only (a loopback host) unless told ``allow_remote``;
- a request whose ``Host`` is not loopback or the configured host is refused (403): a web
  page that makes its own name point at 127.0.0.1 (DNS rebinding) gets nothing;
- a request from a browser page of another origin (``Origin``, ``Sec-Fetch-Site``) is refused
  (403), and the API's posts take ``application/json`` only (415): the page sends it, while
  a form or a ``text/plain`` fetch of another site cannot (uploads are multipart, and
  checked by origin);
- stored files are served as attachments with ``nosniff``; only real pictures of a safe type
  (PNG, JPEG, GIF, WebP, by their first bytes) are shown inline.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.helpers import content_disposition_header
from yarl import URL

from .errors import SandboxError
from .state import ACTIVE_STATUSES, ChatState
from .telegram import Telegram

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("web")
# Receives minutes; moves the clock(s) and runs what became due; returns a line for the page.
AdvanceClock = Callable[[float], Awaitable[str]]
_SKIP = ("edit_history", "raw_text", "raw_caption")


# Pictures the page may show inline, known by their first bytes (not by what the uploader said).
SAFE_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
REMOTE_REFUSED = (
    "Refusing to serve the sandbox on {host!r}: anyone who can reach it can act as any demo "
    "user and read every chat. It serves this computer only (127.0.0.1). To serve other "
    "computers anyway, set [sandbox] allow_remote = true (python -m sandbox: --allow-remote)."
)


def is_loopback(host: str) -> bool:
    """127.0.0.1, ::1, localhost (a wildcard such as 0.0.0.0 is every interface: not)."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool) -> None:
    """Refuse (PermissionError) to listen beyond this computer unless explicitly allowed."""
    if not (allow_remote or is_loopback(host)):
        raise PermissionError(REMOTE_REFUSED.format(host=host))


def sniff_image(data: bytes) -> str | None:
    """The picture type of ``data`` if it really is one the page may show, else None."""
    for magic, mime in SAFE_IMAGES:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def demo_phone(user_id: int) -> str:
    """The phone number a user shares with the contact button: 138 and the id, 11 digits."""
    return "138" + str(user_id)[-8:].zfill(8)


def message_view(msg: dict) -> dict:
    """A stored message as the page wants it (JSON-safe, without the edit history)."""
    return {k: v for k, v in msg.items() if k not in _SKIP}


class SandboxWeb:
    """The page and its API over one emulated :class:`Telegram` (with its default bot)."""

    def __init__(
        self,
        emu: Telegram,
        *,
        advance: AdvanceClock | None = None,
        clock_note: str = "",
        roles: dict[int, str] | None = None,
        timezone: str | None = None,
        allow_remote: bool = False,
    ) -> None:
        self.emu = emu
        self.allow_remote = allow_remote
        self._host = "127.0.0.1"  # where it listens (set by start)
        self.advance = advance
        self.clock_note = clock_note
        self.roles = roles or {}
        self.timezone = timezone  # IANA name the page shows times in (default: the browser's)
        self._queues: set[asyncio.Queue[dict | None]] = set()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    # ------------------------------------------------------------------ lifecycle

    def app(self) -> web.Application:
        app = web.Application(client_max_size=32 * 1024 * 1024, middlewares=[self._guard])
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
        check_bind(host, self.allow_remote)
        self._host = host
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

    # ------------------------------------------------------------------ who may ask

    def _host_allowed(self, host_header: str) -> bool:
        """The Host a browser sent: loopback, or the host the page listens on. Serving every
        interface (allowed remote), any name will do: there is nothing to compare with."""
        try:
            name = (URL(f"http://{host_header}").host or "").lower()
        except ValueError:
            return False
        if is_loopback(name) or name == self._host.strip("[]").lower():
            return True
        return self.allow_remote and self._host in ("", "0.0.0.0", "::")

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not self._host_allowed(request.host):
            return web.json_response({"error": "unknown host"}, status=403)
        origin = request.headers.get("Origin")
        own = f"{request.scheme}://{request.host}"
        if (origin is not None and origin != own) or request.headers.get(
            "Sec-Fetch-Site"
        ) == "cross-site":
            return web.json_response({"error": "not from this page"}, status=403)
        if (
            request.method == "POST"
            and request.content_type != "application/json"
            and not (request.path == "/api/send" and request.content_type == "multipart/form-data")
        ):
            return web.json_response({"error": "send JSON (application/json)"}, status=415)
        return await handler(request)

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
                "started": token is not None
                and (token, u["id"]) in emu.private_chats
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
        # What the uploader said the type is counts for nothing: only a real picture of a
        # safe type is shown in the page; anything else is a download the browser won't run.
        image = sniff_image(record.data)
        name = record.file_name or (record.file_id + (".bin" if image is None else ""))
        headers = {
            "Cache-Control": "max-age=3600",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Content-Disposition": content_disposition_header(
                "inline" if image else "attachment", filename=name
            ),
        }
        return web.Response(
            body=record.data, content_type=image or "application/octet-stream", headers=headers
        )


def _error(exc: Exception) -> web.Response:
    if isinstance(exc, SandboxError):
        return web.json_response({"error": exc.message}, status=exc.status)
    return web.json_response({"error": f"bad request: {exc}"}, status=400)
