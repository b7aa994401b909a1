"""What the emulated humans do: write text, share a contact, send a photo, document, voice,
sticker or location, and press an inline button. Each lands in the chat's history and becomes
an update for the bot (in a group: for every member bot).
"""

from __future__ import annotations

import copy
import secrets

from .errors import SandboxError
from .files import FileStore
from .formatting import command_entities
from .membership import Membership
from .state import ACTIVE_STATUSES, BotState, api_message, is_inline
from .world import World


class People:
    """The users' side of every chat."""

    def __init__(self, world: World, files: FileStore, membership: Membership) -> None:
        self.world = world
        self.files = files
        self.membership = membership

    def _user_message(
        self,
        user_id: int,
        chat_id: int | None,
        token: str | None,
        content: dict,
        reply_to_message_id: int | None,
    ) -> dict:
        world = self.world
        user = dict(world.user(user_id))
        bot: BotState | None = None
        if chat_id is None or int(chat_id) == user["id"]:
            bot = world.bot(token)
            chat = world.private_chat(bot, user["id"])
            if chat.blocked:  # writing to a blocked bot means pressing "Restart": unblock
                self.membership.unblock_bot(user["id"], token=bot.token)
            chat.started = True
        elif int(chat_id) > 0:
            raise SandboxError(
                400, "a user writes to the bot's private chat (chat_id = own id) or a group"
            )
        else:
            chat = world.group(int(chat_id))
            if chat.members.get(user["id"]) not in ACTIVE_STATUSES:
                raise SandboxError(403, f"user {user_id} is not a member of chat {chat_id}")
        reply_to = None
        if reply_to_message_id is not None:
            target = chat.by_id.get(int(reply_to_message_id))
            if target is None or target["deleted"]:
                raise SandboxError(404, f"message {reply_to_message_id} not found")
            reply_to = api_message(target, nested=False)
        msg = world.new_message(chat, user, content, outgoing=False, reply_to=reply_to)
        if bot is not None:
            msg["update_id"] = world.enqueue(bot, "message", api_message(msg))
            return copy.deepcopy(msg)
        return world.deliver_to_group(chat, msg, token)

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        token: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict:
        """The user sends text; ``/command`` text gets a ``bot_command`` entity."""
        if not text:
            raise SandboxError(400, "text is empty")
        content: dict = {"text": text}
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        return self._user_message(user_id, chat_id, token, content, reply_to_message_id)

    def send_contact(
        self,
        user_id: int,
        phone_number: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        contact_user_id: int | None = None,
        chat_id: int | None = None,
        token: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict:
        """Share a contact; by default the user's own (as a ``request_contact`` button does)."""
        user = self.world.user(user_id)
        contact = {
            "phone_number": phone_number,
            "first_name": first_name or user["first_name"],
            "user_id": contact_user_id if contact_user_id is not None else user["id"],
        }
        if last_name or (first_name is None and user.get("last_name")):
            contact["last_name"] = last_name or user["last_name"]
        return self._user_message(
            user_id, chat_id, token, {"contact": contact}, reply_to_message_id
        )

    def send_photo(
        self,
        user_id: int,
        data: bytes,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        token: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict:
        record = self.files.store_file("photo", data)
        content: dict = {"photo": record.photo_sizes}
        if caption:
            content["caption"] = caption
        return self._user_message(user_id, chat_id, token, content, reply_to_message_id)

    def send_document(
        self,
        user_id: int,
        data: bytes,
        *,
        file_name: str = "document.bin",
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        chat_id: int | None = None,
        token: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict:
        files = self.files
        record = files.store_file("document", data, mime_type=mime_type, file_name=file_name)
        content: dict = {"document": files.media_object(record)}
        if caption:
            content["caption"] = caption
        return self._user_message(user_id, chat_id, token, content, reply_to_message_id)

    def send_voice(
        self,
        user_id: int,
        data: bytes = b"OggS\x00voice",
        *,
        duration: int = 1,
        chat_id: int | None = None,
        token: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict:
        files = self.files
        record = files.store_file("voice", data, mime_type="audio/ogg", duration=duration)
        return self._user_message(
            user_id, chat_id, token, {"voice": files.media_object(record)}, reply_to_message_id
        )

    def send_sticker(
        self,
        user_id: int,
        *,
        emoji: str = "👍",
        set_name: str | None = None,
        chat_id: int | None = None,
        token: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict:
        record = self.files.store_file(
            "sticker", b"RIFF\x00\x00\x00\x00WEBP", mime_type="image/webp", width=512, height=512
        )
        sticker = self.files.media_object(record)
        sticker["emoji"] = emoji
        if set_name:
            sticker["set_name"] = set_name
        return self._user_message(
            user_id, chat_id, token, {"sticker": sticker}, reply_to_message_id
        )

    def send_location(
        self,
        user_id: int,
        latitude: float,
        longitude: float,
        *,
        chat_id: int | None = None,
        token: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict:
        location = {"latitude": float(latitude), "longitude": float(longitude)}
        return self._user_message(
            user_id, chat_id, token, {"location": location}, reply_to_message_id
        )

    def press(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        force: bool = False,
        token: str | None = None,
    ) -> str:
        """The user presses an inline button; returns the callback_query id.

        Refused (400) when the message has no button with that ``callback_data`` unless
        ``force`` (to simulate forged/stale data).
        """
        world = self.world
        user = dict(world.user(user_id))
        chat = world.chat(chat_id, token)
        if chat.is_private and chat.id != user["id"]:
            raise SandboxError(400, f"user {user_id} can't see the private chat {chat_id}")
        if not chat.is_private and chat.members.get(user["id"]) not in ACTIVE_STATUSES:
            raise SandboxError(403, f"user {user_id} is not a member of chat {chat_id}")
        msg = chat.by_id.get(int(message_id))
        if msg is None or msg["deleted"]:
            raise SandboxError(404, f"message {message_id} not found in chat {chat_id}")
        markup = msg.get("reply_markup")
        datas = (
            [
                b.get("callback_data")
                for row in (markup or {}).get("inline_keyboard", [])
                for b in row
            ]
            if is_inline(markup)
            else []
        )
        if data not in datas and not force:
            raise SandboxError(
                400,
                f"message {message_id} has no inline button with callback_data {data!r}"
                f" (buttons: {datas})",
            )
        sender = world.bot_by_id(msg["from"]["id"]) if msg["outgoing"] else None
        bot = sender or world.bot(token)
        query_id = str(secrets.randbits(62))
        while query_id in world.callback_queries:
            query_id = str(secrets.randbits(62))
        query = {
            "id": query_id,
            "from": user,
            "message": api_message(msg),
            "chat_instance": chat.chat_instance,
            "data": data,
        }
        update_id = world.enqueue(bot, "callback_query", query)
        world.callback_queries[query_id] = {
            "token": bot.token,
            "user_id": user["id"],
            "chat_id": chat.id,
            "message_id": msg["message_id"],
            "data": data,
            "update_id": update_id,
        }
        return query_id
