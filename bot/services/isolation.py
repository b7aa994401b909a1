"""Home isolation (包保): whether a household is isolating on a given day, and telling it. Staff
set the date (bot/services/care.py); an order placed while it lasts is doorstep-only and
priority (bot/services/orders/drafts.py). The household is told, kindly, when it starts, when
it ends, and on its order form (handlers/ordering.py), where a hand-over it chose is replaced."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, Gettext
from bot.runtime import Runtime
from bot.services.messages import tell
from models import Resident

STARTED = N_(
    "🏠 The community has noted that your household is in home isolation until {month}/{day}. "
    "Until then volunteers will knock and leave your orders at your door instead of handing "
    "them over, to keep everyone safe, and your orders come first. Take care, and tell us if "
    "you need anything."
)
ENDED = N_(
    "🏠 Your home isolation has ended. Volunteers can hand your orders to you in person again "
    "if you choose."
)
ON_THE_FORM = N_(
    "🏠 You are in home isolation until {month}/{day}, so the volunteer will knock and leave "
    "it at your door (not hand it over in person)."
)

ON_MY_PAGE = N_(
    "🏠 Home isolation until {month}/{day}: volunteers knock and leave your orders at your "
    "door, to keep everyone safe."
)


def isolating(until: date | None, today: date) -> bool:
    """A household in home isolation today: its orders are doorstep-only and priority."""
    return until is not None and until >= today


def on_the_form(until: date, _: Gettext) -> str:
    return _(ON_THE_FORM).format(month=until.month, day=until.day)


def on_my_page(until: date, _: Gettext) -> str:
    return _(ON_MY_PAGE).format(month=until.month, day=until.day)


async def tell_household(
    rt: Runtime, session: AsyncSession, r: Resident, until: date | None, before: date | None
) -> None:
    """Staff changed the household's isolation: it hears what that changes for its orders
    (nothing when the change makes no difference to it today)."""
    today = rt.today()
    if r.forgotten_at is not None or r.telegram_id is None or until == before:
        return
    if until is not None and until >= today:
        month, day = until.month, until.day
        await tell(rt, session, r.telegram_id, lambda _: _(STARTED).format(month=month, day=day))
    elif isolating(before, today):
        await tell(rt, session, r.telegram_id, lambda _: _(ENDED))
