"""PTB persistence backed by our database: conversation states and each person's scratch data
(the form in progress). The inbox processor flushes it after every update, so a restart
resumes a half-filled form where it was (STYLE 4)."""

from __future__ import annotations

import json
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput

from bot.chat_state import ChatStateStore

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
