"""The emulated Telegram's world: the bots that call it, the users, their private chats with
each bot and the groups, every chat's message history, and the updates each change produces.
It resolves a Bot API ``chat_id`` with Telegram's own errors, appends messages (telling the
listeners, such as the browser page), and lets tests read chats and wait for a bot's reply.
Membership changes live in :mod:`sandbox.membership`, what users do in :mod:`sandbox.people`.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from typing import Any

from .errors import ApiError, SandboxError
from .ratelimit import BotLimiter, Limits
from .state import (
    ACTIVE_STATUSES,
    BotState,
    ChatState,
    Clock,
    MessageMatch,
    Signal,
    api_message,
    bot_id_from_token,
    message_matches,
    new_stats,
)
from .updates import Updates

log = logging.getLogger(__name__)

ChangeListener = Callable[[ChatState, dict | None], None]


class World:
    """Bots, users and chats, all in memory; one instance per emulator."""

    def __init__(
        self, clock: Clock, limits: Limits, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.clock = clock
        self.limits = limits
        self.monotonic = monotonic  # the limits' clock (see sandbox.ratelimit.scaled_monotonic)
        self.bots: dict[str, BotState] = {}
        self.users: dict[int, dict] = {}
        self.groups: dict[int, ChatState] = {}
        self.private_chats: dict[tuple[str, int], ChatState] = {}
        self.callback_queries: dict[str, dict] = {}
        self.callback_answers: dict[str, dict] = {}
        self.changed = Signal()  # any chat change or callback answer
        # Told (synchronously) of each change to a chat, with the message added or changed
        # (None: the chat's state only, e.g. a pin or a block). The browser page
        # (sandbox/web.py) pushes them to its viewers.
        self.listeners: list[ChangeListener] = []
        self.updates = Updates(self.now)
        self.default_token: str | None = None
        self._next_group = 1_000_000_001
        self._next_user = 100_000_001

    def now(self) -> int:
        return int(self.clock.now())

    @property
    def closing(self) -> bool:
        return self.updates.closing

    def reset(self) -> None:
        """Forget bots, users, chats and callback queries (then wake every waiter)."""
        for bot in self.bots.values():
            if bot.webhook_task is not None:
                bot.webhook_task.cancel()
            bot.signal.notify()
        self.bots.clear()
        self.users.clear()
        self.groups.clear()
        self.private_chats.clear()
        self.callback_queries.clear()
        self.callback_answers.clear()
        self.default_token = None
        self.changed.notify()

    # ------------------------------------------------------------------ bots

    def bot_for_token(self, token: str) -> BotState:
        """The bot behind ``token``, created on first sight (as Telegram knows every token)."""
        bot = self.bots.get(token)
        if bot is None:
            bot = BotState(
                token=token,
                id=bot_id_from_token(token),
                username="paotui_bot",
                first_name="跑腿",
                limiter=BotLimiter(self.limits, self.monotonic),
            )
            self.bots[token] = bot
            self.default_token = self.default_token or token
        return bot

    def register_bot(
        self, token: str, *, username: str | None = None, first_name: str | None = None
    ) -> dict:
        """Create (or rename) the bot behind ``token``; the first bot becomes the default."""
        bot = self.bot_for_token(token)
        if username:
            bot.username = username.lstrip("@")
        if first_name:
            bot.first_name = first_name
        return bot.me()

    def bot(self, token: str | None = None) -> BotState:
        """The bot for ``token``, or the default (first registered / first to call) bot."""
        if token:
            return self.bot_for_token(token)
        if self.default_token is None:
            raise SandboxError(400, "no bot yet: register_bot(token) first or pass token")
        return self.bots[self.default_token]

    def bot_by_id(self, bot_id: int) -> BotState | None:
        return next((b for b in self.bots.values() if b.id == bot_id), None)

    def stats(self, token: str | None = None) -> dict:
        """Counters of a bot: sent, edits, deleted, rate_limited (429s), per_chat{chat: sent}…"""
        bot = self.bot(token)
        out = {k: dict(v) if isinstance(v, dict) else v for k, v in bot.stats.items()}
        # Updates queued but not yet confirmed by getUpdates/webhook: "has the bot caught up?"
        out["pending_updates"] = len(bot.pending) + len(bot.redeliveries)
        return out

    def reset_stats(self, token: str | None = None) -> None:
        for bot in [self.bot(token)] if token else list(self.bots.values()):
            bot.stats = new_stats()

    # ------------------------------------------------------------------ users & chats

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

    def new_group_id(self) -> int:
        """A free supergroup-style id (-100...)."""
        while -(1_000_000_000_000 + self._next_group) in self.groups:
            self._next_group += 1
        group_id = -(1_000_000_000_000 + self._next_group)
        self._next_group += 1
        return group_id

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

    def chat_info(self, chat: ChatState) -> dict:
        """Chat fields plus what tests look at: members, bots, pins, version, started/blocked."""
        info: dict[str, Any] = self.chat_obj(chat)
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
        group = self.groups.get(chat_id)
        if group is None:
            raise ApiError(400, "Bad Request: chat not found")
        if group.migrated_to is not None:  # Telegram names the new id; PTB raises ChatMigrated
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=group.migrated_to,
            )
        status = group.bots.get(bot.token, "left")
        if status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {group.type} chat")
        if status not in ACTIVE_STATUSES:
            raise ApiError(403, f"Forbidden: bot is not a member of the {group.type} chat")
        return group

    def actor(self, chat: ChatState, by: int | None, fallback: dict) -> dict:
        """Who did something in a group: ``by``, else the group's creator, else ``fallback``."""
        if by is not None:
            return dict(self.user(by))
        owner = next((uid for uid, s in chat.members.items() if s == "creator"), None)
        return dict(self.users[owner]) if owner is not None else fallback

    def group_bots(self, chat: ChatState) -> list[BotState]:
        return [self.bots[t] for t, s in chat.bots.items() if s in ACTIVE_STATUSES]

    # ------------------------------------------------------------------ messages & updates

    def touch(self, chat: ChatState, msg: dict | None = None) -> None:
        """A chat changed: bump its version, wake waiters, tell the listeners."""
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
        return self.updates.enqueue(bot, kind, payload)

    def deliver_to_group(self, chat: ChatState, msg: dict, token: str | None) -> dict:
        """Send a group message to every member bot; ``msg['update_id']`` is for ``token``'s."""
        ids: dict[str, int | None] = {}
        for bot in self.group_bots(chat):
            if bot.id != msg["from"]["id"]:  # bots never see their own messages
                ids[bot.token] = self.enqueue(bot, "message", api_message(msg))
        wanted = token or self.default_token
        msg["update_id"] = ids.get(wanted) if wanted in ids else next(iter(ids.values()), None)
        return copy.deepcopy(msg)

    def redeliver(self, update_id: int, *, token: str | None = None) -> int:
        """Queue an already-delivered update again, same update_id (at-least-once delivery)."""
        return self.updates.redeliver(self.bot(token), update_id)

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
            if remaining <= 0 or self.closing:
                return None
            await self.changed.wait(remaining)
        return dict(self.callback_answers[query_id])

    async def wait_chat_change(self, chat: ChatState, version: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while chat.version <= version and not self.closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await self.changed.wait(remaining)
