"""A bot's leadership changing hands sends no burst: the instance giving a bot up stops its
duties (the dispatcher's sends answered) while it still holds the lock, and the new leader's
pacer holds the overall budget for a second (what its predecessor sent just before may still
count at Telegram). bench/district.py saw 13 × 429 at handovers before."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.leader import Leadership
from bot.outbox.pacer import Limits, Pacer

if TYPE_CHECKING:
    from tests.postgres import Cluster  # noqa: F401  (the plugin provides its fixtures)


async def test_a_bot_given_up_stops_its_duties_before_its_lock_is_free(pg_url: str) -> None:
    old, new = Leadership(pg_url, "c01"), Leadership(pg_url, "c01")
    seen: list[bool] = []

    async def stop_duties() -> None:
        # Another instance looking now must not get the bot: the sends are still going.
        seen.append(await new.check())

    old.before_release = stop_duties
    try:
        assert await old.check()
        assert not await new.check()
        await old.release()
        assert seen == [False]
        assert not old.leading
        assert await new.check()  # free once the duties stopped
    finally:
        await old.close()
        await new.close()


def test_a_new_leaders_pacer_holds_a_second() -> None:
    t = [100.0]
    pacer = Pacer(Limits(global_per_second=30), now=lambda: t[0])
    assert pacer.global_wait() == 0.0
    pacer.hold(1.0)
    assert pacer.global_wait() == 1.0
    t[0] += 0.6
    assert abs(pacer.global_wait() - 0.4) < 1e-9
    t[0] += 0.4
    assert pacer.global_wait() == 0.0
