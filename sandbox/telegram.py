"""The emulated Telegram without its HTTP face: it composes the world (bots, users, chats,
messages, updates), membership, what people do, the stored files and the limits and faults,
and offers their operations as one object. Tests in the same event loop play the humans
through it; :class:`sandbox.emulator.Emulator` serves it over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .faults import Faults
from .files import FileStore
from .membership import Membership
from .people import People
from .ratelimit import STRICT_DEFAULT, Limits, scaled_monotonic
from .state import Clock, SystemClock
from .world import World


class Telegram:
    """One emulated Telegram; all state in memory, one instance per test is cheap.

    The operations belong to the parts (``world``, ``membership``, ``people``, ``file_store``,
    ``faults``); the names below hand them out as this object's own, so callers need not know
    which part owns what.

    ``time_scale``: Telegram's flood limits are enforced in emulated time running this many
    times faster than real time (``Telegram(time_scale=20)``: a private chat takes 20 messages
    a real second, ``retry_after`` is in emulated seconds). The bot talking to it must pace
    itself on the same factor (``BotService(..., time_scale=20)``). 1, the default, is real
    Telegram; the fake ``clock`` (message dates) is another thing and is not scaled.
    """

    def __init__(
        self,
        *,
        global_rate: float | None = 30,
        global_window: float = 1.0,
        private_rate: float | None = 1.0,
        private_burst: float = 5,
        group_rate: float | None = 20,
        group_window: float = 60.0,
        strict: bool = STRICT_DEFAULT,
        clock: Clock | None = None,
        time_scale: float = 1.0,
    ) -> None:
        self.limits = Limits(
            global_rate,
            global_window,
            private_rate,
            private_burst,
            group_rate,
            group_window,
            strict,
        )
        self.clock: Clock = clock or SystemClock()
        # Telegram's limits run this many times faster than real time (1: real Telegram); the
        # bot under test must pace itself on the same factor (see sandbox.ratelimit).
        self.time_scale = time_scale
        self.world = world = World(self.clock, self.limits, scaled_monotonic(time_scale))
        self.file_store = files = FileStore()
        self.faults = faults = Faults(world)
        self.membership = membership = Membership(world)
        self.people = people = People(world, files, membership)

        # The world's state, shared (never rebound by its owner).
        self.bots = world.bots
        self.users = world.users
        self.groups = world.groups
        self.private_chats = world.private_chats
        self.callback_queries = world.callback_queries
        self.callback_answers = world.callback_answers
        self.changed = world.changed
        self.listeners = world.listeners
        self.files = files.files
        self.files_by_path = files.files_by_path

        # Bots, users, chats and reading them (the world).
        self.now = world.now
        self.register_bot = world.register_bot
        self.bot = world.bot
        self.create_user = world.create_user
        self.user = world.user
        self.chat_obj = world.chat_obj
        self.chat_info = world.chat_info
        self.private_chat = world.private_chat
        self.group = world.group
        self.chat = world.chat
        self.chat_for_bot = world.chat_for_bot
        self.touch = world.touch
        self.new_message = world.new_message
        self.enqueue = world.enqueue
        self.redeliver = world.redeliver
        self.messages = world.messages
        self.updates_log = world.updates_log
        self.wait_for = world.wait_for
        self.wait_callback_answer = world.wait_callback_answer
        self.wait_chat_change = world.wait_chat_change
        self.stats = world.stats
        self.reset_stats = world.reset_stats

        # Who is in which chat.
        self.create_group = membership.create_group
        self.upgrade_group = membership.upgrade_group
        self.add_member = membership.add_member
        self.remove_member = membership.remove_member
        self.add_bot = membership.add_bot
        self.remove_bot = membership.remove_bot
        self.block_bot = membership.block_bot
        self.unblock_bot = membership.unblock_bot

        # What the humans do.
        self.send_text = people.send_text
        self.send_contact = people.send_contact
        self.send_photo = people.send_photo
        self.send_document = people.send_document
        self.send_voice = people.send_voice
        self.send_sticker = people.send_sticker
        self.send_location = people.send_location
        self.press = people.press

        # Files.
        self.store_file = files.store_file
        self.media_object = files.media_object
        self.file_bytes = files.file_bytes

        # Limits and faults.
        self.set_limits = faults.set_limits
        self.reset_limits_state = faults.reset_limits_state
        self.fail_next = faults.fail_next
        self.fail_every = faults.fail_every
        self.outage = faults.outage
        self.end_outage = faults.end_outage
        self.stall = faults.stall
        self.release = faults.release

    @property
    def default_token(self) -> str | None:
        return self.world.default_token

    @property
    def stalled_calls(self) -> int:
        """Calls ever held by a stall (tests wait for the first)."""
        return self.faults.stalled_calls

    @property
    def webhook_retry_delay(self) -> float:
        """Seconds between webhook delivery retries after a non-2xx answer."""
        return self.world.updates.retry_delay

    @webhook_retry_delay.setter
    def webhook_retry_delay(self, seconds: float) -> None:
        self.world.updates.retry_delay = seconds

    @property
    def webhook_latency(self) -> Callable[[dict[str, Any]], float] | None:
        """Seconds each update's webhook POST takes to set off (its connection's latency)."""
        return self.world.updates.latency

    @webhook_latency.setter
    def webhook_latency(self, latency: Callable[[dict[str, Any]], float] | None) -> None:
        self.world.updates.latency = latency

    @property
    def closing(self) -> bool:
        return self.world.closing

    def reset(self) -> None:
        """Forget everything except the limits (bots, users, chats, files, updates)."""
        self.faults.reset()
        self.file_store.reset()
        self.world.reset()
