"""The control API's operations, each declared once: its route (HTTP method and path), its
parameters (the dataclass fields, in the order and with the defaults callers use) and its
result. The server (:mod:`sandbox.control`) decodes a request into the same dataclass the
client (:mod:`sandbox.client`) builds and sends, and the client's methods take their
signatures from these classes, so neither side writes the other's by hand.

Path fields (``{chat_id}``) go in the path; the others in the query string (GET) or the JSON
body (POST), bytes as base64.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar, Generic, TypeVar, cast

from .errors import SandboxError

R = TypeVar("R")


class Operation(Generic[R]):
    """One control operation; ``R`` is what the client hands its caller."""

    METHOD: ClassVar[str] = "POST"
    PATH: ClassVar[str]
    RAW: ClassVar[bool] = False  # the answer is the body's bytes, not a JSON envelope

    def result(self, raw: Any) -> R:
        """The caller's value from the server's JSON result."""
        return cast(R, raw)

    def http_timeout(self) -> float | None:
        """How long the client waits for the answer (None: the client's default)."""
        return None

    def error(self, exc: SandboxError) -> Exception:
        """The exception the caller sees when the server refuses."""
        return exc


# ---------------------------------------------------------------------- setup


@dataclass(frozen=True)
class Health(Operation[dict]):
    """The emulator's URLs and default bot token."""

    METHOD = "GET"
    PATH = "/sandbox/health"


@dataclass(frozen=True)
class ListBots(Operation[list[dict]]):
    METHOD = "GET"
    PATH = "/sandbox/bots"


@dataclass(frozen=True)
class RegisterBot(Operation[dict]):
    """Create (or rename) the bot behind ``token``; the first bot becomes the default."""

    PATH = "/sandbox/bots"
    token: str
    _: KW_ONLY
    username: str | None = None
    first_name: str | None = None


@dataclass(frozen=True)
class ListUsers(Operation[list[dict]]):
    METHOD = "GET"
    PATH = "/sandbox/users"


@dataclass(frozen=True)
class CreateUser(Operation[dict]):
    """Create or update a user; returns the Telegram ``User`` dict."""

    PATH = "/sandbox/users"
    user_id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None


@dataclass(frozen=True)
class GetUser(Operation[dict]):
    METHOD = "GET"
    PATH = "/sandbox/users/{user_id}"
    user_id: int


@dataclass(frozen=True)
class BlockBot(Operation[dict]):
    """The user blocks the bot: its sends then fail with 403."""

    PATH = "/sandbox/users/{user_id}/block"
    user_id: int
    _: KW_ONLY
    token: str | None = None


@dataclass(frozen=True)
class UnblockBot(Operation[dict]):
    PATH = "/sandbox/users/{user_id}/unblock"
    user_id: int
    _: KW_ONLY
    token: str | None = None


@dataclass(frozen=True)
class CreateGroup(Operation[dict]):
    """Create a group (creator = ``creator`` or first member); the bot joins as admin."""

    PATH = "/sandbox/groups"
    title: str
    members: Sequence[int] = ()
    _: KW_ONLY
    with_bot: bool = True
    token: str | None = None
    group_id: int | None = None
    chat_type: str = "supergroup"
    creator: int | None = None
    username: str | None = None


@dataclass(frozen=True)
class GetChat(Operation[dict]):
    """Chat info: Chat fields + members {user_id: status}, bots, pinned ids, version."""

    METHOD = "GET"
    PATH = "/sandbox/chats/{chat_id}"
    chat_id: int
    _: KW_ONLY
    token: str | None = None


@dataclass(frozen=True)
class AddMember(Operation[dict]):
    PATH = "/sandbox/chats/{chat_id}/members"
    chat_id: int
    user_id: int
    _: KW_ONLY
    by: int | None = None


@dataclass(frozen=True)
class RemoveMember(Operation[dict]):
    PATH = "/sandbox/chats/{chat_id}/members/remove"
    chat_id: int
    user_id: int
    _: KW_ONLY
    by: int | None = None


@dataclass(frozen=True)
class AddBot(Operation[dict]):
    PATH = "/sandbox/chats/{chat_id}/bot"
    chat_id: int
    _: KW_ONLY
    token: str | None = None
    by: int | None = None
    admin: bool = True


@dataclass(frozen=True)
class RemoveBot(Operation[dict]):
    PATH = "/sandbox/chats/{chat_id}/bot/remove"
    chat_id: int
    _: KW_ONLY
    token: str | None = None
    by: int | None = None


@dataclass(frozen=True)
class UpgradeGroup(Operation[dict]):
    """The basic group becomes a supergroup with a new id (returned as the new chat)."""

    PATH = "/sandbox/chats/{chat_id}/upgrade"
    chat_id: int
    _: KW_ONLY
    new_id: int | None = None
    by: int | None = None


# ---------------------------------------------------------------------- the user acts
# ``chat_id`` None: the user's private chat with the bot; ``reply_to``: a message id.


@dataclass(frozen=True)
class SendText(Operation[dict]):
    """Send text (``chat_id`` None = private chat with the bot); returns the message."""

    PATH = "/sandbox/send/text"
    user_id: int
    text: str
    chat_id: int | None = None
    _: KW_ONLY
    reply_to: int | None = None
    token: str | None = None


@dataclass(frozen=True)
class SendContact(Operation[dict]):
    """Share a contact (default: the user's own, with ``user_id``, like request_contact)."""

    PATH = "/sandbox/send/contact"
    user_id: int
    phone: str
    chat_id: int | None = None
    _: KW_ONLY
    first_name: str | None = None
    last_name: str | None = None
    contact_user_id: int | None = None
    reply_to: int | None = None
    token: str | None = None


@dataclass(frozen=True)
class SendPhoto(Operation[dict]):
    PATH = "/sandbox/send/photo"
    user_id: int
    data: bytes
    caption: str | None = None
    chat_id: int | None = None
    _: KW_ONLY
    reply_to: int | None = None
    token: str | None = None


@dataclass(frozen=True)
class SendDocument(Operation[dict]):
    PATH = "/sandbox/send/document"
    user_id: int
    data: bytes
    file_name: str = "document.bin"
    mime_type: str = "application/octet-stream"
    caption: str | None = None
    chat_id: int | None = None
    _: KW_ONLY
    reply_to: int | None = None
    token: str | None = None


@dataclass(frozen=True)
class SendVoice(Operation[dict]):
    PATH = "/sandbox/send/voice"
    user_id: int
    data: bytes = b"OggS\x00voice"
    duration: int = 1
    chat_id: int | None = None
    _: KW_ONLY
    reply_to: int | None = None
    token: str | None = None


@dataclass(frozen=True)
class SendSticker(Operation[dict]):
    PATH = "/sandbox/send/sticker"
    user_id: int
    emoji: str = "👍"
    chat_id: int | None = None
    _: KW_ONLY
    set_name: str | None = None
    reply_to: int | None = None
    token: str | None = None


@dataclass(frozen=True)
class SendLocation(Operation[dict]):
    PATH = "/sandbox/send/location"
    user_id: int
    latitude: float
    longitude: float
    chat_id: int | None = None
    _: KW_ONLY
    reply_to: int | None = None
    token: str | None = None


@dataclass(frozen=True)
class Press(Operation[str]):
    """Press the inline button with ``callback_data == data``; returns the query id.

    Raises SandboxError(400) if the message has no such button, unless ``force``.
    """

    PATH = "/sandbox/press"
    user_id: int
    chat_id: int
    message_id: int
    data: str
    force: bool = False
    _: KW_ONLY
    token: str | None = None

    def result(self, raw: Any) -> str:
        return str(raw["callback_query_id"])


@dataclass(frozen=True)
class CallbackAnswer(Operation[dict]):
    """Wait until the bot answers the callback query; {text, show_alert, url, ...}."""

    METHOD = "GET"
    PATH = "/sandbox/callback_answers/{query_id}"
    query_id: str
    timeout: float = 5.0

    def http_timeout(self) -> float | None:
        return self.timeout + 10

    def error(self, exc: SandboxError) -> Exception:
        if exc.status == 404 and "not answered" in exc.message:
            return TimeoutError(f"callback query {self.query_id} not answered in {self.timeout}s")
        return exc


@dataclass(frozen=True)
class CallbackAnswers(Operation[dict[str, dict]]):
    METHOD = "GET"
    PATH = "/sandbox/callback_answers"


@dataclass(frozen=True)
class Redeliver(Operation[int]):
    """Queue an update again with the same update_id (at-least-once delivery)."""

    PATH = "/sandbox/redeliver"
    update_id: int
    _: KW_ONLY
    token: str | None = None

    def result(self, raw: Any) -> int:
        return int(raw["update_id"])


# ---------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Messages(Operation[list[dict]]):
    """All messages of a chat in order (deleted ones included, flagged ``deleted``)."""

    METHOD = "GET"
    PATH = "/sandbox/messages"
    chat_id: int
    _: KW_ONLY
    after: int | None = None
    since: int | None = None
    token: str | None = None


@dataclass(frozen=True)
class WatchChat(Operation[dict]):
    """{version, messages} of a chat once it changed past ``version`` (a long poll)."""

    METHOD = "GET"
    PATH = "/sandbox/chats/{chat_id}/watch"
    chat_id: int
    _: KW_ONLY
    after: int | None = None
    token: str | None = None
    version: int | None = None  # None: answer at once
    timeout: float = 10.0

    def http_timeout(self) -> float | None:
        return self.timeout + 10


@dataclass(frozen=True)
class UpdatesLog(Operation[list[dict]]):
    """Every update ever created for the bot (Bot API JSON), in update_id order."""

    METHOD = "GET"
    PATH = "/sandbox/updates"
    _: KW_ONLY
    token: str | None = None


@dataclass(frozen=True)
class Download(Operation[bytes]):
    METHOD = "GET"
    PATH = "/sandbox/files/{file_id}"
    RAW = True
    file_id: str


# ---------------------------------------------------------------------- limits and faults


@dataclass(frozen=True)
class Stats(Operation[dict]):
    """Bot counters; ``per_chat*`` dicts are keyed by int chat id."""

    METHOD = "GET"
    PATH = "/sandbox/stats"
    token: str | None = None

    def result(self, raw: Any) -> dict:
        return {
            k: {int(c): n for c, n in v.items()} if k.startswith("per_chat") else v
            for k, v in raw.items()
        }


@dataclass(frozen=True)
class ResetStats(Operation[None]):
    """Zero the counters (and with ``limits`` forget the flood-control windows too)."""

    PATH = "/sandbox/stats/reset"
    token: str | None = None
    _: KW_ONLY
    limits: bool = False

    def result(self, raw: Any) -> None:
        return None


@dataclass(frozen=True)
class GetLimits(Operation[dict]):
    METHOD = "GET"
    PATH = "/sandbox/limits"


@dataclass(frozen=True)
class SetLimits(Operation[dict]):
    """Change flood limits by name; None or 0 disables a limit. Returns all limits."""

    PATH = "/sandbox/limits"
    limits: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class FailNext(Operation[None]):
    """Fail the next ``n`` message-producing calls with ``status`` (429/500/502...)."""

    PATH = "/sandbox/fail_next"
    n: int = 1
    status: int = 429
    retry_after: int = 1
    _: KW_ONLY
    token: str | None = None

    def result(self, raw: Any) -> None:
        return None


@dataclass(frozen=True)
class FailEvery(Operation[dict]):
    """Answer every ``n``-th Bot API call (or of ``methods`` only) with ``status`` (502
    by default) until called again with ``n`` 0 or None."""

    PATH = "/sandbox/fail_every"
    n: int | None
    status: int = 502
    _: KW_ONLY
    token: str | None = None
    methods: list[str] | None = None


@dataclass(frozen=True)
class Outage(Operation[None]):
    """Telegram goes down: every call answers ``status``; ``None`` drops the connection."""

    PATH = "/sandbox/outage"
    status: int | None = 502

    def result(self, raw: Any) -> None:
        return None


@dataclass(frozen=True)
class EndOutage(Operation[None]):
    PATH = "/sandbox/outage/end"

    def result(self, raw: Any) -> None:
        return None


@dataclass(frozen=True)
class Stall(Operation[int]):
    """Hold message-producing calls to ``chat_id`` until released (with ``after_delivery``:
    the message is delivered, only the answer is held). Returns the calls held so far."""

    PATH = "/sandbox/chats/{chat_id}/stall"
    chat_id: int
    _: KW_ONLY
    after_delivery: bool = False

    def result(self, raw: Any) -> int:
        return int(raw["stalled_calls"])


@dataclass(frozen=True)
class Release(Operation[int]):
    PATH = "/sandbox/chats/{chat_id}/release"
    chat_id: int

    def result(self, raw: Any) -> int:
        return int(raw["stalled_calls"])


@dataclass(frozen=True)
class Reset(Operation[None]):
    """Forget all bots, users, chats, files and updates (limits stay)."""

    PATH = "/sandbox/reset"

    def result(self, raw: Any) -> None:
        return None
