"""The emulator's records and vocabulary: a bot (its update queue, counters, flood state), a
chat (members, history), a stored file, the clock it reads, and the small helpers that turn
them into Bot API objects (Message, ChatMember, file ids).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import re
import secrets
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .ratelimit import BotLimiter

# Keys the emulator adds to stored messages for tests; never sent to bots.
META_KEYS = frozenset(
    {
        "outgoing",
        "edited",
        "edit_history",
        "deleted",
        "deleted_date",
        "update_id",
        "parse_mode",
        "raw_text",
        "raw_caption",
    }
)
# Bot API: "an empty list receives all update types except chat_member, message_reaction and
# message_reaction_count".
DEFAULT_UPDATE_EXCLUDES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
ACTIVE_STATUSES = frozenset({"creator", "administrator", "member", "restricted"})
MEDIA_KEYS = ("photo", "document", "video", "audio", "animation", "voice")


class Clock(Protocol):
    """What the emulator reads the time from (a test or the sandbox may move it)."""

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


class Signal:
    """Broadcast wake-up: every ``wait`` pending when ``notify`` is called returns.

    A Condition would need its lock held by notifiers; emulator state changes are synchronous,
    so a shared future that is resolved and replaced is simpler and cannot miss a wake-up.
    """

    def __init__(self) -> None:
        self._fut: asyncio.Future[None] | None = None

    def notify(self) -> None:
        if self._fut is not None and not self._fut.done():
            self._fut.set_result(None)
        self._fut = None

    async def wait(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        if self._fut is None or self._fut.done() or self._fut.get_loop() is not loop:
            self._fut = loop.create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self._fut), timeout)
        except TimeoutError:
            pass


def bot_id_from_token(token: str) -> int:
    """Stable bot id: the digits before ':' like real tokens, else derived from a hash."""
    match = re.match(r"^(\d{1,15}):", token)
    if match:
        return int(match.group(1))
    return 1_000_000_000 + int(hashlib.sha256(token.encode()).hexdigest()[:12], 16) % 8_000_000_000


def new_stats() -> dict[str, Any]:
    return {
        "sent": 0,
        "edits": 0,
        "deleted": 0,
        "rate_limited": 0,
        "injected_failures": 0,
        "callback_answers": 0,
        "per_chat": Counter(),
        "per_chat_edits": Counter(),
        "per_chat_rate_limited": Counter(),
        "calls": Counter(),
    }


@dataclass
class BotState:
    token: str
    id: int
    username: str
    first_name: str
    limiter: BotLimiter
    next_update_id: int = 1
    pending: list[dict] = field(default_factory=list)
    # Redelivered updates: (update, already_returned_once). Kept apart because their update_id is
    # below the poller's offset and would otherwise be dropped as "confirmed" immediately.
    redeliveries: list[list[Any]] = field(default_factory=list)
    log: dict[int, dict] = field(default_factory=dict)
    signal: Signal = field(default_factory=Signal)
    poll_generation: int = 0
    allowed_updates: list[str] | None = None
    webhook: dict[str, Any] | None = None
    webhook_task: asyncio.Task[None] | None = None
    webhook_error: tuple[int, str] | None = None
    commands: dict[str, list[dict]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=new_stats)

    def user(self) -> dict:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def me(self) -> dict:
        return {
            **self.user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }


@dataclass
class ChatState:
    id: int
    type: str  # private | group | supergroup
    title: str | None = None
    username: str | None = None
    user_id: int | None = None  # private chats: the user
    bot_token: str | None = None  # private chats: whose private chat this is
    started: bool = False
    blocked: bool = False
    members: dict[int, str] = field(default_factory=dict)  # user id -> status
    bots: dict[str, str] = field(default_factory=dict)  # bot token -> status
    messages: list[dict] = field(default_factory=list)
    by_id: dict[int, dict] = field(default_factory=dict)
    next_message_id: int = 1
    pinned: list[int] = field(default_factory=list)
    actions: list[tuple[int, str]] = field(default_factory=list)
    invite_links: list[dict] = field(default_factory=list)
    version: int = 0
    chat_instance: str = field(default_factory=lambda: str(secrets.randbits(62)))
    # A basic group upgraded to a supergroup: the new chat's id (calls to this one then fail).
    migrated_to: int | None = None

    @property
    def is_private(self) -> bool:
        return self.type == "private"


@dataclass
class FileRecord:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None
    url: str | None = None
    photo_sizes: list[dict] | None = None  # the PhotoSize list a photo file belongs to

    def api(self) -> dict:
        """The Bot API ``File`` object (getFile)."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }

    def base(self) -> dict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
        }


def api_message(msg: dict, *, nested: bool = True) -> dict:
    """The Bot API view of a stored message (a deep copy, so later edits don't leak in)."""
    out = {k: v for k, v in msg.items() if k not in META_KEYS}
    markup = out.get("reply_markup")
    # Only inline keyboards are part of a Message object; reply keyboards live client-side.
    if markup is not None and "inline_keyboard" not in markup:
        del out["reply_markup"]
    if not nested:
        out.pop("reply_to_message", None)
    return copy.deepcopy(out)


def is_inline(markup: dict | None) -> bool:
    return isinstance(markup, dict) and "inline_keyboard" in markup


def chat_member(user: dict, status: str) -> dict:
    """A ChatMember object with the fields PTB requires for each status."""
    if status == "creator":
        return {"status": "creator", "user": user, "is_anonymous": False}
    if status == "administrator":
        rights = dict.fromkeys(
            (
                "can_manage_chat",
                "can_delete_messages",
                "can_manage_video_chats",
                "can_restrict_members",
                "can_change_info",
                "can_invite_users",
                "can_post_stories",
                "can_edit_stories",
                "can_delete_stories",
                "can_pin_messages",
            ),
            True,
        )
        return {
            "status": "administrator",
            "user": user,
            "can_be_edited": False,
            "is_anonymous": False,
            "can_promote_members": False,
            "can_manage_topics": False,
            **rights,
        }
    if status == "kicked":
        return {"status": "kicked", "user": user, "until_date": 0}
    if status in ("member", "left"):
        return {"status": status, "user": user}
    raise ValueError(f"unsupported status {status}")


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width/height from PNG, GIF or JPEG headers, so PhotoSize looks plausible."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            seg_len = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return width, height
            i += 2 + seg_len
    return None


def new_file_id(kind: str) -> tuple[str, str]:
    """(file_id, file_unique_id) that look like Telegram's opaque base64 strings."""
    prefix = {
        "photo": "AgACAgIAAxk",
        "document": "BQACAgIAAxk",
        "voice": "AwACAgIAAxk",
        "sticker": "CAACAgIAAxk",
        "video": "BAACAgIAAxk",
        "audio": "CQACAgIAAxk",
        "animation": "CgACAgIAAxk",
    }.get(kind, "BQACAgIAAxk")
    return prefix + secrets.token_urlsafe(24), "AgAD" + secrets.token_urlsafe(8)
