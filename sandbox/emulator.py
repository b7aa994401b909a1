"""A local Telegram Bot API emulator (aiohttp) with a user-side control API for tests.

Bots talk to it exactly like to api.telegram.org (``/bot<token>/<method>``,
``/file/bot<token>/<path>``); tests and the CLI play the humans through ``/sandbox/...``
(see :mod:`sandbox.control`) or through the synchronous methods of :class:`Emulator` when they
run in the same event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from .botapi import CANONICAL, BotApi, Params, Upload
from .errors import ApiError, SandboxError
from .formatting import command_entities
from .ratelimit import BotLimiter, Limits
from .state import (
    ACTIVE_STATUSES,
    DEFAULT_UPDATE_EXCLUDES,
    BotState,
    ChatState,
    FileRecord,
    Signal,
    api_message,
    bot_id_from_token,
    chat_member,
    image_size,
    is_inline,
    new_file_id,
    new_stats,
)

log = logging.getLogger(__name__)

_EXTENSIONS = {
    "photo": "jpg",
    "voice": "oga",
    "sticker": "webp",
    "video": "mp4",
    "audio": "mp3",
    "animation": "mp4",
    "document": "bin",
}
_DIRS = {
    "photo": "photos",
    "voice": "voice",
    "sticker": "stickers",
    "video": "videos",
    "audio": "music",
    "animation": "animations",
    "document": "documents",
}
_FAIL_DESCRIPTIONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


MessageMatch = Callable[[dict], bool] | str


def message_matches(msg: dict, match: MessageMatch) -> bool:
    """Substring in text/caption, or a predicate on the stored message dict."""
    if isinstance(match, str):
        return match in (msg.get("text") or "") or match in (msg.get("caption") or "")
    return bool(match(msg))


class Emulator:
    """The emulated Telegram server. All state lives in memory; one instance per test is cheap."""

    def __init__(
        self,
        *,
        global_rate: float | None = 30,
        global_window: float = 1.0,
        private_rate: float | None = 1.0,
        private_burst: float = 5,
        group_rate: float | None = 20,
        group_window: float = 60.0,
        clock: Clock | None = None,
    ) -> None:
        self.limits = Limits(
            global_rate, global_window, private_rate, private_burst, group_rate, group_window
        )
        self.clock: Clock = clock or SystemClock()
        # Seconds between webhook delivery retries after a non-2xx answer.
        self.webhook_retry_delay = 1.0
        self.bots: dict[str, BotState] = {}
        self.users: dict[int, dict] = {}
        self.groups: dict[int, ChatState] = {}
        self.private_chats: dict[tuple[str, int], ChatState] = {}
        self.files: dict[str, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        self.callback_queries: dict[str, dict] = {}
        self.callback_answers: dict[str, dict] = {}
        self.changed = Signal()  # any chat change or callback answer
        # Called (synchronously) with the chat after each change: new, edited or deleted
        # messages, pins, blocks. The browser page (sandbox/web.py) pushes them to its viewers.
        # Told of each change to a chat, with the message added or changed (None: the chat's
        # state only, e.g. a pin or a block).
        self.listeners: list[Callable[[ChatState, dict | None], None]] = []
        self._default_token: str | None = None
        self._failures: list[dict] = []
        self._periodic: dict[str, Any] | None = None  # fail_every: answer every n-th call
        # Faults of the server as a whole: an outage (every call fails) and stalled chats
        # (message-producing calls to them hang until released). See outage() and stall().
        self._outage: dict | None = None
        self._stalls: dict[int, asyncio.Event] = {}
        self._stalled_answers: set[int] = set()  # stalls that deliver first, then hang
        self.stalled_calls = 0  # calls ever held by a stall (tests wait for the first)
        self._next_group = 1_000_000_001
        self._next_user = 100_000_001
        self._file_counter = 0
        self._api = BotApi(self)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closing = False
        self._url: str | None = None

    # ------------------------------------------------------------------ server lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 = any free port); returns :attr:`url`."""
        from .control import add_control_routes  # control imports this module

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        add_control_routes(app, self)
        # handler_cancellation: an abandoned long poll must not outlive its client.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=2.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        self._url = f"http://{host}:{bound[1]}"
        self._session = aiohttp.ClientSession()
        self._closing = False
        return self._url

    async def stop(self) -> None:
        self._closing = True
        for bot in self.bots.values():
            bot.signal.notify()
            if bot.webhook_task is not None:
                bot.webhook_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await bot.webhook_task
                bot.webhook_task = None
        self.changed.notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("emulator not started")
        return self._url

    @property
    def base_url(self) -> str:
        return self.url + "/bot"

    @property
    def base_file_url(self) -> str:
        return self.url + "/file/bot"

    @property
    def closing(self) -> bool:
        return self._closing

    # ------------------------------------------------------------------ HTTP: Bot API

    async def _handle_api(self, request: web.Request) -> web.Response:
        bot = self._bot_for_token(request.match_info["token"])
        if self._outage is not None:
            return self._outage_answer(request)
        try:
            self._raise_periodic_failure(bot, request.match_info["method"])
            params = await _read_params(request)
            await self._wait_if_stalled(request.match_info["method"], params)
            result = await self._api.handle(bot, request.match_info["method"], params)
            await self._wait_if_stalled(request.match_info["method"], params, delivered=True)
        except ApiError as exc:
            return web.json_response(exc.envelope(), status=exc.code)
        except Exception as exc:  # an emulator bug must surface as a readable error
            log.exception("emulator failure in %s", request.path)
            err = ApiError(500, f"Internal Server Error: emulator bug: {exc!r}")
            return web.json_response(err.envelope(), status=500)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        record = self.files_by_path.get(request.match_info["path"])
        if record is None:
            return web.json_response(ApiError(404, "Not Found").envelope(), status=404)
        return web.Response(
            body=record.data, content_type=record.mime_type or "application/octet-stream"
        )

    # ------------------------------------------------------------------ bots

    def _bot_for_token(self, token: str) -> BotState:
        bot = self.bots.get(token)
        if bot is None:
            bot = BotState(
                token=token,
                id=bot_id_from_token(token),
                username="paotui_bot",
                first_name="跑腿",
                limiter=BotLimiter(self.limits),
            )
            self.bots[token] = bot
            self._default_token = self._default_token or token
        return bot

    def register_bot(
        self, token: str, *, username: str | None = None, first_name: str | None = None
    ) -> dict:
        """Create (or rename) the bot behind ``token``; the first bot becomes the default."""
        bot = self._bot_for_token(token)
        if username:
            bot.username = username.lstrip("@")
        if first_name:
            bot.first_name = first_name
        return bot.me()

    def bot(self, token: str | None = None) -> BotState:
        """The bot for ``token``, or the default (first registered / first to call) bot."""
        if token:
            return self._bot_for_token(token)
        if self._default_token is None:
            raise SandboxError(400, "no bot yet: register_bot(token) first or pass token")
        return self.bots[self._default_token]

    @property
    def default_token(self) -> str | None:
        return self._default_token

    def _bot_by_id(self, bot_id: int) -> BotState | None:
        return next((b for b in self.bots.values() if b.id == bot_id), None)

    # ------------------------------------------------------------------ users & chats

    def now(self) -> int:
        return int(self.clock.now())

    def create_user(
        self,
        user_id: int | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> dict:
        """Create or update a user (Telegram ``User``); ``user_id`` None picks a fresh id."""
        if user_id is None:
            while self._next_user in self.users:
                self._next_user += 1
            user_id = self._next_user
        if user_id <= 0:
            raise SandboxError(400, "user ids must be positive")
        user = self.users.setdefault(
            user_id, {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        )
        for key, value in (
            ("first_name", first_name),
            ("last_name", last_name),
            ("username", username),
            ("language_code", language_code),
        ):
            if value is not None:
                user[key] = value.lstrip("@") if key == "username" else value
        return dict(user)

    def user(self, user_id: int) -> dict:
        try:
            return self.users[int(user_id)]
        except (KeyError, ValueError):
            raise SandboxError(404, f"unknown user {user_id}") from None

    def chat_obj(self, chat: ChatState) -> dict:
        """The Bot API ``Chat`` object."""
        if chat.is_private:
            user = self.users[chat.id]
            obj = {"id": chat.id, "type": "private", "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if user.get(key):
                    obj[key] = user[key]
            return obj
        obj = {"id": chat.id, "type": chat.type, "title": chat.title}
        if chat.username:
            obj["username"] = chat.username
        return obj

    def private_chat(self, bot: BotState, user_id: int) -> ChatState:
        self.user(user_id)
        key = (bot.token, user_id)
        chat = self.private_chats.get(key)
        if chat is None:
            chat = ChatState(id=user_id, type="private", user_id=user_id, bot_token=bot.token)
            self.private_chats[key] = chat
        return chat

    def group(self, chat_id: int) -> ChatState:
        try:
            return self.groups[int(chat_id)]
        except (KeyError, ValueError):
            raise SandboxError(404, f"unknown group {chat_id}") from None

    def chat(self, chat_id: int, token: str | None = None) -> ChatState:
        """A chat as seen by a bot: positive ids are that bot's private chat with the user."""
        chat_id = int(chat_id)
        if chat_id > 0:
            return self.private_chat(self.bot(token), chat_id)
        return self.group(chat_id)

    def chat_for_bot(self, bot: BotState, raw: Any, *, write: bool = True) -> ChatState:
        """Resolve a Bot API ``chat_id`` with Telegram's errors (400 not found, 403 forbidden)."""
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(raw, str) and raw.strip().startswith("@"):
            name = raw.strip()[1:].lower()
            found = next(
                (g for g in self.groups.values() if (g.username or "").lower() == name), None
            )
            if found is None:
                raise ApiError(400, "Bad Request: chat not found")
            raw = found.id
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        if chat_id > 0:
            if chat_id not in self.users:
                raise ApiError(400, "Bad Request: chat not found")
            chat = self.private_chat(bot, chat_id)
            if not write:
                if not chat.started:
                    raise ApiError(400, "Bad Request: chat not found")
                return chat
            if chat.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not chat.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            return chat
        chat = self.groups.get(chat_id)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.migrated_to is not None:  # Telegram names the new id; PTB raises ChatMigrated
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=chat.migrated_to,
            )
        status = chat.bots.get(bot.token, "left")
        if status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        if status not in ACTIVE_STATUSES:
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        return chat

    def create_group(
        self,
        title: str,
        *,
        members: list[int] | tuple[int, ...] = (),
        with_bot: bool = True,
        token: str | None = None,
        group_id: int | None = None,
        chat_type: str = "supergroup",
        creator: int | None = None,
        username: str | None = None,
    ) -> dict:
        """Create a group; ``creator`` (default: first member) owns it, the bot joins as admin."""
        if chat_type not in ("group", "supergroup"):
            raise SandboxError(400, "chat_type must be 'group' or 'supergroup'")
        if group_id is None:
            while -(1_000_000_000_000 + self._next_group) in self.groups:
                self._next_group += 1
            group_id = -(1_000_000_000_000 + self._next_group)
            self._next_group += 1
        if group_id >= 0:
            raise SandboxError(400, "group ids must be negative")
        if group_id in self.groups:
            raise SandboxError(409, f"group {group_id} already exists")
        ids = [int(m) for m in members]
        if creator is not None and creator not in ids:
            ids.insert(0, int(creator))
        for uid in ids:
            self.user(uid)
        chat = ChatState(
            id=group_id,
            type=chat_type,
            title=title,
            username=username.lstrip("@") if username else None,
        )
        owner = creator if creator is not None else (ids[0] if ids else None)
        for uid in ids:
            chat.members[uid] = "creator" if uid == owner else "member"
        self.groups[group_id] = chat
        if with_bot:
            self.add_bot(group_id, token=token, by=owner)
        return self.chat_info(chat)

    def upgrade_group(
        self, chat_id: int, *, new_id: int | None = None, by: int | None = None
    ) -> dict:
        """A basic group becomes a supergroup, as Telegram does it: a new chat with a new id
        (-100...), the same title, members and bots; the old group keeps its history but every
        Bot API call to it answers 400 with ``parameters.migrate_to_chat_id``. The bots get a
        service message in each: ``migrate_to_chat_id`` in the old, ``migrate_from_chat_id``
        in the new. Returns the new chat."""
        old = self.group(chat_id)
        if old.type != "group" or old.migrated_to is not None:
            raise SandboxError(400, f"{chat_id} is not a basic group that can be upgraded")
        if new_id is None:
            while -(1_000_000_000_000 + self._next_group) in self.groups:
                self._next_group += 1
            new_id = -(1_000_000_000_000 + self._next_group)
            self._next_group += 1
        if new_id in self.groups or not str(new_id).startswith("-100"):
            raise SandboxError(400, f"bad or taken supergroup id {new_id}")
        new = ChatState(id=new_id, type="supergroup", title=old.title, username=old.username)
        new.members = dict(old.members)
        new.bots = dict(old.bots)
        self.groups[new_id] = new
        actor = self._actor(old, by, self.bot().user())
        told = self.new_message(old, actor, {"migrate_to_chat_id": new_id}, outgoing=False)
        self._deliver_to_group(old, told, None)
        old.migrated_to = new_id
        self.touch(old)
        moved = self.new_message(new, actor, {"migrate_from_chat_id": old.id}, outgoing=False)
        self._deliver_to_group(new, moved, None)
        return self.chat_info(new)

    def chat_info(self, chat: ChatState) -> dict:
        info = self.chat_obj(chat)
        info["members"] = {str(k): v for k, v in chat.members.items()}
        info["bots"] = {str(self.bots[t].id): s for t, s in chat.bots.items()}
        info["pinned_message_ids"] = list(chat.pinned)
        info["message_count"] = len(chat.messages)
        info["version"] = chat.version
        if chat.migrated_to is not None:
            info["migrated_to"] = chat.migrated_to
        if chat.is_private:
            info.update(started=chat.started, blocked=chat.blocked)
        return info

    def _actor(self, chat: ChatState, by: int | None, fallback: dict) -> dict:
        if by is not None:
            return dict(self.user(by))
        owner = next((uid for uid, s in chat.members.items() if s == "creator"), None)
        return dict(self.users[owner]) if owner is not None else fallback

    def _group_bots(self, chat: ChatState) -> list[BotState]:
        return [self.bots[t] for t, s in chat.bots.items() if s in ACTIVE_STATUSES]

    def add_member(self, chat_id: int, user_id: int, *, by: int | None = None) -> dict:
        """A user joins (or is added by ``by``): a ``new_chat_members`` service message."""
        chat = self.group(chat_id)
        user = dict(self.user(user_id))
        old = chat.members.get(user["id"], "left")
        if old in ACTIVE_STATUSES:
            raise SandboxError(400, f"user {user_id} is already a member of {chat_id}")
        chat.members[user["id"]] = "member"
        actor = dict(self.user(by)) if by is not None else user
        self._member_update(chat, actor, user, old, "member")
        msg = self.new_message(chat, actor, {"new_chat_members": [user]}, outgoing=False)
        return self._deliver_to_group(chat, msg, None)

    def remove_member(self, chat_id: int, user_id: int, *, by: int | None = None) -> dict:
        """A user leaves (or is removed by ``by``): a ``left_chat_member`` service message."""
        chat = self.group(chat_id)
        user = dict(self.user(user_id))
        old = chat.members.get(user["id"], "left")
        if old not in ACTIVE_STATUSES:
            raise SandboxError(400, f"user {user_id} is not a member of {chat_id}")
        chat.members[user["id"]] = "left"
        actor = dict(self.user(by)) if by is not None else user
        self._member_update(chat, actor, user, old, "left")
        msg = self.new_message(chat, actor, {"left_chat_member": user}, outgoing=False)
        return self._deliver_to_group(chat, msg, None)

    def _member_update(self, chat: ChatState, actor: dict, user: dict, old: str, new: str) -> None:
        # chat_member updates go only to admin bots that asked for them (Bot API rule).
        for bot in self._group_bots(chat):
            if chat.bots[bot.token] == "administrator":
                self.enqueue(
                    bot,
                    "chat_member",
                    {
                        "chat": self.chat_obj(chat),
                        "from": actor,
                        "date": self.now(),
                        "old_chat_member": chat_member(user, old),
                        "new_chat_member": chat_member(user, new),
                    },
                )

    def add_bot(
        self,
        chat_id: int,
        *,
        token: str | None = None,
        by: int | None = None,
        admin: bool = True,
    ) -> dict:
        """Add the bot to a group (as admin by default): ``my_chat_member`` + service message."""
        chat = self.group(chat_id)
        bot = self.bot(token)
        old = chat.bots.get(bot.token, "left")
        if old in ACTIVE_STATUSES:
            raise SandboxError(400, f"bot is already a member of {chat_id}")
        new = "administrator" if admin else "member"
        chat.bots[bot.token] = new
        actor = self._actor(chat, by, bot.user())
        self._my_chat_member(bot, chat, actor, old, new)
        msg = self.new_message(chat, actor, {"new_chat_members": [bot.user()]}, outgoing=False)
        return self._deliver_to_group(chat, msg, bot.token)

    def remove_bot(self, chat_id: int, *, token: str | None = None, by: int | None = None) -> dict:
        """Remove the bot from a group (it gets ``my_chat_member`` left)."""
        chat = self.group(chat_id)
        bot = self.bot(token)
        old = chat.bots.get(bot.token, "left")
        if old not in ACTIVE_STATUSES:
            raise SandboxError(400, f"bot is not a member of {chat_id}")
        return self._bot_leaves(bot, chat, self._actor(chat, by, bot.user()))

    def _bot_leaves(self, bot: BotState, chat: ChatState, actor: dict) -> dict:
        old = chat.bots[bot.token]
        chat.bots[bot.token] = "left"
        self._my_chat_member(bot, chat, actor, old, "left")
        msg = self.new_message(chat, actor, {"left_chat_member": bot.user()}, outgoing=False)
        return self._deliver_to_group(chat, msg, None)

    def _my_chat_member(
        self, bot: BotState, chat: ChatState, actor: dict, old: str, new: str
    ) -> int | None:
        return self.enqueue(
            bot,
            "my_chat_member",
            {
                "chat": self.chat_obj(chat),
                "from": actor,
                "date": self.now(),
                "old_chat_member": chat_member(bot.user(), old),
                "new_chat_member": chat_member(bot.user(), new),
            },
        )

    def block_bot(self, user_id: int, *, token: str | None = None) -> dict:
        """The user blocks the bot: sends then fail with 403, bot gets ``my_chat_member``."""
        bot = self.bot(token)
        chat = self.private_chat(bot, user_id)
        if not chat.blocked:
            chat.blocked = True
            self._my_chat_member(bot, chat, dict(self.users[user_id]), "member", "kicked")
            self.touch(chat)
        return self.chat_info(chat)

    def unblock_bot(self, user_id: int, *, token: str | None = None) -> dict:
        bot = self.bot(token)
        chat = self.private_chat(bot, user_id)
        if chat.blocked:
            chat.blocked = False
            self._my_chat_member(bot, chat, dict(self.users[user_id]), "kicked", "member")
            self.touch(chat)
        return self.chat_info(chat)

    # ------------------------------------------------------------------ messages & updates

    def touch(self, chat: ChatState, msg: dict | None = None) -> None:
        chat.version += 1
        self.changed.notify()
        for listener in list(self.listeners):
            try:
                listener(chat, msg)
            except Exception:  # a viewer's bug must not break the Bot API
                log.exception("emulator listener failed")

    def new_message(
        self,
        chat: ChatState,
        sender: dict,
        content: dict,
        *,
        outgoing: bool,
        reply_markup: dict | None = None,
        reply_to: dict | None = None,
        meta: dict | None = None,
    ) -> dict:
        """Append a message to the chat history (the stored dict, including test metadata)."""
        mid = chat.next_message_id
        chat.next_message_id += 1
        msg: dict = {
            "message_id": mid,
            "from": dict(sender),
            "chat": self.chat_obj(chat),
            "date": self.now(),
        }
        if reply_to is not None:
            msg["reply_to_message"] = reply_to
        msg.update(content)
        if reply_markup is not None:
            msg["reply_markup"] = reply_markup
        msg.update(outgoing=outgoing, edited=0, edit_history=[], deleted=False, update_id=None)
        if meta:
            msg.update(meta)
        chat.messages.append(msg)
        chat.by_id[mid] = msg
        self.touch(chat, msg)
        return msg

    def enqueue(self, bot: BotState, kind: str, payload: dict) -> int | None:
        """Queue an update for ``bot`` unless its allowed_updates exclude ``kind``."""
        allowed = bot.allowed_updates
        if allowed:
            if kind not in allowed:
                return None
        elif kind in DEFAULT_UPDATE_EXCLUDES:
            return None
        update_id = bot.next_update_id
        bot.next_update_id += 1
        update = {"update_id": update_id, kind: copy.deepcopy(payload)}
        bot.log[update_id] = update
        bot.pending.append(update)
        bot.signal.notify()
        self._kick_webhook(bot)
        return update_id

    def _deliver_to_group(self, chat: ChatState, msg: dict, token: str | None) -> dict:
        """Send a group message to every member bot; ``msg['update_id']`` is for ``token``'s."""
        ids: dict[str, int | None] = {}
        for bot in self._group_bots(chat):
            if bot.id != msg["from"]["id"]:  # bots never see their own messages
                ids[bot.token] = self.enqueue(bot, "message", api_message(msg))
        wanted = token or self._default_token
        msg["update_id"] = ids.get(wanted) if wanted in ids else next(iter(ids.values()), None)
        return copy.deepcopy(msg)

    def _user_message(
        self,
        user_id: int,
        chat_id: int | None,
        token: str | None,
        content: dict,
        reply_to_message_id: int | None,
    ) -> dict:
        user = dict(self.user(user_id))
        bot: BotState | None = None
        if chat_id is None or int(chat_id) == user["id"]:
            bot = self.bot(token)
            chat = self.private_chat(bot, user["id"])
            if chat.blocked:  # writing to a blocked bot means pressing "Restart": unblock
                self.unblock_bot(user["id"], token=bot.token)
            chat.started = True
        elif int(chat_id) > 0:
            raise SandboxError(
                400, "a user writes to the bot's private chat (chat_id = own id) or a group"
            )
        else:
            chat = self.group(int(chat_id))
            if chat.members.get(user["id"]) not in ACTIVE_STATUSES:
                raise SandboxError(403, f"user {user_id} is not a member of chat {chat_id}")
        reply_to = None
        if reply_to_message_id is not None:
            target = chat.by_id.get(int(reply_to_message_id))
            if target is None or target["deleted"]:
                raise SandboxError(404, f"message {reply_to_message_id} not found")
            reply_to = api_message(target, nested=False)
        msg = self.new_message(chat, user, content, outgoing=False, reply_to=reply_to)
        if bot is not None:
            msg["update_id"] = self.enqueue(bot, "message", api_message(msg))
            return copy.deepcopy(msg)
        return self._deliver_to_group(chat, msg, token)

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        token: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict:
        """The user sends text; ``/command`` text gets a ``bot_command`` entity."""
        if not text:
            raise SandboxError(400, "text is empty")
        content: dict = {"text": text}
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        return self._user_message(user_id, chat_id, token, content, reply_to_message_id)

    def send_contact(
        self,
        user_id: int,
        phone_number: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        contact_user_id: int | None = None,
        chat_id: int | None = None,
        token: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict:
        """Share a contact; by default the user's own (as a ``request_contact`` button does)."""
        user = self.user(user_id)
        contact = {
            "phone_number": phone_number,
            "first_name": first_name or user["first_name"],
            "user_id": contact_user_id if contact_user_id is not None else user["id"],
        }
        if last_name or (first_name is None and user.get("last_name")):
            contact["last_name"] = last_name or user["last_name"]
        return self._user_message(
            user_id, chat_id, token, {"contact": contact}, reply_to_message_id
        )

    def send_photo(
        self,
        user_id: int,
        data: bytes,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        token: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict:
        record = self.store_file("photo", data)
        content: dict = {"photo": record.photo_sizes}
        if caption:
            content["caption"] = caption
        return self._user_message(user_id, chat_id, token, content, reply_to_message_id)

    def send_document(
        self,
        user_id: int,
        data: bytes,
        *,
        file_name: str = "document.bin",
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        chat_id: int | None = None,
        token: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict:
        record = self.store_file("document", data, mime_type=mime_type, file_name=file_name)
        content: dict = {"document": self.media_object(record)}
        if caption:
            content["caption"] = caption
        return self._user_message(user_id, chat_id, token, content, reply_to_message_id)

    def send_voice(
        self,
        user_id: int,
        data: bytes = b"OggS\x00voice",
        *,
        duration: int = 1,
        chat_id: int | None = None,
        token: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict:
        record = self.store_file("voice", data, mime_type="audio/ogg", duration=duration)
        return self._user_message(
            user_id, chat_id, token, {"voice": self.media_object(record)}, reply_to_message_id
        )

    def send_sticker(
        self,
        user_id: int,
        *,
        emoji: str = "👍",
        set_name: str | None = None,
        chat_id: int | None = None,
        token: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict:
        record = self.store_file(
            "sticker", b"RIFF\x00\x00\x00\x00WEBP", mime_type="image/webp", width=512, height=512
        )
        sticker = self.media_object(record)
        sticker["emoji"] = emoji
        if set_name:
            sticker["set_name"] = set_name
        return self._user_message(
            user_id, chat_id, token, {"sticker": sticker}, reply_to_message_id
        )

    def send_location(
        self,
        user_id: int,
        latitude: float,
        longitude: float,
        *,
        chat_id: int | None = None,
        token: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict:
        location = {"latitude": float(latitude), "longitude": float(longitude)}
        return self._user_message(
            user_id, chat_id, token, {"location": location}, reply_to_message_id
        )

    def press(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        force: bool = False,
        token: str | None = None,
    ) -> str:
        """The user presses an inline button; returns the callback_query id.

        Refused (400) when the message has no button with that ``callback_data`` unless
        ``force`` (to simulate forged/stale data).
        """
        user = dict(self.user(user_id))
        chat = self.chat(chat_id, token)
        if chat.is_private and chat.id != user["id"]:
            raise SandboxError(400, f"user {user_id} can't see the private chat {chat_id}")
        if not chat.is_private and chat.members.get(user["id"]) not in ACTIVE_STATUSES:
            raise SandboxError(403, f"user {user_id} is not a member of chat {chat_id}")
        msg = chat.by_id.get(int(message_id))
        if msg is None or msg["deleted"]:
            raise SandboxError(404, f"message {message_id} not found in chat {chat_id}")
        markup = msg.get("reply_markup")
        datas = (
            [
                b.get("callback_data")
                for row in (markup or {}).get("inline_keyboard", [])
                for b in row
            ]
            if is_inline(markup)
            else []
        )
        if data not in datas and not force:
            raise SandboxError(
                400,
                f"message {message_id} has no inline button with callback_data {data!r}"
                f" (buttons: {datas})",
            )
        sender = self._bot_by_id(msg["from"]["id"]) if msg["outgoing"] else None
        bot = sender or self.bot(token)
        query_id = str(secrets.randbits(62))
        while query_id in self.callback_queries:
            query_id = str(secrets.randbits(62))
        query = {
            "id": query_id,
            "from": user,
            "message": api_message(msg),
            "chat_instance": chat.chat_instance,
            "data": data,
        }
        update_id = self.enqueue(bot, "callback_query", query)
        self.callback_queries[query_id] = {
            "token": bot.token,
            "user_id": user["id"],
            "chat_id": chat.id,
            "message_id": msg["message_id"],
            "data": data,
            "update_id": update_id,
        }
        return query_id

    def redeliver(self, update_id: int, *, token: str | None = None) -> int:
        """Queue an already-delivered update again, same update_id (at-least-once delivery)."""
        bot = self.bot(token)
        update = bot.log.get(int(update_id))
        if update is None:
            raise SandboxError(404, f"no update {update_id} for this bot")
        bot.redeliveries.append([copy.deepcopy(update), False])
        bot.signal.notify()
        self._kick_webhook(bot)
        return int(update_id)

    # ------------------------------------------------------------------ files

    def store_file(
        self,
        kind: str,
        data: bytes,
        *,
        mime_type: str | None = None,
        file_name: str | None = None,
        width: int | None = None,
        height: int | None = None,
        duration: int | None = None,
        url: str | None = None,
    ) -> FileRecord:
        """Keep uploaded bytes; photos also get a thumbnail-size entry (like Telegram)."""
        if kind == "photo":
            width, height = image_size(data) or (width or 800, height or 600)
            mime_type = mime_type or ("image/png" if data[:4] == b"\x89PNG" else "image/jpeg")
        record = self._new_record(kind, data, mime_type, file_name, width, height, duration, url)
        if kind == "photo":
            scale = min(1.0, 90 / max(width or 1, height or 1))
            thumb = self._new_record(
                kind,
                data,
                mime_type,
                None,
                max(1, round(width * scale)),
                max(1, round(height * scale)),
                None,
                url,
            )
            sizes = [self._photo_size(thumb), self._photo_size(record)]
            thumb.photo_sizes = record.photo_sizes = sizes
        return record

    def _new_record(
        self,
        kind: str,
        data: bytes,
        mime_type: str | None,
        file_name: str | None,
        width: int | None,
        height: int | None,
        duration: int | None,
        url: str | None,
    ) -> FileRecord:
        self._file_counter += 1
        file_id, unique_id = new_file_id(kind)
        ext = _EXTENSIONS.get(kind, "bin")
        if file_name and "." in file_name:
            ext = file_name.rsplit(".", 1)[1]
        elif mime_type == "image/png":
            ext = "png"
        path = f"{_DIRS.get(kind, 'documents')}/file_{self._file_counter}.{ext}"
        record = FileRecord(
            file_id,
            unique_id,
            kind,
            bytes(data),
            path,
            mime_type,
            file_name,
            width,
            height,
            duration,
            url,
        )
        self.files[file_id] = record
        self.files_by_path[path] = record
        return record

    @staticmethod
    def _photo_size(record: FileRecord) -> dict:
        return {**record.base(), "width": record.width, "height": record.height}

    def media_object(self, record: FileRecord) -> dict:
        """The Bot API object (Document, Voice, Sticker, ...) describing a stored file."""
        obj = record.base()
        if record.kind == "sticker":
            obj.update(
                type="regular",
                width=record.width or 512,
                height=record.height or 512,
                is_animated=False,
                is_video=False,
            )
        if record.kind in ("video", "animation"):
            obj.update(
                width=record.width or 640,
                height=record.height or 480,
                duration=record.duration or 1,
            )
        if record.kind in ("voice", "audio"):
            obj["duration"] = record.duration or 1
        if record.file_name and record.kind in ("document", "audio", "video", "animation"):
            obj["file_name"] = record.file_name
        if record.mime_type and record.kind != "sticker":
            obj["mime_type"] = record.mime_type
        return obj

    def file_bytes(self, file_id: str) -> bytes:
        record = self.files.get(file_id)
        if record is None:
            raise SandboxError(404, f"unknown file_id {file_id}")
        return record.data

    # ------------------------------------------------------------------ limits, failures, stats

    def set_limits(self, **changes: float | None) -> dict:
        """Change flood limits at runtime (names as in the constructor); returns all limits."""
        try:
            self.limits.update(**changes)
        except ValueError as exc:
            raise SandboxError(400, str(exc)) from None
        return self.limits.as_dict()

    def fail_next(
        self, n: int = 1, *, status: int = 429, retry_after: int = 1, token: str | None = None
    ) -> None:
        """Make the next ``n`` message-producing calls (of ``token``'s bot, or any) fail."""
        for _ in range(int(n)):
            self._failures.append(
                {"status": int(status), "retry_after": int(retry_after), "token": token}
            )

    def take_failure(self, bot: BotState) -> ApiError | None:
        for i, failure in enumerate(self._failures):
            if failure["token"] in (None, bot.token):
                del self._failures[i]
                status = failure["status"]
                if status == 429:
                    ra = max(1, failure["retry_after"])
                    return ApiError(429, f"Too Many Requests: retry after {ra}", ra)
                return ApiError(status, _FAIL_DESCRIPTIONS.get(status, f"Error {status}"))
        return None

    def fail_every(
        self,
        n: int | None,
        *,
        status: int = 502,
        token: str | None = None,
        methods: list[str] | None = None,
    ) -> dict:
        """A flaky Telegram: answer every ``n``-th Bot API call (any method, getUpdates too, or
        only those named in ``methods``; of ``token``'s bot, or of any bot) with ``status``
        (502 Bad Gateway by default), as a struggling front end does. ``n`` None or 0 turns it
        off. Returns the mode."""
        if not n or int(n) <= 0:
            self._periodic = None
            return {"n": 0}
        if int(status) < 500:
            raise SandboxError(400, "fail_every answers with a 5xx status")
        names = {m.lower() for m in methods} if methods else None
        self._periodic = {
            "n": int(n),
            "status": int(status),
            "token": token,
            "methods": names,
            "count": 0,
        }
        return {"n": int(n), "status": int(status), "token": token, "methods": methods}

    def _raise_periodic_failure(self, bot: BotState, method: str) -> None:
        """Counts the call; the n-th fails before it is read, leaving no trace (like a proxy
        answering for a server it could not reach)."""
        mode = self._periodic
        if mode is None or mode["token"] not in (None, bot.token):
            return
        if mode["methods"] is not None and method.lower() not in mode["methods"]:
            return
        mode["count"] += 1
        if mode["count"] % mode["n"]:
            return
        bot.stats["injected_failures"] += 1
        status = mode["status"]
        raise ApiError(status, _FAIL_DESCRIPTIONS.get(status, f"Error {status}"))

    def outage(self, status: int | None = 502) -> None:
        """Telegram is down until :meth:`end_outage`: every Bot API call (getUpdates too) is
        answered ``status`` (502 Bad Gateway, 500, 503, 504), or with ``status=None`` the
        connection is dropped without an answer (the client sees a network error)."""
        self._outage = {"status": status}

    def end_outage(self) -> None:
        self._outage = None

    def _outage_answer(self, request: web.Request) -> web.Response:
        status = self._outage["status"] if self._outage else None
        if status is None:
            if request.transport is not None:
                request.transport.close()  # connection reset: no HTTP answer at all
            raise web.HTTPServiceUnavailable  # never read by the client
        err = ApiError(status, _FAIL_DESCRIPTIONS.get(status, f"Error {status}"))
        return web.json_response(err.envelope(), status=status)

    def stall(self, chat_id: int, *, after_delivery: bool = False) -> None:
        """Message-producing calls to ``chat_id`` hang until :meth:`release`: before anything
        is delivered (a bot that dies meanwhile never got its message out), or with
        ``after_delivery`` once the message is in the chat, only the answer held back (a bot
        that dies then never learns it was sent: it sends it again, at least once)."""
        self._stalls.setdefault(int(chat_id), asyncio.Event())
        if after_delivery:
            self._stalled_answers.add(int(chat_id))
        else:
            self._stalled_answers.discard(int(chat_id))

    def release(self, chat_id: int) -> None:
        self._stalled_answers.discard(int(chat_id))
        event = self._stalls.pop(int(chat_id), None)
        if event is not None:
            event.set()

    async def _wait_if_stalled(self, method: str, params: Params, delivered: bool = False) -> None:
        if not self._stalls or CANONICAL.get(method.lower()) not in BotApi.MESSAGE_PRODUCING:
            return
        try:
            chat_id = int(params.raw("chat_id"))
        except (TypeError, ValueError):
            return
        event = self._stalls.get(chat_id)
        if event is not None and delivered == (chat_id in self._stalled_answers):
            self.stalled_calls += 1
            await event.wait()

    def stats(self, token: str | None = None) -> dict:
        """Counters of a bot: sent, edits, deleted, rate_limited (429s), per_chat{chat: sent}…"""
        bot = self.bot(token)
        out = {k: dict(v) if isinstance(v, dict) else v for k, v in bot.stats.items()}
        # Updates queued but not yet confirmed by getUpdates/webhook: "has the bot caught up?"
        out["pending_updates"] = len(bot.pending) + len(bot.redeliveries)
        return out

    def reset_stats(self, token: str | None = None) -> None:
        bots = [self.bot(token)] if token else list(self.bots.values())
        for bot in bots:
            bot.stats = new_stats()

    def reset_limits_state(self, token: str | None = None) -> None:
        """Forget past sends in the flood windows (e.g. between test phases)."""
        bots = [self.bot(token)] if token else list(self.bots.values())
        for bot in bots:
            bot.limiter.reset()

    # ------------------------------------------------------------------ reading

    def messages(
        self,
        chat_id: int,
        *,
        token: str | None = None,
        after: int | None = None,
        since: int | None = None,
    ) -> list[dict]:
        """Every message of a chat in order (incl. deleted ones, flagged), as stored dicts.

        ``after``: only message_id > after; ``since``: only from that list index on.
        """
        chat = self.chat(chat_id, token)
        msgs = chat.messages[since or 0 :]
        if after is not None:
            msgs = [m for m in msgs if m["message_id"] > int(after)]
        return copy.deepcopy(msgs)

    def updates_log(self, token: str | None = None) -> list[dict]:
        return copy.deepcopy(list(self.bot(token).log.values()))

    async def wait_for(
        self,
        chat_id: int,
        match: MessageMatch,
        timeout: float = 10.0,
        *,
        after_message_id: int | None = None,
        token: str | None = None,
    ) -> dict:
        """In-process twin of :meth:`SandboxClient.wait_for`."""
        chat = self.chat(chat_id, token)
        deadline = time.monotonic() + timeout
        while True:
            for msg in chat.messages:
                if (
                    msg["outgoing"]
                    and not msg["deleted"]
                    and (after_message_id is None or msg["message_id"] > after_message_id)
                    and message_matches(msg, match)
                ):
                    return copy.deepcopy(msg)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no bot message matching {match!r} in chat {chat_id}")
            await self.changed.wait(remaining)

    async def wait_callback_answer(self, query_id: str, timeout: float = 5.0) -> dict | None:
        deadline = time.monotonic() + timeout
        while query_id not in self.callback_answers:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closing:
                return None
            await self.changed.wait(remaining)
        return dict(self.callback_answers[query_id])

    async def wait_chat_change(self, chat: ChatState, version: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while chat.version <= version and not self._closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await self.changed.wait(remaining)

    def reset(self) -> None:
        """Forget everything except the limits (bots, users, chats, files, updates)."""
        for bot in self.bots.values():
            if bot.webhook_task is not None:
                bot.webhook_task.cancel()
            bot.signal.notify()
        self.bots.clear()
        self.users.clear()
        self.groups.clear()
        self.private_chats.clear()
        self.files.clear()
        self.files_by_path.clear()
        self.callback_queries.clear()
        self.callback_answers.clear()
        self._failures.clear()
        self._periodic = None
        self._outage = None
        for event in self._stalls.values():
            event.set()
        self._stalls.clear()
        self._stalled_answers.clear()
        self._default_token = None
        self.changed.notify()

    # ------------------------------------------------------------------ webhooks

    def _kick_webhook(self, bot: BotState) -> None:
        if (
            bot.webhook
            and self._session is not None
            and not self._closing
            and (bot.webhook_task is None or bot.webhook_task.done())
        ):
            bot.webhook_task = asyncio.get_running_loop().create_task(self._webhook_loop(bot))

    def stop_webhook(self, bot: BotState) -> None:
        bot.webhook = None
        if bot.webhook_task is not None:
            bot.webhook_task.cancel()
            bot.webhook_task = None
        bot.signal.notify()

    async def _webhook_loop(self, bot: BotState) -> None:
        while bot.webhook and not self._closing and self._session is not None:
            entry = bot.redeliveries[0] if bot.redeliveries else None
            update = entry[0] if entry else (bot.pending[0] if bot.pending else None)
            if update is None:
                await bot.signal.wait(30)
                continue
            hook = bot.webhook
            headers = {}
            if hook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
            error = None
            try:
                async with self._session.post(
                    hook["url"],
                    json=update,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=10),
                ) as resp:
                    if not 200 <= resp.status < 300:
                        error = f"Wrong response from the webhook: {resp.status} {resp.reason}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"Connection failed: {exc!r}"
            if error is None:
                if entry is not None:
                    bot.redeliveries.remove(entry)
                elif update in bot.pending:
                    bot.pending.remove(update)
            else:
                bot.webhook_error = (self.now(), error)
                await asyncio.sleep(self.webhook_retry_delay)


async def _read_params(request: web.Request) -> Params:
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
