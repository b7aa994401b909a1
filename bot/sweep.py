"""The one periodic sweep (DESIGN rule 3): timers are rows and columns; this acts on what is due.

Each piece claims its work with a conditional UPDATE (or a unique row) in the same transaction
as the messages it owes, so two sweeps at once, or a restart halfway, fire nothing twice and
lose nothing. PTB's JobQueue runs it every `escalation.sweep_seconds`; tests call `run_once`
after moving the clock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.runtime import Runtime
from bot.services import (
    building_status,
    care_checkins,
    escalation,
    groupbuys,
    notices,
    outbox_health,
    payments,
    phone_handover,
    privacy,
    repeat_sweep,
    reports,
    roster,
)

logger = logging.getLogger(__name__)

Due = Callable[[Runtime], Awaitable[int]]

# What the sweep does, in order; each returns how many things it fired.
PARTS: tuple[tuple[str, Due], ...] = (
    # First: nothing else owed about a phone order reaches a taker who has left.
    ("phone orders handed over", phone_handover.hand_over_due),
    ("escalation", escalation.run_due),
    ("shift reminders", roster.remind_due),
    ("handovers", roster.handover_due),
    ("care check-ins", care_checkins.ask_due),
    ("care alerts", care_checkins.alert_due),
    # Before the repeating orders: an occurrence due now follows the status due now.
    ("building statuses", building_status.apply_due),
    ("scheduled notices", notices.send_due),
    ("group-buy deadlines", groupbuys.close_due),
    ("repeating orders", repeat_sweep.fire_due),
    ("daily summary", reports.summary_due),
    ("payment reminders", payments.remind_due),
    ("delivery alerts", outbox_health.report_due),  # sees what the others owed
    # Last: personal data past [privacy] retention_days (nothing else reads what it removes).
    ("privacy retention", privacy.prune_due),
)


async def run_once(rt: Runtime) -> dict[str, int]:
    fired: dict[str, int] = {}
    for name, part in PARTS:
        try:
            fired[name] = await part(rt)
        except Exception:  # one failing part must not stop the others; next sweep retries
            logger.exception("sweep part %s failed", name)
            fired[name] = 0
    if any(fired.values()):
        rt.wake_outbox()
    return fired
