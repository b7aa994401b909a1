"""Updates on their way to a bot: the queue each bot polls with getUpdates (allowed_updates,
offsets that confirm, redelivery of an update already handed out) and, when the bot set a
webhook, the task that POSTs them to it, queue by queue over parallel connections as the Bot API
server does, retrying each until it answers 2xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable
from typing import Any

import aiohttp

from .errors import SandboxError
from .state import DEFAULT_UPDATE_EXCLUDES, BotState


class Updates:
    """Queues updates for bots and delivers them to webhooks (the HTTP session is the server's)."""

    def __init__(self, now: Callable[[], int]) -> None:
        self._now = now
        # Seconds between webhook delivery retries after a non-2xx answer.
        self.retry_delay = 1.0
        # Seconds an update's POST takes to set off (None: at once): a slow connection.
        self.latency: Callable[[dict], float] | None = None
        self.session: aiohttp.ClientSession | None = None
        self.closing = False

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
        self.kick_webhook(bot)
        return update_id

    def redeliver(self, bot: BotState, update_id: int) -> int:
        """Queue an already-delivered update again, same update_id (at-least-once delivery)."""
        update = bot.log.get(int(update_id))
        if update is None:
            raise SandboxError(404, f"no update {update_id} for this bot")
        bot.redeliveries.append([copy.deepcopy(update), False])
        bot.signal.notify()
        self.kick_webhook(bot)
        return int(update_id)

    @staticmethod
    def confirm(bot: BotState, offset: int) -> None:
        """getUpdates' ``offset``: every update below it was received and is forgotten."""
        if offset < 0:
            bot.pending = bot.pending[offset:]
        else:
            bot.pending = [u for u in bot.pending if u["update_id"] >= offset]
        bot.redeliveries = [
            e for e in bot.redeliveries if not (e[1] and e[0]["update_id"] < offset)
        ]

    @staticmethod
    def take(bot: BotState, limit: int) -> list[dict]:
        """The next batch for getUpdates (still pending until confirmed by a later offset)."""
        # Redelivered (older) updates first so the poller's next offset confirms everything.
        batch = []
        for entry in bot.redeliveries[:limit]:
            entry[1] = True
            batch.append(entry[0])
        batch.extend(sorted(bot.pending, key=lambda u: u["update_id"])[: limit - len(batch)])
        return [dict(u) for u in batch]

    # ------------------------------------------------------------------ webhooks
    #
    # As the Bot API server delivers (tdlib/telegram-bot-api, WebhookActor.cpp and Client.cpp's
    # add_update calls): every update belongs to a queue (a message to its chat's, a callback
    # query to a queue of its sender's, ...); a queue has at most one update in flight and sends
    # its next only once the last one was answered 2xx (a failed one is tried again after the
    # retry delay, the queue waiting behind it); the queues go out side by side over up to
    # ``max_connections`` (setWebhook, default 40) connections, the ready ones by queue id (a
    # failed one's once its retry time has come). So one chat's updates arrive in order, but a
    # person's button press and their next message sit in two queues and may arrive either way
    # round (Telegram: update_id lets the bot "restore the correct update sequence, should they
    # get out of order").

    def kick_webhook(self, bot: BotState) -> None:
        if (
            bot.webhook
            and self.session is not None
            and not self.closing
            and (bot.webhook_task is None or bot.webhook_task.done())
        ):
            bot.webhook_task = asyncio.get_running_loop().create_task(self._webhook_loop(bot))

    def stop_webhook(self, bot: BotState) -> None:
        bot.webhook = None
        if bot.webhook_task is not None:
            bot.webhook_task.cancel()
            bot.webhook_task = None
        bot.signal.notify()

    async def close(self, bots: list[BotState]) -> None:
        """Stop every delivery and wake every waiting poll (the server is going down)."""
        self.closing = True
        for bot in bots:
            bot.signal.notify()
            if bot.webhook_task is not None:
                bot.webhook_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await bot.webhook_task
                bot.webhook_task = None

    async def _webhook_loop(self, bot: BotState) -> None:
        in_flight: dict[object, asyncio.Task[None]] = {}  # queue -> its POST under way
        not_before: dict[object, float] = {}  # queue -> when it may send again (after a failure)
        loop = asyncio.get_running_loop()
        try:
            while bot.webhook and not self.closing and self.session is not None:
                limit = max(1, int(bot.webhook.get("max_connections") or 40))
                now = loop.time()
                for queue, entry, update in self._ready(bot, in_flight, not_before, now):
                    if len(in_flight) >= limit:
                        break
                    in_flight[queue] = loop.create_task(
                        self._post(bot, queue, entry, update, in_flight, not_before)
                    )
                waits = [t - now for q, t in not_before.items() if q not in in_flight and t > now]
                await bot.signal.wait(min([30.0, *waits]))
        finally:
            for task in in_flight.values():
                task.cancel()

    @staticmethod
    def _ready(
        bot: BotState,
        in_flight: dict[object, asyncio.Task[None]],
        not_before: dict[object, float],
        now: float,
    ) -> list[tuple[object, list[Any] | None, dict]]:
        """The front update of each queue that may send now, in the order they go: redelivered
        ones first (each a queue of its own), then by (ready since, queue id)."""
        ready: list[tuple[object, list[Any] | None, dict]] = []
        for entry in bot.redeliveries:
            queue = ("again", entry[0]["update_id"])
            if queue not in in_flight and not_before.get(queue, 0.0) <= now:
                ready.append((queue, entry, entry[0]))
        fronts: dict[object, dict] = {}
        for update in bot.pending:  # in update_id order
            fronts.setdefault(queue_of(update), update)
        ready.extend(
            (queue, None, update)
            for queue, update in sorted(
                fronts.items(), key=lambda qu: (not_before.get(qu[0], 0.0), _order(qu[0]))
            )
            if queue not in in_flight and not_before.get(queue, 0.0) <= now
        )
        return ready

    async def _post(
        self,
        bot: BotState,
        queue: object,
        entry: list[Any] | None,
        update: dict,
        in_flight: dict[object, asyncio.Task[None]],
        not_before: dict[object, float],
    ) -> None:
        hook = bot.webhook or {}
        headers = {}
        if hook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
        error = None
        try:
            latency = self.latency(update) if self.latency is not None else 0.0
            if latency > 0:  # this connection is slower than the others
                await asyncio.sleep(latency)
            assert self.session is not None
            async with self.session.post(
                hook["url"],
                json=update,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as resp:
                if not 200 <= resp.status < 300:
                    error = f"Wrong response from the webhook: {resp.status} {resp.reason}"
        except (aiohttp.ClientError, TimeoutError, KeyError) as exc:
            error = f"Connection failed: {exc!r}"
        finally:
            in_flight.pop(queue, None)
        if error is None:
            not_before.pop(queue, None)
            if entry is not None:
                if entry in bot.redeliveries:
                    bot.redeliveries.remove(entry)
            elif update in bot.pending:
                bot.pending.remove(update)
        else:
            bot.webhook_error = (self._now(), error)
            not_before[queue] = asyncio.get_running_loop().time() + self.retry_delay
        bot.signal.notify()


# Queue ids as the Bot API server gives them (Client.cpp): a chat's messages share the chat's
# queue; a person's callback queries, inline queries, chosen inline results and payments each
# have a queue of the person's apart from it (offset by k << 33); a poll's updates the poll's.
_PER_SENDER = {
    "inline_query": 1,
    "chosen_inline_result": 2,
    "callback_query": 3,
    "shipping_query": 4,
    "pre_checkout_query": 4,
}
_PER_CHAT = ("message", "edited_message", "channel_post", "edited_channel_post")


def queue_of(update: dict) -> object:
    """The delivery queue ``update`` waits in (see the webhook section above)."""
    for kind, k in _PER_SENDER.items():
        if kind in update:
            return int(update[kind]["from"]["id"]) + (k << 33)
    for kind in _PER_CHAT:
        if kind in update:
            return int(update[kind]["chat"]["id"])
    if "poll" in update:
        return ("poll", update["poll"]["id"])
    if "poll_answer" in update:
        return ("poll", update["poll_answer"]["poll_id"])
    return ("own", update["update_id"])  # any other kind: a queue of its own


def _order(queue: object) -> tuple[int, int, str]:
    """Ready queues go by queue id (the server's are all numbers; ours not numbers last)."""
    return (0, queue, "") if isinstance(queue, int) else (1, 0, repr(queue))
