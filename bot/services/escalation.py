"""Escalation: the sweep fires the due steps of the ladder (`bot/services/ladder.py`).

Each step is one transaction: a conditional UPDATE moves the order to its next step (judged by
the row count, so two sweeps at once fire it once), an audit row records it, and the messages
it owes are written to the outbox. A crash before the commit fires it on the next sweep; after
the commit it is never fired again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.buttons import Rows
from bot.db import affected_rows
from bot.i18n import N_, Gettext, gettext_for
from bot.runtime import Runtime
from bot.services import alerts, ladder, scope, waiting
from bot.services.messages import tell
from bot.services.orders import routing, texts, views
from models import Actor, Grid, Order, OrderEvent, OrderPost

logger = logging.getLogger(__name__)

BATCH = 200  # orders looked at per sweep; the rest wait for the next one


async def run_due(rt: Runtime) -> int:
    """Fire every escalation step that is due; returns how many fired."""
    now = rt.clock.now()
    async with rt.db.read() as s:
        due = list(
            await s.scalars(
                select(Order.id)
                .where(Order.escalate_at.is_not(None), Order.escalate_at <= now)
                .order_by(Order.escalate_at)
                .limit(BATCH)
            )
        )
    fired = 0
    for order_id in due:
        try:
            async with rt.db.session() as s:
                fired += await fire(rt, s, order_id, now)
        except Exception:  # one bad order must not hold up the others
            logger.exception("escalating order %s failed", order_id)
    return fired


async def fire(rt: Runtime, session: AsyncSession, order_id: int, now: datetime) -> bool:
    """Fire the order's next step if it is due; False if it is not (or someone else did)."""
    o = await views.load(session, order_id)
    if o is None or o.escalate_at is None or o.escalate_at > now:
        return False
    steps = ladder.steps_for(o.status)
    number = o.escalation_step
    cfg = rt.settings.escalation
    values: dict[str, object] = {
        "escalation_step": number + 1,
        # Later steps count from when the order entered this status, like the first.
        "escalate_at": ladder.due_at(cfg, o.status, o.urgency, o.updated_at, number + 1),
    }
    step = steps[number] if number < len(steps) else None
    if step is not None and step.name == "community":
        values["community_wide_at"] = now
    stepped = await affected_rows(
        session,
        update(Order)
        .where(
            Order.id == o.id,
            Order.status == o.status,
            Order.escalation_step == number,
            Order.escalate_at.is_not(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False),
    )
    if stepped != 1 or step is None:
        return False
    session.add(
        OrderEvent(
            order_id=o.id,
            actor=Actor.SYSTEM,
            from_status=o.status,
            to_status=o.status,
            note=f"escalation: {step.name}",
            at=now,
        )
    )
    waited = max(1, int((now - o.updated_at).total_seconds() // 60))
    await ACTIONS[step.name](rt, session, o, waited)
    # The resident of an unclaimed order hears what was done, in the same transaction.
    await waiting.tell_resident(rt, session, o, step.name, waited)
    return True


_waited = waiting.waited


async def _ping_again(rt: Runtime, session: AsyncSession, o: Order, waited: int) -> None:
    """Unclaimed for a while: everyone on duty in the grid and the grid leader hear it again
    (the community staff, if the grid has neither)."""
    v = views.view(o)
    targets = await routing.on_duty_by_load(session, o.grid_id)
    targets += await scope.grid_leaders(session, o.grid_id)
    if not targets:
        targets = await scope.staff_covering(session, o.community_id, o.grid_id)

    def render(_: Gettext) -> tuple[str, Rows]:
        text, rows = texts.group_post(v, _, rt.timezone)
        head = _("⏰ Still waiting for a volunteer after {waited}. Can you take it?")
        return head.format(waited=_waited(waited, _)) + "\n" + text, rows

    await tell(rt, session, targets, render)


async def _community(rt: Runtime, session: AsyncSession, o: Order, waited: int) -> None:
    """Still unclaimed: posted in the other grids' groups of the community, where anyone may
    take it, and the community staff are told."""
    v = views.view(o)
    _g = gettext_for(rt.default_language)
    text, rows = texts.group_post(v, _g, rt.timezone)
    head = _g(N_("📣 From {grid}, waiting {waited}: any volunteer of the community may take it."))
    text = head.format(grid=o.grid.name, waited=_waited(waited, _g)) + "\n" + text
    neighbours = await session.scalars(
        select(Grid.group_chat_id)
        .where(
            Grid.community_id == o.community_id,
            Grid.id != o.grid_id,
            Grid.group_chat_id.is_not(None),
        )
        .order_by(Grid.id)
    )
    for chat_id in neighbours:
        if chat_id is None:  # excluded by the query; narrows the type for enqueue
            continue
        post = outbox.enqueue(
            session, rt.clock, chat_id=chat_id, text=text, buttons=rows, is_group=True
        )
        await session.flush()
        session.add(OrderPost(order_id=o.id, outbox_id=post.id))
    staff = await scope.staff_covering(session, o.community_id, o.grid_id)

    def render(_: Gettext) -> tuple[str, Rows]:
        msg = _(
            "⚠️ Task #{id} in {grid} has had no volunteer for {waited}. It is now open to "
            "the whole community; you can take it too if you run errands."
        )
        return msg.format(id=o.id, grid=o.grid.name, waited=_waited(waited, _)), rows

    await alerts.alert(rt, session, staff, render, kind=alerts.UNCLAIMED, order_id=o.id)


async def _remind_runner(rt: Runtime, session: AsyncSession, o: Order, waited: int) -> None:
    v = views.view(o)
    if v.volunteer_telegram_id is None:
        return

    def render(_: Gettext) -> tuple[str, Rows]:
        text, rows = texts.runner_card(v, _, rt.timezone)
        head = _(
            "⏰ Task #{id} has not moved for {waited}. Please move it on with the buttons, "
            "or give it back if you cannot finish it."
        )
        return head.format(id=v.id, waited=_waited(waited, _)) + "\n\n" + text, rows

    await tell(rt, session, [v.volunteer_telegram_id], render)


async def _tell_leader(rt: Runtime, session: AsyncSession, o: Order, waited: int) -> None:
    v = views.view(o)
    targets = await scope.grid_leaders(session, o.grid_id)
    if not targets:
        targets = await scope.staff_covering(session, o.community_id, o.grid_id)

    def render(_: Gettext) -> tuple[str, Rows]:
        msg = _(
            "⚠️ Task #{id} ({place}) has not moved for {waited}: {status}, run by {name}. "
            "Please check with them."
        )
        return msg.format(
            id=v.id,
            place=f"{v.compound} {v.building}",
            waited=_waited(waited, _),
            status=_(texts.STATUS[v.status]),
            name=v.volunteer_name,
        ), []

    await alerts.alert(rt, session, targets, render, kind=alerts.STALLED, order_id=o.id)


Action = Callable[[Runtime, AsyncSession, Order, int], Awaitable[None]]
ACTIONS: dict[str, Action] = {
    "ping_again": _ping_again,
    "community": _community,
    "remind_runner": _remind_runner,
    "tell_leader": _tell_leader,
}
