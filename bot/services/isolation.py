"""Home isolation (包保): whether a household is isolating on a given day. Staff set the date
(bot/services/care.py); an order placed while it lasts is doorstep-only and priority
(bot/services/orders/drafts.py), and nobody is told why."""

from __future__ import annotations

from datetime import date


def isolating(until: date | None, today: date) -> bool:
    """A household in home isolation today: its orders are doorstep-only and priority."""
    return until is not None and until >= today
