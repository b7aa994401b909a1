"""The flood guard limits each person and forgets the people it no longer needs to watch."""

from __future__ import annotations

from handlers.flood_guard import FloodGuard


def test_flood_guard_memory_stays_bounded_over_many_users() -> None:
    guard = FloodGuard(per_minute=20)
    most = 0
    # 10,000 different people, one message each, one every 0.1 s (about 17 minutes).
    for i in range(10_000):
        allowed, _ = guard.allow(1_000_000 + i, now=i * 0.1)
        assert allowed
        most = max(most, guard.tracked())
    # Only the people of the last two windows are remembered (600 a minute here), never all.
    assert most <= 2 * 600 + 1
    assert guard.tracked() <= 2 * 600 + 1
    # Much later, one more message: everyone before is forgotten.
    guard.allow(42, now=10_000.0)
    assert guard.tracked() == 1


def test_flood_guard_still_stops_a_flood_across_pruning() -> None:
    guard = FloodGuard(per_minute=3)
    t = 0.0
    for _ in range(3):
        assert guard.allow(7, t) == (True, False)
        t += 1.0
    assert guard.allow(7, t) == (False, True)  # one friendly warning
    # Others keep arriving and the guard prunes meanwhile; the flooder stays stopped.
    for i in range(200):
        guard.allow(10_000 + i, t + i * 0.2)
    assert guard.allow(7, t + 50.0) == (False, False)
    # Once their minute has passed they may write again.
    assert guard.allow(7, t + 61.0)[0]
