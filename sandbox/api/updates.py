"""Bot API methods about the bot itself and how it receives updates: getMe, logOut, close,
getUpdates (a long poll; a newer poll ends the older one with 409, as Telegram does),
setWebhook, deleteWebhook, getWebhookInfo.
"""

from __future__ import annotations

import re
import time

from ..errors import ApiError
from ..state import BotState
from ..telegram import Telegram
from .params import ApiMethod, Params

_WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is "
    "active; use deleteWebhook to delete the webhook first"
)


def get_me(tg: Telegram, bot: BotState, p: Params) -> dict:
    return bot.me()


def log_out(tg: Telegram, bot: BotState, p: Params) -> bool:
    return True


def close(tg: Telegram, bot: BotState, p: Params) -> bool:
    return True


async def get_updates(tg: Telegram, bot: BotState, p: Params) -> list[dict]:
    if bot.webhook:
        raise ApiError(409, _WEBHOOK_ACTIVE)
    queue = tg.world.updates
    offset = p.integer("offset")
    limit = min(max(p.integer("limit") or 100, 1), 100)
    timeout = max(p.integer("timeout") or 0, 0)
    allowed = p.json("allowed_updates")
    if isinstance(allowed, list):
        bot.allowed_updates = [str(a) for a in allowed]
    if offset is not None:
        queue.confirm(bot, offset)
    # A newer getUpdates terminates the waiting one, like Telegram (409 for the old one).
    bot.poll_generation += 1
    generation = bot.poll_generation
    bot.signal.notify()
    deadline = time.monotonic() + timeout
    while True:
        if generation != bot.poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make "
                "sure that only one bot instance is running",
            )
        if bot.webhook:
            raise ApiError(409, _WEBHOOK_ACTIVE)
        batch = queue.take(bot, limit)
        remaining = deadline - time.monotonic()
        if batch or remaining <= 0 or tg.closing:
            return batch
        await bot.signal.wait(remaining)


def set_webhook(tg: Telegram, bot: BotState, p: Params) -> bool:
    url = p.text("url") or ""
    if not url:
        return delete_webhook(tg, bot, p)
    if not re.match(r"^https?://", url):
        raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
    secret = p.text("secret_token")
    # Telegram's rule: 1-256 characters A-Z, a-z, 0-9, _ and -; sent back in the header
    # X-Telegram-Bot-Api-Secret-Token of every delivery (sandbox.updates).
    if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        raise ApiError(400, "Bad Request: secret token contains unallowed characters")
    if p.flag("drop_pending_updates"):
        bot.pending.clear()
        bot.redeliveries.clear()
    allowed = p.json("allowed_updates")
    if isinstance(allowed, list):
        bot.allowed_updates = [str(a) for a in allowed]
    bot.webhook = {
        "url": url,
        "secret_token": secret or None,
        "max_connections": p.integer("max_connections") or 40,
        "ip_address": p.text("ip_address"),
    }
    bot.webhook_error = None
    bot.signal.notify()  # a waiting getUpdates must now fail with 409
    tg.world.updates.kick_webhook(bot)
    return True


def delete_webhook(tg: Telegram, bot: BotState, p: Params) -> bool:
    tg.world.updates.stop_webhook(bot)
    if p.flag("drop_pending_updates"):
        bot.pending.clear()
        bot.redeliveries.clear()
    return True


def get_webhook_info(tg: Telegram, bot: BotState, p: Params) -> dict:
    hook = bot.webhook or {}
    info: dict = {
        "url": hook.get("url", ""),
        "has_custom_certificate": False,
        "pending_update_count": len(bot.pending) + len(bot.redeliveries),
    }
    if hook:
        info["max_connections"] = hook["max_connections"]
        if hook.get("ip_address"):
            info["ip_address"] = hook["ip_address"]
        if bot.allowed_updates:
            info["allowed_updates"] = bot.allowed_updates
        if bot.webhook_error:
            info["last_error_date"], info["last_error_message"] = bot.webhook_error
    return info


METHODS: dict[str, ApiMethod] = {
    "getMe": get_me,
    "logOut": log_out,
    "close": close,
    "getUpdates": get_updates,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
}
