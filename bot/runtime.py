"""The long-lived objects every update needs, handed to handlers through a typed context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from bot.clock import Clock, local_day
from bot.config import Settings
from bot.db import Database


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    # Called after a commit that wrote outbox rows, so the dispatcher sends them at once.
    wake_outbox: Callable[[], None] = field(default=lambda: None)

    @property
    def default_language(self) -> str:
        return self.settings.i18n.default_language

    @property
    def timezone(self) -> str:
        return self.settings.i18n.timezone

    def today(self) -> date:
        """Today's date in the community's time zone."""
        return local_day(self.clock.now(), self.timezone)
