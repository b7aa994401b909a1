"""The steps an errand goes through depend on its kind (issue 15): groceries and medicine are
bought, a gas card is topped up, a parcel picked up has nothing to buy, so its runner goes
from taken straight to on the way. The words of each step, for the progress line of the
resident's card and the runner's buttons."""

from __future__ import annotations

from typing import Any

from bot.i18n import N_

ORDERED = N_("Ordered")
TAKEN = N_("Taken")
BOUGHT = N_("Bought")
ON_THE_WAY = N_("On the way")
AT_THE_DOOR = N_("At the door")
FINISHED = N_("Finished")
ENDED = {"cancelled": N_("Cancelled"), "unfulfillable": N_("Not possible")}
# What the purchase step is called for a kind that has one.
PURCHASE_WORD = {"groceries": BOUGHT, "medicine": BOUGHT, "gas": N_("Topped up")}
# Errands of the "other" kind that involve buying something; the rest (a parcel to pick up,
# garbage to take out, a lost item, anything else) have no purchase step.
OTHER_PURCHASES = {"meal": BOUGHT, "print": N_("Printed")}
# The order's statuses in the order of the steps.
FORWARD = ("open", "claimed", "purchasing", "delivering", "delivered", "confirmed")


def purchase_word(category: str, details: dict[str, Any]) -> str | None:
    """The purchase step's word for this kind of errand; None: nothing to buy."""
    if category == "other":
        return OTHER_PURCHASES.get(str(details.get("subtype") or ""))
    return PURCHASE_WORD.get(category, BOUGHT)


def has_purchase(category: str, details: dict[str, Any]) -> bool:
    return purchase_word(category, details) is not None


def steps(category: str, details: dict[str, Any]) -> list[tuple[str, str]]:
    """The (status, word) steps an order of this kind goes through, in order."""
    bought = purchase_word(category, details)
    out = [("open", ORDERED), ("claimed", TAKEN)]
    if bought is not None:
        out.append(("purchasing", bought))
    out += [("delivering", ON_THE_WAY), ("delivered", AT_THE_DOOR), ("confirmed", FINISHED)]
    return out
