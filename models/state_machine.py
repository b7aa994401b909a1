"""The order state machine as data: each allowed transition and who may make it.

Services consult this table before a change; the conditional UPDATE that follows checks that the
order is still in the state the transition starts from (DESIGN rule 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from models.enums import Actor, OrderStatus

S = OrderStatus
R, V, ST, SYS = Actor.RESIDENT, Actor.VOLUNTEER, Actor.STAFF, Actor.SYSTEM


@dataclass(frozen=True)
class Rule:
    actors: frozenset[Actor]
    needs_reason: frozenset[Actor] = frozenset()


def _rule(*actors: Actor, reason: tuple[Actor, ...] = ()) -> Rule:
    return Rule(frozenset(actors), frozenset(reason))


TRANSITIONS: dict[tuple[OrderStatus, OrderStatus], Rule] = {
    # The forward path, run by the volunteer who claimed the order.
    (S.OPEN, S.CLAIMED): _rule(V),
    (S.CLAIMED, S.PURCHASING): _rule(V),
    (S.PURCHASING, S.DELIVERING): _rule(V),
    # A task with nothing to buy (a parcel to pick up) goes from taken to on the way; the
    # service checks the kind (bot/services/orders/cards.py `has_purchase`).
    (S.CLAIMED, S.DELIVERING): _rule(V),
    (S.DELIVERING, S.DELIVERED): _rule(V),
    # The resident confirms receipt; staff may close it for someone who cannot press a button,
    # and the system may close it after a quiet period.
    (S.DELIVERED, S.CONFIRMED): _rule(R, ST, SYS),
    # Released: back to open so another volunteer can take it; always with a reason.
    (S.CLAIMED, S.OPEN): _rule(V, ST, SYS, reason=(V, ST, SYS)),
    (S.PURCHASING, S.OPEN): _rule(V, ST, reason=(V, ST)),
    (S.DELIVERING, S.OPEN): _rule(V, ST, reason=(V, ST)),
    # Cancelled: by the resident before delivery, by staff at any time; staff give a reason.
    (S.OPEN, S.CANCELLED): _rule(R, ST, reason=(ST,)),
    (S.CLAIMED, S.CANCELLED): _rule(R, ST, reason=(ST,)),
    (S.PURCHASING, S.CANCELLED): _rule(R, ST, reason=(ST,)),
    (S.DELIVERING, S.CANCELLED): _rule(R, ST, reason=(ST,)),
    (S.DELIVERED, S.CANCELLED): _rule(ST, reason=(ST,)),
    # Unfulfillable (e.g. the drug is out of stock everywhere): with a reason.
    (S.OPEN, S.UNFULFILLABLE): _rule(ST, reason=(ST,)),
    (S.CLAIMED, S.UNFULFILLABLE): _rule(V, ST, reason=(V, ST)),
    (S.PURCHASING, S.UNFULFILLABLE): _rule(V, ST, reason=(V, ST)),
    (S.DELIVERING, S.UNFULFILLABLE): _rule(V, ST, reason=(V, ST)),
}


class TransitionError(Exception):
    """A transition the table does not allow (wrong state, wrong actor, missing reason)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_transition(
    current: OrderStatus, target: OrderStatus, actor: Actor, reason: str | None = None
) -> Rule:
    rule = TRANSITIONS.get((current, target))
    if rule is None:
        raise TransitionError("state", f"{current} -> {target} is not a transition")
    if actor not in rule.actors:
        raise TransitionError("actor", f"{actor} may not move an order {current} -> {target}")
    if actor in rule.needs_reason and not (reason and reason.strip()):
        raise TransitionError("reason", f"{current} -> {target} by {actor} needs a reason")
    return rule
