"""What a bot's message is made of, checked as Telegram checks it: text or caption with its
parse_mode turned into entities (length limits in UTF-16 units), the reply markup (inline
keyboard, reply keyboard, remove/force reply) and the message it replies to.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ApiError
from ..formatting import EntityParseError, parse_text, utf16_len
from ..state import ChatState, api_message
from .params import Params

_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "web_app",
    "copy_text",
)


def markup(p: Params, *, inline_only: bool = False) -> dict | None:
    """The ``reply_markup`` parameter, validated (reply keyboards stored in object form)."""
    given = p.json("reply_markup", "Bad Request: can't parse reply keyboard markup JSON object")
    if given is None:
        return None
    if not isinstance(given, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in given:
        rows = given["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError(
                400,
                "Bad Request: can't parse inline keyboard button: "
                "InlineKeyboardButton must be an Object",
            )
        for button in (b for row in rows for b in row):
            _check_inline_button(button)
        return given
    if inline_only:
        raise ApiError(400, "Bad Request: inline keyboard expected")
    if "keyboard" in given:
        rows = given["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        # Strings are allowed for simple text buttons; store the object form.
        given = {
            **given,
            "keyboard": [[{"text": b} if isinstance(b, str) else b for b in row] for row in rows],
        }
        if any(not b.get("text") for row in given["keyboard"] for b in row):
            raise ApiError(400, "Bad Request: keyboard button text must be non-empty")
        return given
    if given.get("remove_keyboard") or given.get("force_reply"):
        return given
    raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not button.get("text"):
        raise ApiError(
            400, "Bad Request: can't parse inline keyboard button: Text must be non-empty"
        )
    actions = [a for a in _BUTTON_ACTIONS if a in button]
    if not actions:
        raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not re.match(r"^(https?|tg)://\S+$", url):
            raise ApiError(
                400,
                f"Bad Request: inline keyboard button URL '{url}' is invalid: Wrong HTTP URL",
            )


def reply_to(chat: ChatState, p: Params) -> dict | None:
    """The message replied to (``reply_parameters`` or the older ``reply_to_message_id``)."""
    params = p.json("reply_parameters") or {}
    mid = params.get("message_id") if isinstance(params, dict) else None
    if mid is None:
        mid = p.integer("reply_to_message_id")
    if mid is None:
        return None
    allow = bool(params.get("allow_sending_without_reply")) or p.flag("allow_sending_without_reply")
    target = chat.by_id.get(int(mid))
    if target is None or target["deleted"]:
        if allow:
            return None
        raise ApiError(400, "Bad Request: message to be replied not found")
    return api_message(target, nested=False)


def formatted(
    p: Params, field: str, entities_field: str, *, limit: int, empty_error: str | None
) -> tuple[str | None, list[dict] | None, dict]:
    """(plain text, entities, meta) for a text/caption parameter with parse_mode."""
    raw = p.text(field)
    if raw is None or raw == "":
        if empty_error:
            raise ApiError(400, empty_error)
        return None, None, {}
    parse_mode = p.text("parse_mode")
    explicit = p.json(entities_field)
    try:
        if explicit:
            plain, entities = raw, explicit
        else:
            plain, entities = parse_text(raw, parse_mode)
    except EntityParseError as exc:
        raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
    if not plain.strip():
        if empty_error:
            raise ApiError(400, empty_error)
        return None, None, {}
    if utf16_len(plain) > limit:
        raise ApiError(
            400,
            "Bad Request: message is too long"
            if field == "text"
            else "Bad Request: message caption is too long",
        )
    meta = {"parse_mode": parse_mode, f"raw_{field}": raw}
    return plain, entities, meta
