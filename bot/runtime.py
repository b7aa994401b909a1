"""The long-lived objects every update needs, handed to handlers through a typed context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from bot.clock import Clock, local_day
from bot.config import Settings
from bot.db import Database

if TYPE_CHECKING:
    from bot.i18n import Gettext
    from bot.services.people import Roles

# A person's chat menu for who they are now, as the channel's own opaque data (Telegram: a
# reply keyboard or its removal, as JSON); None where the channel has no such thing.
MenuOf = Callable[["Roles", "Gettext"], dict[str, Any] | None]


def _no_menu(_roles: Roles, _gettext: Gettext) -> dict[str, Any] | None:
    return None


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    # Called after a commit that wrote outbox rows, so the dispatcher sends them at once.
    wake_outbox: Callable[[], None] = field(default=lambda: None)
    # Set by the channel (handlers/app.py): a message that changes someone's role brings the
    # menu of their new role at once, not at their next /help.
    menu_of: MenuOf = field(default=_no_menu)

    @property
    def default_language(self) -> str:
        return self.settings.i18n.default_language

    @property
    def timezone(self) -> str:
        return self.settings.i18n.timezone

    def today(self) -> date:
        """Today's date in the community's time zone."""
        return local_day(self.clock.now(), self.timezone)
