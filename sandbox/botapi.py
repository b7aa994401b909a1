"""Bot API method implementations: result shapes as documented, so PTB can ``de_json`` them."""

from __future__ import annotations

import copy
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .formatting import EntityParseError, parse_text, utf16_len
from .state import (
    ACTIVE_STATUSES,
    MEDIA_KEYS,
    BotState,
    ChatState,
    FileRecord,
    api_message,
    chat_member,
    is_inline,
)

if TYPE_CHECKING:
    from .emulator import Emulator

METHODS = (
    "getMe",
    "logOut",
    "close",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
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
    "sendChatAction",
    "forwardMessage",
    "copyMessage",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
    "deleteMessage",
    "deleteMessages",
    "answerCallbackQuery",
    "getFile",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "getChat",
    "getChatMember",
    "getChatAdministrators",
    "getChatMemberCount",
    "createChatInviteLink",
    "exportChatInviteLink",
    "pinChatMessage",
    "unpinChatMessage",
    "unpinAllChatMessages",
    "leaveChat",
    "setMyDescription",
    "getMyDescription",
    "setMyShortDescription",
    "getMyShortDescription",
    "setMyName",
    "getMyName",
    "setChatMenuButton",
    "getChatMenuButton",
    "setMyDefaultAdministratorRights",
)
CANONICAL = {name.lower(): name for name in METHODS}
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
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and "
    "reply markup are exactly the same as a current content and reply markup "
    "of the message"
)
_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"


@dataclass
class Upload:
    data: bytes
    filename: str | None
    content_type: str | None


class Params:
    """Typed access to request parameters.

    PTB sends form fields whose values are JSON-dumped unless they are plain strings, so an
    integer arrives as ``"123"`` and reply_markup as a JSON string; JSON bodies are typed.
    """

    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload]) -> None:
        self.values = values
        self.uploads = uploads

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "") or name in self.uploads

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise ApiError(400, f"Bad Request: {name} is empty")
            return None if value is None else ""
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise ApiError(400, f"Bad Request: {name} is empty")
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ApiError(400, f"Bad Request: invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def json(self, name: str, error: str | None = None) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError(400, error or f"Bad Request: can't parse {name} JSON") from None
        return value

    def file(self, name: str) -> Upload | str | None:
        """An uploaded file (also via ``attach://``) or a file_id/URL string."""
        if name in self.uploads:
            return self.uploads[name]
        value = self.values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            return self.uploads.get(value[len("attach://") :])
        return value if isinstance(value, str) and value else None


class BotApi:
    """Dispatches ``/bot<token>/<method>`` calls to ``m_<lowercase method>`` handlers."""

    # Calls that produce or change a message: they count against flood limits and fail_next.
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

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    async def handle(self, bot: BotState, method: str, p: Params) -> Any:
        name = CANONICAL.get(method.lower())
        if name is None:
            raise ApiError(404, "Not Found: method not found")
        bot.stats["calls"][name] += 1
        if name == "getUpdates":
            return await self.get_updates(bot, p)
        return getattr(self, "m_" + name.lower())(bot, p)

    # ------------------------------------------------------------------ helpers

    def _gate(self, bot: BotState, chat: ChatState) -> None:
        """Injected failures, then flood limits; raising here leaves no trace of the call."""
        stats = bot.stats
        failure = self.emu.take_failure(bot)
        if failure is None:
            wait = bot.limiter.check(chat.id, chat.is_private)
            if wait is None:
                bot.limiter.consume(chat.id, chat.is_private)
                return
            failure = ApiError(429, f"Too Many Requests: retry after {wait}", wait)
        else:
            stats["injected_failures"] += 1
        if failure.code == 429:
            stats["rate_limited"] += 1
            stats["per_chat_rate_limited"][chat.id] += 1
        raise failure

    def _markup(self, p: Params, *, inline_only: bool = False) -> dict | None:
        markup = p.json(
            "reply_markup", "Bad Request: can't parse reply keyboard markup JSON object"
        )
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ApiError(
                    400,
                    "Bad Request: can't parse inline keyboard button: "
                    "InlineKeyboardButton must be an Object",
                )
            for button in (b for row in rows for b in row):
                self._check_inline_button(button)
            return markup
        if inline_only:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
            # Strings are allowed for simple text buttons; store the object form.
            markup = {
                **markup,
                "keyboard": [
                    [{"text": b} if isinstance(b, str) else b for b in row] for row in rows
                ],
            }
            if any(not b.get("text") for row in markup["keyboard"] for b in row):
                raise ApiError(400, "Bad Request: keyboard button text must be non-empty")
            return markup
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return markup
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")

    @staticmethod
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

    def _reply_to(self, chat: ChatState, p: Params) -> dict | None:
        params = p.json("reply_parameters") or {}
        mid = params.get("message_id") if isinstance(params, dict) else None
        if mid is None:
            mid = p.integer("reply_to_message_id")
        if mid is None:
            return None
        allow = bool(params.get("allow_sending_without_reply")) or p.flag(
            "allow_sending_without_reply"
        )
        target = chat.by_id.get(int(mid))
        if target is None or target["deleted"]:
            if allow:
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return api_message(target, nested=False)

    def _formatted(
        self, p: Params, field: str, entities_field: str, *, limit: int, empty_error: str | None
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

    def _send(
        self,
        bot: BotState,
        p: Params,
        content: dict,
        meta: dict | None = None,
        chat: ChatState | None = None,
    ) -> dict:
        chat = chat or self.emu.chat_for_bot(bot, p.raw("chat_id"))
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        self._gate(bot, chat)
        msg = self.emu.new_message(
            chat,
            bot.user(),
            content,
            outgoing=True,
            reply_markup=markup,
            reply_to=reply_to,
            meta=meta,
        )
        bot.stats["sent"] += 1
        bot.stats["per_chat"][chat.id] += 1
        return api_message(msg)

    def _media(self, bot: BotState, p: Params, kind: str) -> dict:
        chat = self.emu.chat_for_bot(bot, p.raw("chat_id"))
        given = p.file(kind)
        if given is None:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        record = self._resolve_file(given, kind, p)
        content: dict = {
            kind: record.photo_sizes if kind == "photo" else self.emu.media_object(record)
        }
        caption, entities, meta = self._formatted(
            p, "caption", "caption_entities", limit=1024, empty_error=None
        )
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return self._send(bot, p, content, meta, chat)

    def _resolve_file(self, given: Upload | str, kind: str, p: Params) -> FileRecord:
        emu = self.emu
        if isinstance(given, Upload):
            return emu.store_file(
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
            return emu.store_file(kind, b"", url=given, file_name=given.rsplit("/", 1)[-1])
        record = emu.files.get(given)
        if record is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if (kind == "photo") != (record.kind == "photo") and kind != "document":
            raise ApiError(400, "Bad Request: type of file mismatch")
        return record

    def _own_message(self, bot: BotState, chat: ChatState, p: Params) -> dict:
        if p.has("inline_message_id") and not p.has("chat_id"):
            raise ApiError(400, "Bad Request: inline messages are not supported by the sandbox")
        msg = chat.by_id.get(p.integer("message_id", required=True) or 0)
        if msg is None or msg["deleted"]:
            raise ApiError(400, "Bad Request: message to edit not found")
        if msg["from"]["id"] != bot.id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return msg

    def _apply_edit(
        self, bot: BotState, chat: ChatState, msg: dict, changes: dict, markup: dict | None
    ) -> dict:
        current_inline = msg.get("reply_markup") if is_inline(msg.get("reply_markup")) else None
        if all(msg.get(k) == v for k, v in changes.items()) and markup == current_inline:
            raise ApiError(400, _NOT_MODIFIED)
        self._gate(bot, chat)
        snapshot = {
            k: msg.get(k)
            for k in ("text", "entities", "caption", "caption_entities", "reply_markup")
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
        msg["edit_date"] = self.emu.now()
        msg["edited"] += 1
        bot.stats["edits"] += 1
        bot.stats["per_chat_edits"][chat.id] += 1
        self.emu.touch(chat, msg)
        return api_message(msg)

    # ------------------------------------------------------------------ bot & updates

    def m_getme(self, bot: BotState, p: Params) -> dict:
        return bot.me()

    def m_logout(self, bot: BotState, p: Params) -> bool:
        return True

    def m_close(self, bot: BotState, p: Params) -> bool:
        return True

    async def get_updates(self, bot: BotState, p: Params) -> list[dict]:
        if bot.webhook:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is "
                "active; use deleteWebhook to delete the webhook first",
            )
        offset = p.integer("offset")
        limit = min(max(p.integer("limit") or 100, 1), 100)
        timeout = max(p.integer("timeout") or 0, 0)
        allowed = p.json("allowed_updates")
        if isinstance(allowed, list):
            bot.allowed_updates = [str(a) for a in allowed]
        if offset is not None:
            self._confirm(bot, offset)
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
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is "
                    "active; use deleteWebhook to delete the webhook first",
                )
            batch = self._take(bot, limit)
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0 or self.emu.closing:
                return batch
            await bot.signal.wait(remaining)

    @staticmethod
    def _confirm(bot: BotState, offset: int) -> None:
        if offset < 0:
            bot.pending = bot.pending[offset:]
        else:
            bot.pending = [u for u in bot.pending if u["update_id"] >= offset]
        bot.redeliveries = [
            e for e in bot.redeliveries if not (e[1] and e[0]["update_id"] < offset)
        ]

    @staticmethod
    def _take(bot: BotState, limit: int) -> list[dict]:
        # Redelivered (older) updates first so the poller's next offset confirms everything.
        batch = []
        for entry in bot.redeliveries[:limit]:
            entry[1] = True
            batch.append(entry[0])
        batch.extend(sorted(bot.pending, key=lambda u: u["update_id"])[: limit - len(batch)])
        return [dict(u) for u in batch]

    def m_setwebhook(self, bot: BotState, p: Params) -> bool:
        url = p.text("url") or ""
        if not url:
            return self.m_deletewebhook(bot, p)
        if not re.match(r"^https?://", url):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        if p.flag("drop_pending_updates"):
            bot.pending.clear()
            bot.redeliveries.clear()
        allowed = p.json("allowed_updates")
        if isinstance(allowed, list):
            bot.allowed_updates = [str(a) for a in allowed]
        bot.webhook = {
            "url": url,
            "secret_token": p.text("secret_token"),
            "max_connections": p.integer("max_connections") or 40,
            "ip_address": p.text("ip_address"),
        }
        bot.webhook_error = None
        bot.signal.notify()  # a waiting getUpdates must now fail with 409
        self.emu._kick_webhook(bot)
        return True

    def m_deletewebhook(self, bot: BotState, p: Params) -> bool:
        self.emu.stop_webhook(bot)
        if p.flag("drop_pending_updates"):
            bot.pending.clear()
            bot.redeliveries.clear()
        return True

    def m_getwebhookinfo(self, bot: BotState, p: Params) -> dict:
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

    # ------------------------------------------------------------------ sending

    def m_sendmessage(self, bot: BotState, p: Params) -> dict:
        chat = self.emu.chat_for_bot(bot, p.raw("chat_id"))
        text, entities, meta = self._formatted(
            p, "text", "entities", limit=4096, empty_error="Bad Request: message text is empty"
        )
        content: dict = {"text": text}
        if entities:
            content["entities"] = entities
        return self._send(bot, p, content, meta, chat)

    def m_sendphoto(self, bot: BotState, p: Params) -> dict:
        return self._media(bot, p, "photo")

    def m_senddocument(self, bot: BotState, p: Params) -> dict:
        return self._media(bot, p, "document")

    def m_sendvoice(self, bot: BotState, p: Params) -> dict:
        return self._media(bot, p, "voice")

    def m_sendaudio(self, bot: BotState, p: Params) -> dict:
        return self._media(bot, p, "audio")

    def m_sendvideo(self, bot: BotState, p: Params) -> dict:
        return self._media(bot, p, "video")

    def m_sendanimation(self, bot: BotState, p: Params) -> dict:
        return self._media(bot, p, "animation")

    def m_sendsticker(self, bot: BotState, p: Params) -> dict:
        return self._media(bot, p, "sticker")

    def m_sendlocation(self, bot: BotState, p: Params) -> dict:
        try:
            location = {
                "latitude": float(p.raw("latitude")),
                "longitude": float(p.raw("longitude")),
            }
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: wrong latitude/longitude specified") from None
        return self._send(bot, p, {"location": location})

    def m_sendcontact(self, bot: BotState, p: Params) -> dict:
        contact = {
            "phone_number": p.text("phone_number", required=True),
            "first_name": p.text("first_name", required=True),
        }
        if p.has("last_name"):
            contact["last_name"] = p.text("last_name")
        return self._send(bot, p, {"contact": contact})

    def _source(self, bot: BotState, p: Params) -> dict:
        source_chat = self.emu.chat_for_bot(bot, p.raw("from_chat_id"), write=False)
        msg = source_chat.by_id.get(p.integer("message_id", required=True) or 0)
        if msg is None or msg["deleted"]:
            raise ApiError(400, "Bad Request: message to forward not found")
        return msg

    def m_forwardmessage(self, bot: BotState, p: Params) -> dict:
        source = self._source(bot, p)
        content = {k: copy.deepcopy(source[k]) for k in _COPIED_KEYS if k in source}
        content["forward_origin"] = {
            "type": "user",
            "sender_user": source["from"],
            "date": source["date"],
        }
        return self._send(bot, p, content)

    def m_copymessage(self, bot: BotState, p: Params) -> dict:
        source = self._source(bot, p)
        content = {k: copy.deepcopy(source[k]) for k in _COPIED_KEYS if k in source}
        meta: dict = {}
        if p.has("caption") and any(k in source for k in MEDIA_KEYS):
            content.pop("caption_entities", None)
            content.pop("caption", None)
            caption, entities, meta = self._formatted(
                p, "caption", "caption_entities", limit=1024, empty_error=None
            )
            if caption:
                content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        sent = self._send(bot, p, content, meta)
        return {"message_id": sent["message_id"]}

    def m_sendchataction(self, bot: BotState, p: Params) -> bool:
        chat = self.emu.chat_for_bot(bot, p.raw("chat_id"))
        action = p.text("action", required=True)
        if action not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        chat.actions.append((self.emu.now(), action))
        return True

    # ------------------------------------------------------------------ editing & deleting

    def m_editmessagetext(self, bot: BotState, p: Params) -> dict:
        chat = self.emu.chat_for_bot(bot, p.raw("chat_id"))
        msg = self._own_message(bot, chat, p)
        if "text" not in msg:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities, meta = self._formatted(
            p, "text", "entities", limit=4096, empty_error="Bad Request: message text is empty"
        )
        markup = self._markup(p, inline_only=True)
        result = self._apply_edit(bot, chat, msg, {"text": text, "entities": entities}, markup)
        msg.update(meta)
        return result

    def m_editmessagecaption(self, bot: BotState, p: Params) -> dict:
        chat = self.emu.chat_for_bot(bot, p.raw("chat_id"))
        msg = self._own_message(bot, chat, p)
        if not any(k in msg for k in MEDIA_KEYS):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption, entities, meta = self._formatted(
            p, "caption", "caption_entities", limit=1024, empty_error=None
        )
        markup = self._markup(p, inline_only=True)
        result = self._apply_edit(
            bot, chat, msg, {"caption": caption, "caption_entities": entities}, markup
        )
        msg.update(meta)
        return result

    def m_editmessagereplymarkup(self, bot: BotState, p: Params) -> dict:
        chat = self.emu.chat_for_bot(bot, p.raw("chat_id"))
        msg = self._own_message(bot, chat, p)
        markup = self._markup(p, inline_only=True)
        return self._apply_edit(bot, chat, msg, {}, markup)

    def _delete(self, bot: BotState, chat: ChatState, message_id: int) -> None:
        msg = chat.by_id.get(message_id)
        if msg is None or msg["deleted"]:
            raise ApiError(400, "Bad Request: message to delete not found")
        own = msg["from"]["id"] == bot.id
        if not chat.is_private and not own and chat.bots.get(bot.token) != "administrator":
            raise ApiError(400, "Bad Request: message can't be deleted")
        msg["deleted"] = True
        msg["deleted_date"] = self.emu.now()
        bot.stats["deleted"] += 1
        self.emu.touch(chat, msg)

    def m_deletemessage(self, bot: BotState, p: Params) -> bool:
        chat = self.emu.chat_for_bot(bot, p.raw("chat_id"))
        self._delete(bot, chat, p.integer("message_id", required=True) or 0)
        return True

    def m_deletemessages(self, bot: BotState, p: Params) -> bool:
        chat = self.emu.chat_for_bot(bot, p.raw("chat_id"))
        ids = p.json("message_ids") or []
        deleted = 0
        for mid in ids:
            try:
                self._delete(bot, chat, int(mid))
                deleted += 1
            except ApiError:
                continue  # Telegram skips messages it can't delete
        if not deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    def m_answercallbackquery(self, bot: BotState, p: Params) -> bool:
        query_id = p.text("callback_query_id", required=True) or ""
        query = self.emu.callback_queries.get(query_id)
        # A query can be answered once; a second answer fails like an expired one.
        if query is None or query["token"] != bot.token or query_id in self.emu.callback_answers:
            raise ApiError(400, _QUERY_INVALID)
        self.emu.callback_answers[query_id] = {
            "text": p.text("text"),
            "show_alert": p.flag("show_alert"),
            "url": p.text("url"),
            "cache_time": p.integer("cache_time") or 0,
            "date": self.emu.now(),
            "user_id": query["user_id"],
            "chat_id": query["chat_id"],
            "message_id": query["message_id"],
            "data": query["data"],
        }
        bot.stats["callback_answers"] += 1
        self.emu.changed.notify()
        return True

    # ------------------------------------------------------------------ files & commands

    def m_getfile(self, bot: BotState, p: Params) -> dict:
        record = self.emu.files.get(p.text("file_id", required=True) or "")
        if record is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return record.api()

    @staticmethod
    def _commands_key(p: Params) -> str:
        scope = p.json("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True) + "|" + (p.text("language_code") or "")

    def m_setmycommands(self, bot: BotState, p: Params) -> bool:
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
        bot.commands[self._commands_key(p)] = cleaned
        return True

    def m_getmycommands(self, bot: BotState, p: Params) -> list[dict]:
        return list(bot.commands.get(self._commands_key(p), []))

    def m_deletemycommands(self, bot: BotState, p: Params) -> bool:
        bot.commands.pop(self._commands_key(p), None)
        return True

    def _set_text(self, bot: BotState, p: Params, name: str) -> bool:
        bot.texts[name + "|" + (p.text("language_code") or "")] = p.text(name) or ""
        return True

    def _get_text(self, bot: BotState, p: Params, name: str) -> dict:
        return {name: bot.texts.get(name + "|" + (p.text("language_code") or ""), "")}

    def m_setmydescription(self, bot: BotState, p: Params) -> bool:
        return self._set_text(bot, p, "description")

    def m_getmydescription(self, bot: BotState, p: Params) -> dict:
        return self._get_text(bot, p, "description")

    def m_setmyshortdescription(self, bot: BotState, p: Params) -> bool:
        return self._set_text(bot, p, "short_description")

    def m_getmyshortdescription(self, bot: BotState, p: Params) -> dict:
        return self._get_text(bot, p, "short_description")

    def m_setmyname(self, bot: BotState, p: Params) -> bool:
        return self._set_text(bot, p, "name")

    def m_getmyname(self, bot: BotState, p: Params) -> dict:
        result = self._get_text(bot, p, "name")
        return {"name": result["name"] or bot.first_name}

    def m_setchatmenubutton(self, bot: BotState, p: Params) -> bool:
        bot.texts["menu_button|" + str(p.raw("chat_id") or "")] = json.dumps(
            p.json("menu_button") or {"type": "default"}
        )
        return True

    def m_getchatmenubutton(self, bot: BotState, p: Params) -> dict:
        key = "menu_button|" + str(p.raw("chat_id") or "")
        return json.loads(bot.texts.get(key, '{"type": "default"}'))

    def m_setmydefaultadministratorrights(self, bot: BotState, p: Params) -> bool:
        return True

    # ------------------------------------------------------------------ chats

    def m_getchat(self, bot: BotState, p: Params) -> dict:
        chat = self.emu.chat_for_bot(bot, p.raw("chat_id"), write=False)
        info = self.emu.chat_obj(chat)
        # ChatFullInfo: PTB requires these even though a plain chat has nothing to say.
        info.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        if chat.pinned:
            pinned = chat.by_id.get(chat.pinned[-1])
            if pinned is not None and not pinned["deleted"]:
                info["pinned_message"] = api_message(pinned, nested=False)
        if not chat.is_private:
            info["permissions"] = {"can_send_messages": True, "can_invite_users": True}
            if chat.invite_links:
                info["invite_link"] = chat.invite_links[0]["invite_link"]
        return info

    def _member_of(self, bot: BotState, chat: ChatState, user_id: int) -> dict:
        if user_id == bot.id:
            status = "member" if chat.is_private else chat.bots.get(bot.token, "left")
            return chat_member(bot.user(), status)
        other_bot = self.emu._bot_by_id(user_id)
        if other_bot is not None and not chat.is_private:
            return chat_member(other_bot.user(), chat.bots.get(other_bot.token, "left"))
        user = self.emu.users.get(user_id)
        if user is None:
            raise ApiError(400, "Bad Request: user not found")
        if chat.is_private:
            if user_id != chat.id:
                raise ApiError(400, "Bad Request: user not found")
            return chat_member(dict(user), "kicked" if chat.blocked else "member")
        status = chat.members.get(user_id, "left")
        return chat_member(dict(user), "member" if status == "restricted" else status)

    def m_getchatmember(self, bot: BotState, p: Params) -> dict:
        chat = self.emu.chat_for_bot(bot, p.raw("chat_id"), write=False)
        return self._member_of(bot, chat, p.integer("user_id", required=True) or 0)

    def m_getchatadministrators(self, bot: BotState, p: Params) -> list[dict]:
        chat = self.emu.chat_for_bot(bot, p.raw("chat_id"), write=False)
        if chat.is_private:
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        admins = [
            chat_member(dict(self.emu.users[uid]), s)
            for uid, s in chat.members.items()
            if s in ("creator", "administrator")
        ]
        admins += [
            chat_member(self.emu.bots[t].user(), s)
            for t, s in chat.bots.items()
            if s == "administrator"
        ]
        return admins

    def m_getchatmembercount(self, bot: BotState, p: Params) -> int:
        chat = self.emu.chat_for_bot(bot, p.raw("chat_id"), write=False)
        if chat.is_private:
            return 2
        return sum(s in ACTIVE_STATUSES for s in chat.members.values()) + sum(
            s in ACTIVE_STATUSES for s in chat.bots.values()
        )

    def _admin_group(self, bot: BotState, p: Params, error: str) -> ChatState:
        chat = self.emu.chat_for_bot(bot, p.raw("chat_id"), write=False)
        if chat.is_private or chat.bots.get(bot.token) != "administrator":
            raise ApiError(400, error)
        return chat

    def m_createchatinvitelink(self, bot: BotState, p: Params) -> dict:
        chat = self._admin_group(
            bot, p, "Bad Request: not enough rights to manage chat invite links"
        )
        link: dict = {
            "invite_link": "https://t.me/+" + secrets.token_urlsafe(12),
            "creator": bot.user(),
            "creates_join_request": p.flag("creates_join_request"),
            "is_primary": False,
            "is_revoked": False,
        }
        for key in ("name",):
            if p.has(key):
                link[key] = p.text(key)
        for key in ("expire_date", "member_limit"):
            if p.has(key):
                link[key] = p.integer(key)
        chat.invite_links.append(link)
        return link

    def m_exportchatinvitelink(self, bot: BotState, p: Params) -> str:
        chat = self._admin_group(
            bot, p, "Bad Request: not enough rights to export chat invite link"
        )
        link = "https://t.me/+" + secrets.token_urlsafe(12)
        chat.invite_links.insert(
            0,
            {
                "invite_link": link,
                "creator": bot.user(),
                "creates_join_request": False,
                "is_primary": True,
                "is_revoked": False,
            },
        )
        return link

    def _pin_chat(self, bot: BotState, p: Params) -> ChatState:
        chat = self.emu.chat_for_bot(bot, p.raw("chat_id"))
        if not chat.is_private and chat.bots.get(bot.token) != "administrator":
            raise ApiError(
                400, "Bad Request: not enough rights to manage pinned messages in the chat"
            )
        return chat

    def m_pinchatmessage(self, bot: BotState, p: Params) -> bool:
        chat = self._pin_chat(bot, p)
        mid = p.integer("message_id", required=True) or 0
        msg = chat.by_id.get(mid)
        if msg is None or msg["deleted"]:
            raise ApiError(400, "Bad Request: message to pin not found")
        if mid in chat.pinned:
            chat.pinned.remove(mid)
        chat.pinned.append(mid)
        self.emu.touch(chat)
        return True

    def m_unpinchatmessage(self, bot: BotState, p: Params) -> bool:
        chat = self._pin_chat(bot, p)
        mid = p.integer("message_id")
        if mid is None:
            if chat.pinned:
                chat.pinned.pop()
        elif mid in chat.pinned:
            chat.pinned.remove(mid)
        else:
            raise ApiError(400, "Bad Request: message to unpin not found")
        self.emu.touch(chat)
        return True

    def m_unpinallchatmessages(self, bot: BotState, p: Params) -> bool:
        chat = self._pin_chat(bot, p)
        chat.pinned.clear()
        self.emu.touch(chat)
        return True

    def m_leavechat(self, bot: BotState, p: Params) -> bool:
        chat = self.emu.chat_for_bot(bot, p.raw("chat_id"), write=False)
        if chat.is_private:
            raise ApiError(400, "Bad Request: chat member status can't be changed in private chats")
        self.emu._bot_leaves(bot, chat, bot.user())
        return True
