"""Async client for the emulator's ``/sandbox`` control API: the humans' side of a chat.

    async with SandboxClient(emu.url, token=TOKEN) as c:
        await c.create_user(1001, "Alice")
        sent = await c.send_text(1001, "/start")
        reply = await c.wait_for(1001, "欢迎", after_message_id=sent["message_id"])
        query_id = await c.press(1001, 1001, reply["message_id"], "menu:order")
        answer = await c.callback_answer(query_id)

Message dicts are the emulator's stored messages: Bot API fields plus ``outgoing`` (sent by a
bot), ``edited`` (edit count), ``edit_history``, ``deleted``, ``update_id`` (user messages),
``parse_mode``/``raw_text``/``raw_caption`` (bot messages). ``reply_markup`` is the current one,
including reply keyboards (which the Bot API itself never echoes back).
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from typing import Any

import httpx

from .errors import SandboxError

MessageMatch = Callable[[dict], bool] | str
DEFAULT_URL = "http://127.0.0.1:8081"


def _matches(msg: dict, match: MessageMatch) -> bool:
    if isinstance(match, str):
        return match in (msg.get("text") or "") or match in (msg.get("caption") or "")
    return bool(match(msg))


def render_message(msg: dict, *, number_buttons: bool = False) -> str:
    """One message as readable text (used in timeouts and by the CLI)."""
    sender = msg.get("from", {})
    who = "bot" if msg.get("outgoing") else (sender.get("first_name") or str(sender.get("id")))
    if msg.get("text") is not None:
        body = msg["text"]
    elif msg.get("contact"):
        body = f"[contact {msg['contact']['phone_number']}]"
    elif msg.get("photo"):
        body = "[photo]" + (f" {msg['caption']}" if msg.get("caption") else "")
    elif msg.get("document"):
        body = f"[document {msg['document'].get('file_name', '')}]" + (
            f" {msg['caption']}" if msg.get("caption") else ""
        )
    elif msg.get("new_chat_members"):
        names = ", ".join(u.get("username") or u["first_name"] for u in msg["new_chat_members"])
        body = f"[joined: {names}]"
    elif msg.get("left_chat_member"):
        body = f"[left: {msg['left_chat_member']['first_name']}]"
    else:
        kinds = [
            k for k in ("voice", "sticker", "location", "video", "audio", "animation") if k in msg
        ]
        body = f"[{kinds[0] if kinds else 'message'}]"
    flags = []
    if msg.get("edited"):
        flags.append(f"edited {msg['edited']}x")
    if msg.get("deleted"):
        flags.append("deleted")
    suffix = f"  ({', '.join(flags)})" if flags else ""
    lines = [f"#{msg['message_id']} {who}: {body}{suffix}"]
    buttons = SandboxClient.buttons(msg)
    if buttons:
        shown = [
            f"[{i}] {text}" + (f" ({data})" if data is not None else "")
            if number_buttons
            else f"[{text}]"
            for i, (text, data) in enumerate(buttons, 1)
        ]
        lines.append("    " + "  ".join(shown))
    keyboard = SandboxClient.reply_keyboard(msg)
    if keyboard:
        lines.append("    keyboard: " + " | ".join(keyboard))
    return "\n".join(lines)


class SandboxClient:
    """HTTP client of one emulator. ``token`` picks the bot (default: the emulator's first)."""

    def __init__(
        self, url: str | None = None, *, token: str | None = None, timeout: float = 30.0
    ) -> None:
        self.url = (url or os.environ.get("SANDBOX_URL") or DEFAULT_URL).rstrip("/")
        self.token = token
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout)

    async def __aenter__(self) -> SandboxClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict | None = None,
        params: dict | None = None,
        timeout: float | None = None,
        keep_none: bool = False,
    ) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        kwargs: dict[str, Any] = {"params": clean}
        if json is not None:
            # None means "not given" for the server, except where it is a value (limits).
            kwargs["json"] = json if keep_none else {k: v for k, v in json.items() if v is not None}
        if timeout is not None:
            kwargs["timeout"] = timeout
        resp = await self._http.request(method, path, **kwargs)
        try:
            body = resp.json()
        except ValueError:
            raise SandboxError(resp.status_code, resp.text) from None
        if not body.get("ok"):
            raise SandboxError(resp.status_code, body.get("error") or str(body))
        return body["result"]

    def _tok(self, token: str | None) -> str | None:
        return token or self.token

    # ------------------------------------------------------------------ setup

    async def health(self) -> dict:
        return await self._call("GET", "/sandbox/health")

    async def register_bot(
        self, token: str, *, username: str | None = None, first_name: str | None = None
    ) -> dict:
        return await self._call(
            "POST",
            "/sandbox/bots",
            json={"token": token, "username": username, "first_name": first_name},
        )

    async def bots(self) -> list[dict]:
        return await self._call("GET", "/sandbox/bots")

    async def create_user(
        self,
        user_id: int | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> dict:
        """Create or update a user; returns the Telegram ``User`` dict."""
        return await self._call(
            "POST",
            "/sandbox/users",
            json={
                "id": user_id,
                "first_name": first_name,
                "last_name": last_name,
                "username": username,
                "language_code": language_code,
            },
        )

    async def get_user(self, user_id: int) -> dict:
        return await self._call("GET", f"/sandbox/users/{user_id}")

    async def users(self) -> list[dict]:
        return await self._call("GET", "/sandbox/users")

    async def create_group(
        self,
        title: str,
        members: list[int] | tuple[int, ...] = (),
        *,
        with_bot: bool = True,
        token: str | None = None,
        group_id: int | None = None,
        chat_type: str = "supergroup",
        creator: int | None = None,
        username: str | None = None,
    ) -> dict:
        """Create a group (creator = ``creator`` or first member); the bot joins as admin."""
        return await self._call(
            "POST",
            "/sandbox/groups",
            json={
                "title": title,
                "members": list(members),
                "with_bot": with_bot,
                "token": self._tok(token),
                "id": group_id,
                "type": chat_type,
                "creator": creator,
                "username": username,
            },
        )

    async def chat(self, chat_id: int, *, token: str | None = None) -> dict:
        """Chat info: Chat fields + members {user_id: status}, bots, pinned ids, version."""
        return await self._call(
            "GET", f"/sandbox/chats/{chat_id}", params={"token": self._tok(token)}
        )

    async def add_member(self, chat_id: int, user_id: int, *, by: int | None = None) -> dict:
        return await self._call(
            "POST", f"/sandbox/chats/{chat_id}/members", json={"user_id": user_id, "by": by}
        )

    async def remove_member(self, chat_id: int, user_id: int, *, by: int | None = None) -> dict:
        return await self._call(
            "POST", f"/sandbox/chats/{chat_id}/members/remove", json={"user_id": user_id, "by": by}
        )

    async def add_bot(
        self,
        chat_id: int,
        *,
        token: str | None = None,
        by: int | None = None,
        admin: bool = True,
    ) -> dict:
        return await self._call(
            "POST",
            f"/sandbox/chats/{chat_id}/bot",
            json={"token": self._tok(token), "by": by, "admin": admin},
        )

    async def remove_bot(
        self, chat_id: int, *, token: str | None = None, by: int | None = None
    ) -> dict:
        return await self._call(
            "POST",
            f"/sandbox/chats/{chat_id}/bot/remove",
            json={"token": self._tok(token), "by": by},
        )

    async def block_bot(self, user_id: int, *, token: str | None = None) -> dict:
        return await self._call(
            "POST", f"/sandbox/users/{user_id}/block", json={"token": self._tok(token)}
        )

    async def unblock_bot(self, user_id: int, *, token: str | None = None) -> dict:
        return await self._call(
            "POST", f"/sandbox/users/{user_id}/unblock", json={"token": self._tok(token)}
        )

    # ------------------------------------------------------------------ the user acts

    async def _send(
        self,
        user_id: int,
        chat_id: int | None,
        token: str | None,
        reply_to: int | None,
        **content: Any,
    ) -> dict:
        return await self._call(
            "POST",
            "/sandbox/send",
            json={
                "user_id": user_id,
                "chat_id": chat_id,
                "token": self._tok(token),
                "reply_to_message_id": reply_to,
                **content,
            },
        )

    async def send_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        *,
        reply_to: int | None = None,
        token: str | None = None,
    ) -> dict:
        """Send text (``chat_id`` None = private chat with the bot); returns the message."""
        return await self._send(user_id, chat_id, token, reply_to, text=text)

    async def send_contact(
        self,
        user_id: int,
        phone: str,
        chat_id: int | None = None,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        contact_user_id: int | None = None,
        reply_to: int | None = None,
        token: str | None = None,
    ) -> dict:
        """Share a contact (default: the user's own, with ``user_id``, like request_contact)."""
        return await self._send(
            user_id,
            chat_id,
            token,
            reply_to,
            contact={
                "phone_number": phone,
                "first_name": first_name,
                "last_name": last_name,
                "user_id": contact_user_id,
            },
        )

    async def send_photo(
        self,
        user_id: int,
        data: bytes,
        caption: str | None = None,
        chat_id: int | None = None,
        *,
        reply_to: int | None = None,
        token: str | None = None,
    ) -> dict:
        return await self._send(
            user_id,
            chat_id,
            token,
            reply_to,
            photo=base64.b64encode(data).decode(),
            caption=caption,
        )

    async def send_document(
        self,
        user_id: int,
        data: bytes,
        file_name: str = "document.bin",
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        chat_id: int | None = None,
        *,
        reply_to: int | None = None,
        token: str | None = None,
    ) -> dict:
        return await self._send(
            user_id,
            chat_id,
            token,
            reply_to,
            document=base64.b64encode(data).decode(),
            file_name=file_name,
            mime_type=mime_type,
            caption=caption,
        )

    async def send_voice(
        self,
        user_id: int,
        data: bytes = b"OggS\x00voice",
        duration: int = 1,
        chat_id: int | None = None,
        *,
        reply_to: int | None = None,
        token: str | None = None,
    ) -> dict:
        return await self._send(
            user_id,
            chat_id,
            token,
            reply_to,
            voice=base64.b64encode(data).decode(),
            duration=duration,
        )

    async def send_sticker(
        self,
        user_id: int,
        emoji: str = "👍",
        chat_id: int | None = None,
        *,
        set_name: str | None = None,
        reply_to: int | None = None,
        token: str | None = None,
    ) -> dict:
        return await self._send(
            user_id, chat_id, token, reply_to, sticker={"emoji": emoji, "set_name": set_name}
        )

    async def send_location(
        self,
        user_id: int,
        latitude: float,
        longitude: float,
        chat_id: int | None = None,
        *,
        reply_to: int | None = None,
        token: str | None = None,
    ) -> dict:
        return await self._send(
            user_id,
            chat_id,
            token,
            reply_to,
            location={"latitude": latitude, "longitude": longitude},
        )

    async def press(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        data: str,
        force: bool = False,
        *,
        token: str | None = None,
    ) -> str:
        """Press the inline button with ``callback_data == data``; returns the query id.

        Raises SandboxError(400) if the message has no such button, unless ``force``.
        """
        result = await self._call(
            "POST",
            "/sandbox/press",
            json={
                "user_id": user_id,
                "chat_id": chat_id,
                "message_id": message_id,
                "data": data,
                "force": force,
                "token": self._tok(token),
            },
        )
        return result["callback_query_id"]

    async def press_button(
        self, user_id: int, message: dict, label: str, *, token: str | None = None
    ) -> str:
        """Press a button by its visible text (exact match first, else unique substring)."""
        buttons = [(t, d) for t, d in self.buttons(message) if d is not None]
        exact = [d for t, d in buttons if t == label]
        loose = [d for t, d in buttons if label in t]
        found = exact or loose
        if len(found) != 1:
            raise SandboxError(400, f"{len(found)} callback buttons match {label!r}: {buttons}")
        return await self.press(
            user_id, message["chat"]["id"], message["message_id"], str(found[0]), token=token
        )

    async def callback_answer(self, query_id: str, timeout: float = 5.0) -> dict:
        """Wait until the bot answers the callback query; {text, show_alert, url, ...}."""
        try:
            return await self._call(
                "GET",
                f"/sandbox/callback_answers/{query_id}",
                params={"timeout": timeout},
                timeout=timeout + 10,
            )
        except SandboxError as exc:
            if exc.status == 404 and "not answered" in exc.message:
                raise TimeoutError(
                    f"callback query {query_id} not answered in {timeout}s"
                ) from None
            raise

    async def redeliver(self, update_id: int, *, token: str | None = None) -> int:
        """Queue an update again with the same update_id (at-least-once delivery)."""
        result = await self._call(
            "POST", "/sandbox/redeliver", json={"update_id": update_id, "token": self._tok(token)}
        )
        return result["update_id"]

    # ------------------------------------------------------------------ reading

    async def messages(
        self,
        chat_id: int,
        *,
        after: int | None = None,
        since: int | None = None,
        token: str | None = None,
    ) -> list[dict]:
        """All messages of a chat in order (deleted ones included, flagged ``deleted``)."""
        result = await self._call(
            "GET",
            "/sandbox/messages",
            params={"chat_id": chat_id, "after": after, "since": since, "token": self._tok(token)},
        )
        return result["messages"]

    async def bot_messages(
        self, chat_id: int, *, after: int | None = None, token: str | None = None
    ) -> list[dict]:
        """Messages sent by the bot and not deleted."""
        msgs = await self.messages(chat_id, after=after, token=token)
        return [m for m in msgs if m["outgoing"] and not m["deleted"]]

    async def last_bot_message(self, chat_id: int, *, token: str | None = None) -> dict | None:
        msgs = await self.bot_messages(chat_id, token=token)
        return msgs[-1] if msgs else None

    async def wait_for(
        self,
        chat_id: int,
        match: MessageMatch,
        timeout: float = 10.0,
        *,
        after_message_id: int | None = None,
        token: str | None = None,
    ) -> dict:
        """Wait for a (non-deleted) bot message in the chat that matches; returns the earliest.

        ``match`` is a substring of text/caption or a predicate on the message dict. Messages
        edited into matching count. Only message_id > ``after_message_id`` are considered.
        Uses the server's long poll, so it returns as soon as the chat changes.
        """
        deadline = time.monotonic() + timeout
        version: int | None = None
        msgs: list[dict] = []
        while True:
            remaining = max(deadline - time.monotonic(), 0.0)
            params: dict[str, Any] = {
                "chat_id": chat_id,
                "after": after_message_id,
                "token": self._tok(token),
            }
            if version is not None:
                params.update(version=version, timeout=min(remaining, 60.0))
            result = await self._call(
                "GET", "/sandbox/messages", params=params, timeout=remaining + 10
            )
            msgs = result["messages"]
            for msg in msgs:
                if msg["outgoing"] and not msg["deleted"] and _matches(msg, match):
                    return msg
            if time.monotonic() >= deadline:
                break
            version = result["version"]
        tail = "\n".join(render_message(m) for m in msgs[-8:]) or "(no messages)"
        raise TimeoutError(
            f"no bot message matching {match!r} in chat {chat_id} after "
            f"{timeout}s; last messages:\n{tail}"
        )

    @staticmethod
    def buttons(message: dict) -> list[tuple[str, str | None]]:
        """Inline buttons as (text, callback_data); callback_data is None for URL buttons."""
        markup = message.get("reply_markup") or {}
        return [
            (b.get("text", ""), b.get("callback_data"))
            for row in markup.get("inline_keyboard", [])
            for b in row
        ]

    @staticmethod
    def reply_keyboard(message: dict) -> list[str]:
        """Texts of a reply keyboard (ReplyKeyboardMarkup) attached to the message."""
        markup = message.get("reply_markup") or {}
        return [
            b["text"] if isinstance(b, dict) else str(b)
            for row in markup.get("keyboard", [])
            for b in row
        ]

    async def current_reply_keyboard(self, chat_id: int, *, token: str | None = None) -> list[str]:
        """The reply keyboard the user currently sees (last keyboard not removed since)."""
        for msg in reversed(await self.bot_messages(chat_id, token=token)):
            markup = msg.get("reply_markup") or {}
            if "keyboard" in markup:
                return self.reply_keyboard(msg)
            if markup.get("remove_keyboard"):
                return []
        return []

    async def updates(self, *, token: str | None = None) -> list[dict]:
        """Every update ever created for the bot (Bot API JSON), in update_id order."""
        return await self._call("GET", "/sandbox/updates", params={"token": self._tok(token)})

    async def callback_answers(self) -> dict[str, dict]:
        return await self._call("GET", "/sandbox/callback_answers")

    async def download(self, file_id: str) -> bytes:
        resp = await self._http.get(f"/sandbox/files/{file_id}")
        if resp.status_code != 200:
            raise SandboxError(resp.status_code, resp.text)
        return resp.content

    # ------------------------------------------------------------------ control

    async def stats(self, token: str | None = None) -> dict:
        """Bot counters; ``per_chat*`` dicts are keyed by int chat id."""
        result = await self._call("GET", "/sandbox/stats", params={"token": self._tok(token)})
        for key, value in result.items():
            if key.startswith("per_chat"):
                result[key] = {int(k): v for k, v in value.items()}
        return result

    async def rate_limited(self, token: str | None = None) -> int:
        """How many 429 answers the bot got so far."""
        return (await self.stats(token))["rate_limited"]

    async def reset_stats(self, token: str | None = None, *, limits: bool = False) -> None:
        """Zero the counters (and with ``limits`` forget the flood-control windows too)."""
        await self._call(
            "POST", "/sandbox/stats/reset", json={"token": self._tok(token), "limits": limits}
        )

    async def limits(self) -> dict:
        return await self._call("GET", "/sandbox/limits")

    async def set_limits(self, **limits: float | None) -> dict:
        """E.g. ``set_limits(private_rate=1, private_burst=2)``; None or 0 disables a limit."""
        return await self._call("POST", "/sandbox/limits", json=limits, keep_none=True)

    async def fail_next(
        self, n: int = 1, status: int = 429, retry_after: int = 1, *, token: str | None = None
    ) -> None:
        """Fail the next ``n`` message-producing calls with ``status`` (429/500/502...)."""
        await self._call(
            "POST",
            "/sandbox/fail_next",
            json={"n": n, "status": status, "retry_after": retry_after, "token": self._tok(token)},
        )

    async def fail_every(
        self,
        n: int | None,
        status: int = 502,
        *,
        token: str | None = None,
        methods: list[str] | None = None,
    ) -> dict:
        """Answer every ``n``-th Bot API call (or of ``methods`` only) with ``status`` (502
        by default) until called again with ``n`` 0 or None."""
        return await self._call(
            "POST",
            "/sandbox/fail_every",
            json={"n": n or 0, "status": status, "token": self._tok(token), "methods": methods},
        )

    async def outage(self, status: int | None = 502) -> None:
        """Telegram goes down: every call answers ``status``; ``None`` drops the connection."""
        await self._call("POST", "/sandbox/outage", json={"on": True, "status": status or "drop"})

    async def end_outage(self) -> None:
        await self._call("POST", "/sandbox/outage", json={"on": False})

    async def upgrade_group(
        self, chat_id: int, *, new_id: int | None = None, by: int | None = None
    ) -> dict:
        """The basic group becomes a supergroup with a new id (returned as the new chat)."""
        return await self._call(
            "POST", f"/sandbox/chats/{chat_id}/upgrade", json={"new_id": new_id, "by": by}
        )

    async def stall(self, chat_id: int, *, after_delivery: bool = False) -> int:
        """Hold message-producing calls to ``chat_id`` until :meth:`release` (with
        ``after_delivery``: the message is delivered, only the answer is held)."""
        done = await self._call(
            "POST",
            f"/sandbox/chats/{chat_id}/stall",
            json={"on": True, "after_delivery": after_delivery},
        )
        return int(done["stalled_calls"])

    async def release(self, chat_id: int) -> int:
        done = await self._call("POST", f"/sandbox/chats/{chat_id}/stall", json={"on": False})
        return int(done["stalled_calls"])

    async def reset(self) -> None:
        """Forget all bots, users, chats, files and updates (limits stay)."""
        await self._call("POST", "/sandbox/reset")
