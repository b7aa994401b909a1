"""Bot API methods that change or remove a message already in a chat, and the answer to a
button press: editMessageText, editMessageCaption, editMessageReplyMarkup (each edit kept in
the message's history; "message is not modified" as Telegram says it), deleteMessage(s),
answerCallbackQuery.
"""

from __future__ import annotations

from ..errors import ApiError
from ..state import MEDIA_KEYS, BotState, ChatState, api_message, is_inline
from ..telegram import Telegram
from . import content
from .params import ApiMethod, Params

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and "
    "reply markup are exactly the same as a current content and reply markup "
    "of the message"
)
_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"


def _own_message(bot: BotState, chat: ChatState, p: Params) -> dict:
    if p.has("inline_message_id") and not p.has("chat_id"):
        raise ApiError(400, "Bad Request: inline messages are not supported by the sandbox")
    msg = chat.by_id.get(p.integer("message_id", required=True) or 0)
    if msg is None or msg["deleted"]:
        raise ApiError(400, "Bad Request: message to edit not found")
    if msg["from"]["id"] != bot.id:
        raise ApiError(400, "Bad Request: message can't be edited")
    return msg


def _apply_edit(
    tg: Telegram, bot: BotState, chat: ChatState, msg: dict, changes: dict, markup: dict | None
) -> dict:
    current_inline = msg.get("reply_markup") if is_inline(msg.get("reply_markup")) else None
    if all(msg.get(k) == v for k, v in changes.items()) and markup == current_inline:
        raise ApiError(400, _NOT_MODIFIED)
    tg.faults.gate(bot, chat)
    snapshot = {
        k: msg.get(k) for k in ("text", "entities", "caption", "caption_entities", "reply_markup")
    }
    snapshot["date"] = msg.get("edit_date", msg["date"])
    msg["edit_history"].append(snapshot)
    for key, value in changes.items():
        if value is None or value == "":
            msg.pop(key, None)
        else:
            msg[key] = value
    # Edit methods without reply_markup remove the inline keyboard (Telegram behaviour).
    if markup is not None:
        msg["reply_markup"] = markup
    elif current_inline is not None:
        msg.pop("reply_markup", None)
    msg["edit_date"] = tg.world.now()
    msg["edited"] += 1
    bot.stats["edits"] += 1
    bot.stats["per_chat_edits"][chat.id] += 1
    tg.world.touch(chat, msg)
    return api_message(msg)


def edit_message_text(tg: Telegram, bot: BotState, p: Params) -> dict:
    chat = tg.world.chat_for_bot(bot, p.raw("chat_id"))
    msg = _own_message(bot, chat, p)
    if "text" not in msg:
        raise ApiError(400, "Bad Request: there is no text in the message to edit")
    text, entities, meta = content.formatted(
        p, "text", "entities", limit=4096, empty_error="Bad Request: message text is empty"
    )
    markup = content.markup(p, inline_only=True)
    result = _apply_edit(tg, bot, chat, msg, {"text": text, "entities": entities}, markup)
    msg.update(meta)
    return result


def edit_message_caption(tg: Telegram, bot: BotState, p: Params) -> dict:
    chat = tg.world.chat_for_bot(bot, p.raw("chat_id"))
    msg = _own_message(bot, chat, p)
    if not any(k in msg for k in MEDIA_KEYS):
        raise ApiError(400, "Bad Request: there is no caption in the message to edit")
    caption, entities, meta = content.formatted(
        p, "caption", "caption_entities", limit=1024, empty_error=None
    )
    markup = content.markup(p, inline_only=True)
    result = _apply_edit(
        tg, bot, chat, msg, {"caption": caption, "caption_entities": entities}, markup
    )
    msg.update(meta)
    return result


def edit_message_reply_markup(tg: Telegram, bot: BotState, p: Params) -> dict:
    chat = tg.world.chat_for_bot(bot, p.raw("chat_id"))
    msg = _own_message(bot, chat, p)
    markup = content.markup(p, inline_only=True)
    return _apply_edit(tg, bot, chat, msg, {}, markup)


def _delete(tg: Telegram, bot: BotState, chat: ChatState, message_id: int) -> None:
    msg = chat.by_id.get(message_id)
    if msg is None or msg["deleted"]:
        raise ApiError(400, "Bad Request: message to delete not found")
    own = msg["from"]["id"] == bot.id
    if not chat.is_private and not own and chat.bots.get(bot.token) != "administrator":
        raise ApiError(400, "Bad Request: message can't be deleted")
    msg["deleted"] = True
    msg["deleted_date"] = tg.world.now()
    bot.stats["deleted"] += 1
    tg.world.touch(chat, msg)


def delete_message(tg: Telegram, bot: BotState, p: Params) -> bool:
    chat = tg.world.chat_for_bot(bot, p.raw("chat_id"))
    _delete(tg, bot, chat, p.integer("message_id", required=True) or 0)
    return True


def delete_messages(tg: Telegram, bot: BotState, p: Params) -> bool:
    chat = tg.world.chat_for_bot(bot, p.raw("chat_id"))
    ids = p.json("message_ids") or []
    deleted = 0
    for mid in ids:
        try:
            _delete(tg, bot, chat, int(mid))
            deleted += 1
        except ApiError:
            continue  # Telegram skips messages it can't delete
    if not deleted:
        raise ApiError(400, "Bad Request: message to delete not found")
    return True


def answer_callback_query(tg: Telegram, bot: BotState, p: Params) -> bool:
    world = tg.world
    query_id = p.text("callback_query_id", required=True) or ""
    query = world.callback_queries.get(query_id)
    # A query can be answered once; a second answer fails like an expired one.
    if query is None or query["token"] != bot.token or query_id in world.callback_answers:
        raise ApiError(400, _QUERY_INVALID)
    world.callback_answers[query_id] = {
        "text": p.text("text"),
        "show_alert": p.flag("show_alert"),
        "url": p.text("url"),
        "cache_time": p.integer("cache_time") or 0,
        "date": world.now(),
        "user_id": query["user_id"],
        "chat_id": query["chat_id"],
        "message_id": query["message_id"],
        "data": query["data"],
    }
    bot.stats["callback_answers"] += 1
    world.changed.notify()
    return True


METHODS: dict[str, ApiMethod] = {
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "deleteMessages": delete_messages,
    "answerCallbackQuery": answer_callback_query,
}
