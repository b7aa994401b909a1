"""PTB persistence backed by our database: conversation states and each person's scratch data
(the form in progress). The inbox processor flushes it after every update, so a restart
resumes a half-filled form where it was (STYLE 4); and ``refresh``, called before each update,
brings in what another instance on the same database wrote for that update's person, so a
form continues whichever instance takes the next step."""

from __future__ import annotations

import json
from typing import Any

from telegram import Update
from telegram.ext import Application, BasePersistence, ConversationHandler, PersistenceInput

from bot.chat_state import ChatStateStore, StateKey
from handlers.context import AppType

ConversationKey = tuple[int | str, ...]
ConversationDict = dict[ConversationKey, object]
USER = "user"
CONV = "conv"


class DbPersistence(BasePersistence[dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    def __init__(self, store: ChatStateStore) -> None:
        # Only user_data and conversations: bot_data holds live objects (the runtime).
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=True, callback_data=False
            ),
            update_interval=60,
        )
        self.store = store

    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        return {int(k): dict(v) for k, v in (await self.store.load(USER)).items()}

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        await self.store.save(USER, "", str(user_id), data or None)

    async def drop_user_data(self, user_id: int) -> None:
        await self.store.save(USER, "", str(user_id), None)

    async def refresh_user_data(self, user_id: int, user_data: dict[Any, Any]) -> None:
        pass

    async def get_conversations(self, name: str) -> ConversationDict:
        rows = await self.store.load(CONV, name)
        return {tuple(json.loads(k)): state for k, state in rows.items()}

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        await self.store.save(CONV, name, json.dumps(list(key)), new_state)

    # Not kept: chat_data (unused), bot_data (live objects), callback_data (plain strings).
    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        pass

    async def drop_chat_data(self, chat_id: int) -> None:
        pass

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        pass

    async def get_bot_data(self) -> dict[Any, Any]:
        return {}

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        pass

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        pass

    async def get_callback_data(self) -> None:
        return None

    async def update_callback_data(self, data: Any) -> None:
        pass

    async def flush(self) -> None:
        pass


def persistent_conversations(app: AppType) -> list[ConversationHandler[Any]]:
    """The conversations whose states the database keeps, in every handler group."""
    return [
        h
        for group in app.handlers.values()
        for h in group
        if isinstance(h, ConversationHandler) and h.persistent and h.name
    ]


def conversation_key(handler: ConversationHandler[Any], update: Update) -> ConversationKey | None:
    """The key ``handler`` files ``update``'s conversation under (as PTB's own ``_get_key``
    builds it), or None when the update has none for it."""
    chat, user, query = update.effective_chat, update.effective_user, update.callback_query
    key: list[int | str] = []
    if handler.per_chat:
        if chat is None:
            return None
        key.append(chat.id)
    if handler.per_user:
        if user is None:
            return None
        key.append(user.id)
    if handler.per_message:
        if query is None:
            return None
        if query.inline_message_id:
            key.append(query.inline_message_id)
        elif query.message is not None:
            key.append(query.message.message_id)
        else:
            return None
    return tuple(key)


def _state_keys(
    update: Update, handlers: list[ConversationHandler[Any]]
) -> dict[StateKey, tuple[ConversationHandler[Any], ConversationKey]]:
    """The rows of ``update``'s conversations in ``handlers``, keyed as the store keys them."""
    rows: dict[StateKey, tuple[ConversationHandler[Any], ConversationKey]] = {}
    for handler in handlers:
        key = conversation_key(handler, update)
        if key is not None and handler.name:
            rows[(CONV, handler.name, json.dumps(list(key)))] = (handler, key)
    return rows


async def timeout_is_ours(
    app: Application[Any, Any, Any, Any, Any, Any], callback: object, update: Update
) -> bool:
    """In a conversation's timeout (``callback``: the one its TIMEOUT state runs, ``update``:
    the last update this process handled in it): whether this process still holds the
    conversation, that is no other instance wrote its state or the person's scratch data since
    this process last did. Otherwise the person went on at another instance (which keeps its
    own timeout), and this stale one must neither speak nor forget anything: this process lets
    go of the conversation's row, so that the end PTB records after the timeout deletes nothing
    (the row may still be at the version this process wrote: a form's answers all share one
    state, only the scratch data changes). One read."""
    persistence = app.persistence
    if not isinstance(persistence, DbPersistence):
        return True
    owners = [
        h
        for h in persistent_conversations(app)
        if any(t.callback is callback for t in h.states.get(ConversationHandler.TIMEOUT, []))
    ]
    conversation = list(_state_keys(update, owners))
    user = update.effective_user
    person: list[StateKey] = [] if user is None else [(USER, "", str(user.id))]
    if await persistence.store.unchanged(conversation + person):
        return True
    persistence.store.let_go(conversation)
    return False


async def refresh(app: AppType, update: Update) -> None:
    """Before ``app.process_update(update)``: bring this process's copy of the update's
    person (their scratch data) and of their conversations up to date with the database, when
    another instance wrote them since this one last read or wrote them. One read by primary
    key per update (the person's row and one row per persistent conversation); nothing is
    changed in memory when the versions match, as they always do on a single instance.

    PTB offers no public way to set a conversation's state from outside: the conversation's
    own dict (``ConversationHandler._conversations``, which PTB fills from ``get_conversations``
    at start) is written here. A conversation whose state came from elsewhere also loses this
    process's timeout job for it (the instance that took the last step runs its own)."""
    persistence = app.persistence
    if not isinstance(persistence, DbPersistence):
        return
    keys: list[StateKey] = []
    user = update.effective_user
    if user is not None:
        keys.append((USER, "", str(user.id)))
    conversations = _state_keys(update, persistent_conversations(app))
    keys.extend(conversations)
    for state_key, data in (await persistence.store.changed(keys)).items():
        if state_key[0] == USER and user is not None:
            user_data = app.user_data[user.id]
            user_data.clear()
            user_data.update(data or {})
            continue
        handler, key = conversations[state_key]
        states = handler._conversations  # see the docstring
        if data is None:
            states.pop(key, None)
        else:
            states[key] = data
        job = handler.timeout_jobs.pop(key, None)
        if job is not None:
            job.schedule_removal()
