"""Bot API methods that put a new message in a chat: sendMessage, the media senders (a new
upload, a file_id already stored, or a URL recorded but never fetched), sendLocation,
sendContact, forwardMessage, copyMessage, sendChatAction; and getFile, the way back to a file.
"""

from __future__ import annotations

import copy
import re

from ..errors import ApiError
from ..state import MEDIA_KEYS, BotState, ChatState, FileRecord, api_message
from ..telegram import Telegram
from . import content
from .params import ApiMethod, Params, Upload

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COPIED_KEYS = (
    "text",
    "entities",
    "caption",
    "caption_entities",
    "photo",
    "document",
    "voice",
    "audio",
    "video",
    "animation",
    "sticker",
    "location",
    "contact",
)


def send(
    tg: Telegram,
    bot: BotState,
    p: Params,
    body: dict,
    meta: dict | None = None,
    chat: ChatState | None = None,
) -> dict:
    """Check markup and reply, pass the limits and faults, then append the bot's message."""
    chat = chat or tg.world.chat_for_bot(bot, p.raw("chat_id"))
    markup = content.markup(p)
    reply_to = content.reply_to(chat, p)
    tg.faults.gate(bot, chat)
    msg = tg.world.new_message(
        chat,
        bot.user(),
        body,
        outgoing=True,
        reply_markup=markup,
        reply_to=reply_to,
        meta=meta,
    )
    bot.stats["sent"] += 1
    bot.stats["per_chat"][chat.id] += 1
    return api_message(msg)


def _media(tg: Telegram, bot: BotState, p: Params, kind: str) -> dict:
    chat = tg.world.chat_for_bot(bot, p.raw("chat_id"))
    given = p.file(kind)
    if given is None:
        raise ApiError(400, f"Bad Request: there is no {kind} in the request")
    record = _resolve_file(tg, given, kind, p)
    body: dict = {
        kind: record.photo_sizes if kind == "photo" else tg.file_store.media_object(record)
    }
    caption, entities, meta = content.formatted(
        p, "caption", "caption_entities", limit=1024, empty_error=None
    )
    if caption:
        body["caption"] = caption
        if entities:
            body["caption_entities"] = entities
    return send(tg, bot, p, body, meta, chat)


def _resolve_file(tg: Telegram, given: Upload | str, kind: str, p: Params) -> FileRecord:
    store = tg.file_store
    if isinstance(given, Upload):
        return store.store_file(
            kind,
            given.data,
            mime_type=given.content_type
            if given.content_type not in (None, "application/octet-stream")
            else None,
            file_name=given.filename,
            duration=p.integer("duration"),
            width=p.integer("width"),
            height=p.integer("height"),
        )
    if re.match(r"^https?://", given):
        # Telegram would fetch the URL; the sandbox never goes online, it records it.
        return store.store_file(kind, b"", url=given, file_name=given.rsplit("/", 1)[-1])
    record = store.files.get(given)
    if record is None:
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
    if (kind == "photo") != (record.kind == "photo") and kind != "document":
        raise ApiError(400, "Bad Request: type of file mismatch")
    return record


def send_message(tg: Telegram, bot: BotState, p: Params) -> dict:
    chat = tg.world.chat_for_bot(bot, p.raw("chat_id"))
    text, entities, meta = content.formatted(
        p, "text", "entities", limit=4096, empty_error="Bad Request: message text is empty"
    )
    body: dict = {"text": text}
    if entities:
        body["entities"] = entities
    return send(tg, bot, p, body, meta, chat)


def send_photo(tg: Telegram, bot: BotState, p: Params) -> dict:
    return _media(tg, bot, p, "photo")


def send_document(tg: Telegram, bot: BotState, p: Params) -> dict:
    return _media(tg, bot, p, "document")


def send_voice(tg: Telegram, bot: BotState, p: Params) -> dict:
    return _media(tg, bot, p, "voice")


def send_audio(tg: Telegram, bot: BotState, p: Params) -> dict:
    return _media(tg, bot, p, "audio")


def send_video(tg: Telegram, bot: BotState, p: Params) -> dict:
    return _media(tg, bot, p, "video")


def send_animation(tg: Telegram, bot: BotState, p: Params) -> dict:
    return _media(tg, bot, p, "animation")


def send_sticker(tg: Telegram, bot: BotState, p: Params) -> dict:
    return _media(tg, bot, p, "sticker")


def send_location(tg: Telegram, bot: BotState, p: Params) -> dict:
    try:
        location = {
            "latitude": float(p.raw("latitude")),
            "longitude": float(p.raw("longitude")),
        }
    except (TypeError, ValueError):
        raise ApiError(400, "Bad Request: wrong latitude/longitude specified") from None
    return send(tg, bot, p, {"location": location})


def send_contact(tg: Telegram, bot: BotState, p: Params) -> dict:
    contact = {
        "phone_number": p.text("phone_number", required=True),
        "first_name": p.text("first_name", required=True),
    }
    if p.has("last_name"):
        contact["last_name"] = p.text("last_name")
    return send(tg, bot, p, {"contact": contact})


def _source(tg: Telegram, bot: BotState, p: Params) -> dict:
    source_chat = tg.world.chat_for_bot(bot, p.raw("from_chat_id"), write=False)
    msg = source_chat.by_id.get(p.integer("message_id", required=True) or 0)
    if msg is None or msg["deleted"]:
        raise ApiError(400, "Bad Request: message to forward not found")
    return msg


def forward_message(tg: Telegram, bot: BotState, p: Params) -> dict:
    source = _source(tg, bot, p)
    body = {k: copy.deepcopy(source[k]) for k in _COPIED_KEYS if k in source}
    body["forward_origin"] = {
        "type": "user",
        "sender_user": source["from"],
        "date": source["date"],
    }
    return send(tg, bot, p, body)


def copy_message(tg: Telegram, bot: BotState, p: Params) -> dict:
    source = _source(tg, bot, p)
    body = {k: copy.deepcopy(source[k]) for k in _COPIED_KEYS if k in source}
    meta: dict = {}
    if p.has("caption") and any(k in source for k in MEDIA_KEYS):
        body.pop("caption_entities", None)
        body.pop("caption", None)
        caption, entities, meta = content.formatted(
            p, "caption", "caption_entities", limit=1024, empty_error=None
        )
        if caption:
            body["caption"] = caption
        if entities:
            body["caption_entities"] = entities
    sent = send(tg, bot, p, body, meta)
    return {"message_id": sent["message_id"]}


def send_chat_action(tg: Telegram, bot: BotState, p: Params) -> bool:
    chat = tg.world.chat_for_bot(bot, p.raw("chat_id"))
    action = p.text("action", required=True)
    if action not in CHAT_ACTIONS:
        raise ApiError(400, "Bad Request: wrong parameter action in request")
    chat.actions.append((tg.world.now(), action))
    return True


def get_file(tg: Telegram, bot: BotState, p: Params) -> dict:
    record = tg.file_store.files.get(p.text("file_id", required=True) or "")
    if record is None:
        raise ApiError(400, "Bad Request: invalid file_id")
    return record.api()


METHODS: dict[str, ApiMethod] = {
    "sendMessage": send_message,
    "sendPhoto": send_photo,
    "sendDocument": send_document,
    "sendVoice": send_voice,
    "sendAudio": send_audio,
    "sendVideo": send_video,
    "sendAnimation": send_animation,
    "sendSticker": send_sticker,
    "sendLocation": send_location,
    "sendContact": send_contact,
    "sendChatAction": send_chat_action,
    "forwardMessage": forward_message,
    "copyMessage": copy_message,
    "getFile": get_file,
}
