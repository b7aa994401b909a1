"""Everything that makes the emulated Telegram refuse or hang, so tests can see the bot cope:
Telegram's flood limits (429 with ``retry_after``, counted per bot by :mod:`sandbox.ratelimit`),
failures injected for the next calls (``fail_next``) or every n-th call (``fail_every``), an
outage of the whole server, and chats whose message-producing calls stall until released.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, SandboxError
from .state import BotState, ChatState
from .world import World

# Bot API calls that produce or change a message: they count against flood limits and
# fail_next, and a stalled chat holds them.
MESSAGE_PRODUCING = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVoice",
        "sendAudio",
        "sendVideo",
        "sendAnimation",
        "sendSticker",
        "sendLocation",
        "sendContact",
        "forwardMessage",
        "copyMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
    }
)
_FAIL_DESCRIPTIONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def failure(status: int) -> ApiError:
    """The error a struggling Telegram front end answers with ``status``."""
    return ApiError(status, _FAIL_DESCRIPTIONS.get(status, f"Error {status}"))


@dataclass
class Outage:
    """Telegram is down: every call answers ``status``, or (None) the connection drops."""

    status: int | None


@dataclass
class _Periodic:
    n: int
    status: int
    token: str | None
    methods: set[str] | None
    count: int = 0


class Faults:
    """The emulator's limits and injected faults (one instance, shared by every bot)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.limits = world.limits
        self._failures: list[dict] = []
        self._periodic: _Periodic | None = None  # fail_every: answer every n-th call
        self.outage_now: Outage | None = None
        self._stalls: dict[int, asyncio.Event] = {}
        self._stalled_answers: set[int] = set()  # stalls that deliver first, then hang
        self.stalled_calls = 0  # calls ever held by a stall (tests wait for the first)

    def reset(self) -> None:
        """Forget every injected fault (the limits themselves stay)."""
        self._failures.clear()
        self._periodic = None
        self.outage_now = None
        for event in self._stalls.values():
            event.set()
        self._stalls.clear()
        self._stalled_answers.clear()

    # ------------------------------------------------------------------ flood limits

    def set_limits(self, **changes: float | None) -> dict:
        """Change flood limits at runtime (names as in the constructor); returns all limits."""
        try:
            self.limits.update(**changes)
        except ValueError as exc:
            raise SandboxError(400, str(exc)) from None
        return self.limits.as_dict()

    def reset_limits_state(self, token: str | None = None) -> None:
        """Forget past sends in the flood windows (e.g. between test phases)."""
        bots = [self.world.bot(token)] if token else list(self.world.bots.values())
        for bot in bots:
            bot.limiter.reset()

    def gate(self, bot: BotState, chat: ChatState) -> None:
        """Injected failures, then flood limits; raising here leaves no trace of the call."""
        stats = bot.stats
        refused = self.take_failure(bot)
        if refused is None:
            wait = bot.limiter.check(chat.id, chat.is_private)
            if wait is None:
                bot.limiter.consume(chat.id, chat.is_private)
                return
            refused = ApiError(429, f"Too Many Requests: retry after {wait}", wait)
        else:
            stats["injected_failures"] += 1
        if refused.code == 429:
            stats["rate_limited"] += 1
            stats["per_chat_rate_limited"][chat.id] += 1
        raise refused

    # ------------------------------------------------------------------ injected failures

    def fail_next(
        self, n: int = 1, *, status: int = 429, retry_after: int = 1, token: str | None = None
    ) -> None:
        """Make the next ``n`` message-producing calls (of ``token``'s bot, or any) fail."""
        for _ in range(int(n)):
            self._failures.append(
                {"status": int(status), "retry_after": int(retry_after), "token": token}
            )

    def take_failure(self, bot: BotState) -> ApiError | None:
        for i, planned in enumerate(self._failures):
            if planned["token"] in (None, bot.token):
                del self._failures[i]
                status = planned["status"]
                if status == 429:
                    ra = max(1, planned["retry_after"])
                    return ApiError(429, f"Too Many Requests: retry after {ra}", ra)
                return failure(status)
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
        self._periodic = _Periodic(int(n), int(status), token, names)
        return {"n": int(n), "status": int(status), "token": token, "methods": methods}

    def raise_periodic_failure(self, bot: BotState, method: str) -> None:
        """Counts the call; the n-th fails before it is read, leaving no trace (like a proxy
        answering for a server it could not reach)."""
        mode = self._periodic
        if mode is None or mode.token not in (None, bot.token):
            return
        if mode.methods is not None and method.lower() not in mode.methods:
            return
        mode.count += 1
        if mode.count % mode.n:
            return
        bot.stats["injected_failures"] += 1
        raise failure(mode.status)

    # ------------------------------------------------------------------ outage and stalls

    def outage(self, status: int | None = 502) -> None:
        """Telegram is down until :meth:`end_outage`: every Bot API call (getUpdates too) is
        answered ``status`` (502 Bad Gateway, 500, 503, 504), or with ``status=None`` the
        connection is dropped without an answer (the client sees a network error)."""
        self.outage_now = Outage(status)

    def end_outage(self) -> None:
        self.outage_now = None

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

    async def wait_if_stalled(
        self, method: str | None, raw_chat_id: Any, delivered: bool = False
    ) -> None:
        """Hold a message-producing call (``method`` canonical) to a stalled chat."""
        if not self._stalls or method not in MESSAGE_PRODUCING:
            return
        try:
            chat_id = int(raw_chat_id)
        except (TypeError, ValueError):
            return
        event = self._stalls.get(chat_id)
        if event is not None and delivered == (chat_id in self._stalled_answers):
            self.stalled_calls += 1
            await event.wait()
