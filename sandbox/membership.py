"""Who is in which chat, and the updates a change of membership produces: groups created and
upgraded to supergroups, users joining and leaving, the bot added, removed or blocked in a
private chat (``my_chat_member``, ``chat_member`` and the service messages Telegram posts).
"""

from __future__ import annotations

from .errors import SandboxError
from .state import ACTIVE_STATUSES, BotState, ChatState, chat_member
from .world import World


class Membership:
    """Membership changes of the world's groups and private chats."""

    def __init__(self, world: World) -> None:
        self.world = world

    def create_group(
        self,
        title: str,
        *,
        members: list[int] | tuple[int, ...] = (),
        with_bot: bool = True,
        token: str | None = None,
        group_id: int | None = None,
        chat_type: str = "supergroup",
        creator: int | None = None,
        username: str | None = None,
    ) -> dict:
        """Create a group; ``creator`` (default: first member) owns it, the bot joins as admin."""
        world = self.world
        if chat_type not in ("group", "supergroup"):
            raise SandboxError(400, "chat_type must be 'group' or 'supergroup'")
        if group_id is None:
            group_id = world.new_group_id()
        if group_id >= 0:
            raise SandboxError(400, "group ids must be negative")
        if group_id in world.groups:
            raise SandboxError(409, f"group {group_id} already exists")
        ids = [int(m) for m in members]
        if creator is not None and creator not in ids:
            ids.insert(0, int(creator))
        for uid in ids:
            world.user(uid)
        chat = ChatState(
            id=group_id,
            type=chat_type,
            title=title,
            username=username.lstrip("@") if username else None,
        )
        owner = creator if creator is not None else (ids[0] if ids else None)
        for uid in ids:
            chat.members[uid] = "creator" if uid == owner else "member"
        world.groups[group_id] = chat
        if with_bot:
            self.add_bot(group_id, token=token, by=owner)
        return world.chat_info(chat)

    def upgrade_group(
        self, chat_id: int, *, new_id: int | None = None, by: int | None = None
    ) -> dict:
        """A basic group becomes a supergroup, as Telegram does it: a new chat with a new id
        (-100...), the same title, members and bots; the old group keeps its history but every
        Bot API call to it answers 400 with ``parameters.migrate_to_chat_id``. The bots get a
        service message in each: ``migrate_to_chat_id`` in the old, ``migrate_from_chat_id``
        in the new. Returns the new chat."""
        world = self.world
        old = world.group(chat_id)
        if old.type != "group" or old.migrated_to is not None:
            raise SandboxError(400, f"{chat_id} is not a basic group that can be upgraded")
        if new_id is None:
            new_id = world.new_group_id()
        if new_id in world.groups or not str(new_id).startswith("-100"):
            raise SandboxError(400, f"bad or taken supergroup id {new_id}")
        new = ChatState(id=new_id, type="supergroup", title=old.title, username=old.username)
        new.members = dict(old.members)
        new.bots = dict(old.bots)
        world.groups[new_id] = new
        actor = world.actor(old, by, world.bot().user())
        told = world.new_message(old, actor, {"migrate_to_chat_id": new_id}, outgoing=False)
        world.deliver_to_group(old, told, None)
        old.migrated_to = new_id
        world.touch(old)
        moved = world.new_message(new, actor, {"migrate_from_chat_id": old.id}, outgoing=False)
        world.deliver_to_group(new, moved, None)
        return world.chat_info(new)

    def add_member(self, chat_id: int, user_id: int, *, by: int | None = None) -> dict:
        """A user joins (or is added by ``by``): a ``new_chat_members`` service message."""
        world = self.world
        chat = world.group(chat_id)
        user = dict(world.user(user_id))
        old = chat.members.get(user["id"], "left")
        if old in ACTIVE_STATUSES:
            raise SandboxError(400, f"user {user_id} is already a member of {chat_id}")
        chat.members[user["id"]] = "member"
        actor = dict(world.user(by)) if by is not None else user
        self._member_update(chat, actor, user, old, "member")
        msg = world.new_message(chat, actor, {"new_chat_members": [user]}, outgoing=False)
        return world.deliver_to_group(chat, msg, None)

    def remove_member(self, chat_id: int, user_id: int, *, by: int | None = None) -> dict:
        """A user leaves (or is removed by ``by``): a ``left_chat_member`` service message."""
        world = self.world
        chat = world.group(chat_id)
        user = dict(world.user(user_id))
        old = chat.members.get(user["id"], "left")
        if old not in ACTIVE_STATUSES:
            raise SandboxError(400, f"user {user_id} is not a member of {chat_id}")
        chat.members[user["id"]] = "left"
        actor = dict(world.user(by)) if by is not None else user
        self._member_update(chat, actor, user, old, "left")
        msg = world.new_message(chat, actor, {"left_chat_member": user}, outgoing=False)
        return world.deliver_to_group(chat, msg, None)

    def _member_update(self, chat: ChatState, actor: dict, user: dict, old: str, new: str) -> None:
        # chat_member updates go only to admin bots that asked for them (Bot API rule).
        world = self.world
        for bot in world.group_bots(chat):
            if chat.bots[bot.token] == "administrator":
                world.enqueue(
                    bot,
                    "chat_member",
                    {
                        "chat": world.chat_obj(chat),
                        "from": actor,
                        "date": world.now(),
                        "old_chat_member": chat_member(user, old),
                        "new_chat_member": chat_member(user, new),
                    },
                )

    def add_bot(
        self,
        chat_id: int,
        *,
        token: str | None = None,
        by: int | None = None,
        admin: bool = True,
    ) -> dict:
        """Add the bot to a group (as admin by default): ``my_chat_member`` + service message."""
        world = self.world
        chat = world.group(chat_id)
        bot = world.bot(token)
        old = chat.bots.get(bot.token, "left")
        if old in ACTIVE_STATUSES:
            raise SandboxError(400, f"bot is already a member of {chat_id}")
        new = "administrator" if admin else "member"
        chat.bots[bot.token] = new
        actor = world.actor(chat, by, bot.user())
        self._my_chat_member(bot, chat, actor, old, new)
        msg = world.new_message(chat, actor, {"new_chat_members": [bot.user()]}, outgoing=False)
        return world.deliver_to_group(chat, msg, bot.token)

    def remove_bot(self, chat_id: int, *, token: str | None = None, by: int | None = None) -> dict:
        """Remove the bot from a group (it gets ``my_chat_member`` left)."""
        world = self.world
        chat = world.group(chat_id)
        bot = world.bot(token)
        old = chat.bots.get(bot.token, "left")
        if old not in ACTIVE_STATUSES:
            raise SandboxError(400, f"bot is not a member of {chat_id}")
        return self.bot_leaves(bot, chat, world.actor(chat, by, bot.user()))

    def bot_leaves(self, bot: BotState, chat: ChatState, actor: dict) -> dict:
        """The bot is out of the group (removed, or it called leaveChat)."""
        world = self.world
        old = chat.bots[bot.token]
        chat.bots[bot.token] = "left"
        self._my_chat_member(bot, chat, actor, old, "left")
        msg = world.new_message(chat, actor, {"left_chat_member": bot.user()}, outgoing=False)
        return world.deliver_to_group(chat, msg, None)

    def _my_chat_member(
        self, bot: BotState, chat: ChatState, actor: dict, old: str, new: str
    ) -> int | None:
        world = self.world
        return world.enqueue(
            bot,
            "my_chat_member",
            {
                "chat": world.chat_obj(chat),
                "from": actor,
                "date": world.now(),
                "old_chat_member": chat_member(bot.user(), old),
                "new_chat_member": chat_member(bot.user(), new),
            },
        )

    def block_bot(self, user_id: int, *, token: str | None = None) -> dict:
        """The user blocks the bot: sends then fail with 403, bot gets ``my_chat_member``."""
        world = self.world
        bot = world.bot(token)
        chat = world.private_chat(bot, user_id)
        if not chat.blocked:
            chat.blocked = True
            self._my_chat_member(bot, chat, dict(world.users[user_id]), "member", "kicked")
            world.touch(chat)
        return world.chat_info(chat)

    def unblock_bot(self, user_id: int, *, token: str | None = None) -> dict:
        world = self.world
        bot = world.bot(token)
        chat = world.private_chat(bot, user_id)
        if chat.blocked:
            chat.blocked = False
            self._my_chat_member(bot, chat, dict(world.users[user_id]), "kicked", "member")
            world.touch(chat)
        return world.chat_info(chat)
