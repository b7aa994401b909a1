"""Bot API methods about a chat rather than one message: getChat, getChatMember,
getChatAdministrators, getChatMemberCount, invite links, pinning, and leaveChat. Admin-only
methods fail in a group where the bot is only a member, with Telegram's wording.
"""

from __future__ import annotations

import secrets

from ..errors import ApiError
from ..state import ACTIVE_STATUSES, BotState, ChatState, api_message, chat_member
from ..telegram import Telegram
from .params import ApiMethod, Params


def get_chat(tg: Telegram, bot: BotState, p: Params) -> dict:
    chat = tg.world.chat_for_bot(bot, p.raw("chat_id"), write=False)
    info = tg.world.chat_obj(chat)
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


def _member_of(tg: Telegram, bot: BotState, chat: ChatState, user_id: int) -> dict:
    if user_id == bot.id:
        status = "member" if chat.is_private else chat.bots.get(bot.token, "left")
        return chat_member(bot.user(), status)
    other_bot = tg.world.bot_by_id(user_id)
    if other_bot is not None and not chat.is_private:
        return chat_member(other_bot.user(), chat.bots.get(other_bot.token, "left"))
    user = tg.world.users.get(user_id)
    if user is None:
        raise ApiError(400, "Bad Request: user not found")
    if chat.is_private:
        if user_id != chat.id:
            raise ApiError(400, "Bad Request: user not found")
        return chat_member(dict(user), "kicked" if chat.blocked else "member")
    status = chat.members.get(user_id, "left")
    return chat_member(dict(user), "member" if status == "restricted" else status)


def get_chat_member(tg: Telegram, bot: BotState, p: Params) -> dict:
    chat = tg.world.chat_for_bot(bot, p.raw("chat_id"), write=False)
    return _member_of(tg, bot, chat, p.integer("user_id", required=True) or 0)


def get_chat_administrators(tg: Telegram, bot: BotState, p: Params) -> list[dict]:
    world = tg.world
    chat = world.chat_for_bot(bot, p.raw("chat_id"), write=False)
    if chat.is_private:
        raise ApiError(400, "Bad Request: there are no administrators in the private chat")
    admins = [
        chat_member(dict(world.users[uid]), s)
        for uid, s in chat.members.items()
        if s in ("creator", "administrator")
    ]
    admins += [
        chat_member(world.bots[t].user(), s) for t, s in chat.bots.items() if s == "administrator"
    ]
    return admins


def get_chat_member_count(tg: Telegram, bot: BotState, p: Params) -> int:
    chat = tg.world.chat_for_bot(bot, p.raw("chat_id"), write=False)
    if chat.is_private:
        return 2
    return sum(s in ACTIVE_STATUSES for s in chat.members.values()) + sum(
        s in ACTIVE_STATUSES for s in chat.bots.values()
    )


def _admin_group(tg: Telegram, bot: BotState, p: Params, error: str) -> ChatState:
    chat = tg.world.chat_for_bot(bot, p.raw("chat_id"), write=False)
    if chat.is_private or chat.bots.get(bot.token) != "administrator":
        raise ApiError(400, error)
    return chat


def create_chat_invite_link(tg: Telegram, bot: BotState, p: Params) -> dict:
    chat = _admin_group(tg, bot, p, "Bad Request: not enough rights to manage chat invite links")
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


def export_chat_invite_link(tg: Telegram, bot: BotState, p: Params) -> str:
    chat = _admin_group(tg, bot, p, "Bad Request: not enough rights to export chat invite link")
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


def _pin_chat(tg: Telegram, bot: BotState, p: Params) -> ChatState:
    chat = tg.world.chat_for_bot(bot, p.raw("chat_id"))
    if not chat.is_private and chat.bots.get(bot.token) != "administrator":
        raise ApiError(400, "Bad Request: not enough rights to manage pinned messages in the chat")
    return chat


def pin_chat_message(tg: Telegram, bot: BotState, p: Params) -> bool:
    chat = _pin_chat(tg, bot, p)
    mid = p.integer("message_id", required=True) or 0
    msg = chat.by_id.get(mid)
    if msg is None or msg["deleted"]:
        raise ApiError(400, "Bad Request: message to pin not found")
    if mid in chat.pinned:
        chat.pinned.remove(mid)
    chat.pinned.append(mid)
    tg.world.touch(chat)
    return True


def unpin_chat_message(tg: Telegram, bot: BotState, p: Params) -> bool:
    chat = _pin_chat(tg, bot, p)
    mid = p.integer("message_id")
    if mid is None:
        if chat.pinned:
            chat.pinned.pop()
    elif mid in chat.pinned:
        chat.pinned.remove(mid)
    else:
        raise ApiError(400, "Bad Request: message to unpin not found")
    tg.world.touch(chat)
    return True


def unpin_all_chat_messages(tg: Telegram, bot: BotState, p: Params) -> bool:
    chat = _pin_chat(tg, bot, p)
    chat.pinned.clear()
    tg.world.touch(chat)
    return True


def leave_chat(tg: Telegram, bot: BotState, p: Params) -> bool:
    chat = tg.world.chat_for_bot(bot, p.raw("chat_id"), write=False)
    if chat.is_private:
        raise ApiError(400, "Bad Request: chat member status can't be changed in private chats")
    tg.membership.bot_leaves(bot, chat, bot.user())
    return True


METHODS: dict[str, ApiMethod] = {
    "getChat": get_chat,
    "getChatMember": get_chat_member,
    "getChatAdministrators": get_chat_administrators,
    "getChatMemberCount": get_chat_member_count,
    "createChatInviteLink": create_chat_invite_link,
    "exportChatInviteLink": export_chat_invite_link,
    "pinChatMessage": pin_chat_message,
    "unpinChatMessage": unpin_chat_message,
    "unpinAllChatMessages": unpin_all_chat_messages,
    "leaveChat": leave_chat,
}
