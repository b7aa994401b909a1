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

import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Generic, ParamSpec, TypeVar, overload

import httpx

from . import operations as op
from .errors import SandboxError
from .state import MessageMatch, message_matches
from .wire import encode

DEFAULT_URL = "http://127.0.0.1:8081"
P = ParamSpec("P")
R = TypeVar("R")


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


class remote(Generic[P, R]):
    """A client method made from an operation's declaration: it takes the operation's
    parameters (same names, order and defaults, checked by the type checker) and sends it."""

    def __init__(self, operation: Callable[P, op.Operation[R]]) -> None:
        self.operation = operation
        self.__doc__ = operation.__doc__

    @overload
    def __get__(self, client: None, owner: type) -> remote[P, R]: ...

    @overload
    def __get__(self, client: SandboxClient, owner: type) -> Callable[P, Awaitable[R]]: ...

    def __get__(
        self, client: SandboxClient | None, owner: type
    ) -> remote[P, R] | Callable[P, Awaitable[R]]:
        if client is None:
            return self
        operation = self.operation

        async def call(*args: P.args, **kwargs: P.kwargs) -> R:
            return await client.perform(operation(*args, **kwargs))

        call.__doc__ = self.__doc__
        return call


class SandboxClient:
    """HTTP client of one emulator. ``token`` picks the bot (default: the emulator's first).

    Most methods are the control operations of :mod:`sandbox.operations`, sent as declared
    there; an operation's ``token`` left None becomes the client's ``token``.
    """

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

    async def perform(self, operation: op.Operation[R]) -> R:
        """Send one control operation; its result as the operation hands it to the caller."""
        if getattr(operation, "token", "") is None and self.token is not None:
            operation = replace(operation, token=self.token)  # type: ignore[type-var]
        method, path, query, body = encode(operation)
        kwargs: dict[str, Any] = {"params": query}
        if body is not None:
            kwargs["json"] = body
        if operation.http_timeout() is not None:
            kwargs["timeout"] = operation.http_timeout()
        resp = await self._http.request(method, path, **kwargs)
        if operation.RAW:
            if resp.status_code != 200:
                raise operation.error(SandboxError(resp.status_code, resp.text))
            return operation.result(resp.content)
        try:
            answer = resp.json()
        except ValueError:
            raise operation.error(SandboxError(resp.status_code, resp.text)) from None
        if not answer.get("ok"):
            error = SandboxError(resp.status_code, answer.get("error") or str(answer))
            raise operation.error(error) from None
        return operation.result(answer["result"])

    # ------------------------------------------------------------------ setup

    health = remote(op.Health)
    register_bot = remote(op.RegisterBot)
    bots = remote(op.ListBots)
    create_user = remote(op.CreateUser)
    get_user = remote(op.GetUser)
    users = remote(op.ListUsers)
    create_group = remote(op.CreateGroup)
    chat = remote(op.GetChat)
    add_member = remote(op.AddMember)
    remove_member = remote(op.RemoveMember)
    add_bot = remote(op.AddBot)
    remove_bot = remote(op.RemoveBot)
    block_bot = remote(op.BlockBot)
    unblock_bot = remote(op.UnblockBot)
    upgrade_group = remote(op.UpgradeGroup)

    # ------------------------------------------------------------------ the user acts

    send_text = remote(op.SendText)
    send_contact = remote(op.SendContact)
    send_photo = remote(op.SendPhoto)
    send_document = remote(op.SendDocument)
    send_voice = remote(op.SendVoice)
    send_sticker = remote(op.SendSticker)
    send_location = remote(op.SendLocation)
    press = remote(op.Press)
    callback_answer = remote(op.CallbackAnswer)
    callback_answers = remote(op.CallbackAnswers)
    redeliver = remote(op.Redeliver)

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

    # ------------------------------------------------------------------ reading

    messages = remote(op.Messages)
    updates = remote(op.UpdatesLog)
    download = remote(op.Download)

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
            result = await self.perform(
                op.WatchChat(
                    chat_id,
                    after=after_message_id,
                    token=token,
                    version=version,
                    timeout=min(remaining, 60.0),
                )
            )
            msgs = result["messages"]
            for msg in msgs:
                if msg["outgoing"] and not msg["deleted"] and message_matches(msg, match):
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

    # ------------------------------------------------------------------ limits and faults

    stats = remote(op.Stats)
    reset_stats = remote(op.ResetStats)
    limits = remote(op.GetLimits)
    fail_next = remote(op.FailNext)
    fail_every = remote(op.FailEvery)
    outage = remote(op.Outage)
    end_outage = remote(op.EndOutage)
    stall = remote(op.Stall)
    release = remote(op.Release)
    reset = remote(op.Reset)

    async def set_limits(self, **limits: float | None) -> dict:
        """E.g. ``set_limits(private_rate=1, private_burst=2)``; None or 0 disables a limit."""
        return await self.perform(op.SetLimits(limits))

    async def rate_limited(self, token: str | None = None) -> int:
        """How many 429 answers the bot got so far."""
        return int((await self.stats(token))["rate_limited"])
