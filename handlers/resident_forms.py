"""What the resident's two forms (registration and the order form) share: where they keep
their progress in ``user_data``, and how they end when stopped or left (both forget both,
answer a typed /cancel with the main menu, and say so when they time out)."""

from __future__ import annotations

from typing import Any

from bot.i18n import N_
from handlers.conversation_exits import AfterStop, Exits, conversation_exits

REG_KEY = "registration"
DRAFT_KEY = "draft_id"
STEP_KEY = "step"
EDITING_KEY = "editing"

TIMED_OUT = N_(
    "We stopped here because there was no answer for a long time. Nothing was sent. "
    "Send /start or press 📝 Order to begin again."
)


def form_exits(**kw: Any) -> Exits:
    """The exits of a resident's form; ``kw`` as ``conversation_exits`` (its stop, its
    prefix, its hint)."""
    return conversation_exits(
        forget=(REG_KEY, DRAFT_KEY), after_stop=AfterStop.MENU, timed_out=TIMED_OUT, **kw
    )
