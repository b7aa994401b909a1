"""Where the payment of what a runner spent stands, in one line for an order's cards (no
import of the order texts, so bot/services/orders/texts.py may include it; the payment path
itself is bot/services/payments.py)."""

from __future__ import annotations

from bot.i18n import Gettext, local_time
from bot.services.amounts import yuan
from bot.services.orders.views import OrderView


def payment_state(o: OrderView, _: Gettext, tz: str) -> str | None:
    """One line on where the payment stands (for a card that wants it), or None: no amount."""
    if not o.amount_spent_fen:
        return None
    amount = yuan(o.amount_spent_fen)
    if o.paid_confirmed_at is not None:
        return _("💰 ¥{amount}: received by the volunteer ({time}).").format(
            amount=amount, time=local_time(o.paid_confirmed_at, tz, "%m-%d %H:%M")
        )
    if o.paid_at is not None:
        return _("💰 ¥{amount}: paid ({time}), waiting for the volunteer to confirm.").format(
            amount=amount, time=local_time(o.paid_at, tz, "%m-%d %H:%M")
        )
    return _("💰 ¥{amount}: not paid yet.").format(amount=amount)
