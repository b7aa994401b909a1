"""Every allowed and every forbidden transition of the order state machine."""

from __future__ import annotations

import itertools

import pytest

from models import TRANSITIONS, Actor, OrderStatus, TransitionError, check_transition

S = OrderStatus
ALLOWED = {
    (S.OPEN, S.CLAIMED): {Actor.VOLUNTEER},
    (S.CLAIMED, S.PURCHASING): {Actor.VOLUNTEER},
    (S.CLAIMED, S.DELIVERING): {Actor.VOLUNTEER},  # nothing to buy (a parcel pick-up)
    (S.PURCHASING, S.DELIVERING): {Actor.VOLUNTEER},
    (S.DELIVERING, S.DELIVERED): {Actor.VOLUNTEER},
    (S.DELIVERED, S.CONFIRMED): {Actor.RESIDENT, Actor.STAFF, Actor.SYSTEM},
    (S.CLAIMED, S.OPEN): {Actor.VOLUNTEER, Actor.STAFF, Actor.SYSTEM},
    (S.PURCHASING, S.OPEN): {Actor.VOLUNTEER, Actor.STAFF},
    (S.DELIVERING, S.OPEN): {Actor.VOLUNTEER, Actor.STAFF},
    (S.OPEN, S.CANCELLED): {Actor.RESIDENT, Actor.STAFF},
    (S.CLAIMED, S.CANCELLED): {Actor.RESIDENT, Actor.STAFF},
    (S.PURCHASING, S.CANCELLED): {Actor.RESIDENT, Actor.STAFF},
    (S.DELIVERING, S.CANCELLED): {Actor.RESIDENT, Actor.STAFF},
    (S.DELIVERED, S.CANCELLED): {Actor.STAFF},
    (S.OPEN, S.UNFULFILLABLE): {Actor.STAFF},
    (S.CLAIMED, S.UNFULFILLABLE): {Actor.VOLUNTEER, Actor.STAFF},
    (S.PURCHASING, S.UNFULFILLABLE): {Actor.VOLUNTEER, Actor.STAFF},
    (S.DELIVERING, S.UNFULFILLABLE): {Actor.VOLUNTEER, Actor.STAFF},
}
NEEDS_REASON = {
    (S.CLAIMED, S.OPEN),
    (S.PURCHASING, S.OPEN),
    (S.DELIVERING, S.OPEN),
    (S.OPEN, S.UNFULFILLABLE),
    (S.CLAIMED, S.UNFULFILLABLE),
    (S.PURCHASING, S.UNFULFILLABLE),
    (S.DELIVERING, S.UNFULFILLABLE),
}
CASES = list(itertools.product(S, S, Actor))


def test_the_table_is_exactly_the_documented_one() -> None:
    assert {k: set(v.actors) for k, v in TRANSITIONS.items()} == ALLOWED


@pytest.mark.parametrize(
    ("current", "target", "actor"), CASES, ids=[f"{c}->{t}-by-{a}" for c, t, a in CASES]
)
def test_transition(current: S, target: S, actor: Actor) -> None:
    allowed = actor in ALLOWED.get((current, target), set())
    if not allowed:
        with pytest.raises(TransitionError) as info:
            check_transition(current, target, actor, reason="a reason")
        assert info.value.code in ("state", "actor")
        return
    rule = check_transition(current, target, actor, reason="a reason")
    assert actor in rule.actors
    reason_needed = (current, target) in NEEDS_REASON or (
        target == S.CANCELLED and actor == Actor.STAFF
    )
    if reason_needed:
        with pytest.raises(TransitionError) as info:
            check_transition(current, target, actor, reason="  ")
        assert info.value.code == "reason"
    else:
        check_transition(current, target, actor)  # no reason needed


@pytest.mark.parametrize("final", [S.CONFIRMED, S.CANCELLED, S.UNFULFILLABLE])
def test_final_states_go_nowhere(final: S) -> None:
    assert final.is_final
    for target, actor in itertools.product(S, Actor):
        with pytest.raises(TransitionError):
            check_transition(final, target, actor, reason="x")
