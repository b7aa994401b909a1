"""Bot API methods that set and read how the bot presents itself: its command menus (per
scope and language), description, short description, name, the chat menu button and its
default administrator rights. Stored per bot; nothing else reads them.
"""

from __future__ import annotations

import json
import re

from ..errors import ApiError
from ..state import BotState
from ..telegram import Telegram
from .params import ApiMethod, Params

_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")


def _commands_key(p: Params) -> str:
    scope = p.json("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True) + "|" + (p.text("language_code") or "")


def set_my_commands(tg: Telegram, bot: BotState, p: Params) -> bool:
    commands = p.json("commands", "Bad Request: can't parse commands JSON object")
    if not isinstance(commands, list) or len(commands) > 100:
        raise ApiError(400, "Bad Request: can't parse commands JSON object")
    cleaned = []
    for cmd in commands:
        if not isinstance(cmd, dict) or not _COMMAND_RE.match(str(cmd.get("command", ""))):
            raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        description = str(cmd.get("description", ""))
        if not 1 <= len(description) <= 256:
            raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        cleaned.append({"command": cmd["command"], "description": description})
    bot.commands[_commands_key(p)] = cleaned
    return True


def get_my_commands(tg: Telegram, bot: BotState, p: Params) -> list[dict]:
    return list(bot.commands.get(_commands_key(p), []))


def delete_my_commands(tg: Telegram, bot: BotState, p: Params) -> bool:
    bot.commands.pop(_commands_key(p), None)
    return True


def _set_text(bot: BotState, p: Params, name: str) -> bool:
    bot.texts[name + "|" + (p.text("language_code") or "")] = p.text(name) or ""
    return True


def _get_text(bot: BotState, p: Params, name: str) -> dict:
    return {name: bot.texts.get(name + "|" + (p.text("language_code") or ""), "")}


def set_my_description(tg: Telegram, bot: BotState, p: Params) -> bool:
    return _set_text(bot, p, "description")


def get_my_description(tg: Telegram, bot: BotState, p: Params) -> dict:
    return _get_text(bot, p, "description")


def set_my_short_description(tg: Telegram, bot: BotState, p: Params) -> bool:
    return _set_text(bot, p, "short_description")


def get_my_short_description(tg: Telegram, bot: BotState, p: Params) -> dict:
    return _get_text(bot, p, "short_description")


def set_my_name(tg: Telegram, bot: BotState, p: Params) -> bool:
    return _set_text(bot, p, "name")


def get_my_name(tg: Telegram, bot: BotState, p: Params) -> dict:
    result = _get_text(bot, p, "name")
    return {"name": result["name"] or bot.first_name}


def set_chat_menu_button(tg: Telegram, bot: BotState, p: Params) -> bool:
    bot.texts["menu_button|" + str(p.raw("chat_id") or "")] = json.dumps(
        p.json("menu_button") or {"type": "default"}
    )
    return True


def get_chat_menu_button(tg: Telegram, bot: BotState, p: Params) -> dict:
    key = "menu_button|" + str(p.raw("chat_id") or "")
    button: dict = json.loads(bot.texts.get(key, '{"type": "default"}'))
    return button


def set_my_default_administrator_rights(tg: Telegram, bot: BotState, p: Params) -> bool:
    return True


METHODS: dict[str, ApiMethod] = {
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "setMyDescription": set_my_description,
    "getMyDescription": get_my_description,
    "setMyShortDescription": set_my_short_description,
    "getMyShortDescription": get_my_short_description,
    "setMyName": set_my_name,
    "getMyName": get_my_name,
    "setChatMenuButton": set_chat_menu_button,
    "getChatMenuButton": get_chat_menu_button,
    "setMyDefaultAdministratorRights": set_my_default_administrator_rights,
}
