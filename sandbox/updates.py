"""Updates on their way to a bot: the queue each bot polls with getUpdates (allowed_updates,
offsets that confirm, redelivery of an update already handed out) and, when the bot set a
webhook, the task that POSTs them to it and retries until it answers 2xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable

import aiohttp

from .errors import SandboxError
from .state import DEFAULT_UPDATE_EXCLUDES, BotState


class Updates:
    """Queues updates for bots and delivers them to webhooks (the HTTP session is the server's)."""

    def __init__(self, now: Callable[[], int]) -> None:
        self._now = now
        # Seconds between webhook delivery retries after a non-2xx answer.
        self.retry_delay = 1.0
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
        while bot.webhook and not self.closing and self.session is not None:
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
                async with self.session.post(
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
                bot.webhook_error = (self._now(), error)
                await asyncio.sleep(self.retry_delay)
