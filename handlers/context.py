"""A typed CallbackContext: services reach handlers through it, not through globals."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.runtime import Runtime

RUNTIME_KEY = "runtime"


class AppContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB ``examples/contexttypesbot.py``: the context every callback receives."""

    @property
    def rt(self) -> Runtime:
        return self.application.bot_data[RUNTIME_KEY]


AppType = Application[ExtBot[None], AppContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any]
