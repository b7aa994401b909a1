"""The escalation ladder, as data (DESIGN rule 3): for each phase of an order, the steps taken
while nothing happens, each due a configured time after the order entered that phase.

An order stores only which step is next (`escalation_step`) and when it is due (`escalate_at`).
Every status change starts the ladder of the new phase from its first step; the sweep
(`bot/services/escalation.py`) fires a due step and moves the order to the next one with a
conditional UPDATE, so a step fires once, across restarts and concurrent sweeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import EscalationSection
from models import OrderStatus


@dataclass(frozen=True)
class Step:
    name: str
    # How long after the order entered its phase this step is due, by urgency.
    after: Callable[[EscalationSection, str], timedelta]


OPEN = (
    # Unclaimed: a second ping to those on duty and the grid leader,
    Step("ping_again", lambda c, u: timedelta(minutes=c.wait_limits(u).ping_again_minutes)),
    # then the neighbouring grids and the community staff; anyone in the community may claim.
    Step("community", lambda c, u: timedelta(minutes=c.wait_limits(u).community_minutes)),
)
STALLED = (
    # Claimed but not moving: a reminder to the runner, then the grid leader.
    Step("remind_runner", lambda c, u: timedelta(hours=c.stalled_runner_hours)),
    Step("tell_leader", lambda c, u: timedelta(hours=c.stalled_leader_hours)),
)

LADDER: dict[OrderStatus, tuple[Step, ...]] = {
    OrderStatus.OPEN: OPEN,
    OrderStatus.CLAIMED: STALLED,
    OrderStatus.PURCHASING: STALLED,
    OrderStatus.DELIVERING: STALLED,
}


def steps_for(status: str) -> tuple[Step, ...]:
    return LADDER.get(OrderStatus(status), ())


def due_at(
    cfg: EscalationSection, status: str, urgency: str, since: datetime, step: int = 0
) -> datetime | None:
    """When step number ``step`` of this status's ladder is due, or None past its end."""
    steps = steps_for(status)
    if step >= len(steps):
        return None
    return since + steps[step].after(cfg, urgency)
