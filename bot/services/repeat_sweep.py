"""The sweep's part of repeating errands (issue 16): each active repeat whose time has come
makes its order, exactly once (DESIGN rules 2 and 3): the occurrence is claimed with a
conditional UPDATE that moves ``next_due_at`` from the due time read to the next one, and the
order is created in the same transaction; a second sweep (another instance, or after a
restart) finds the time moved and does nothing. One missed while the bot was down is made late,
once; older missed ones are skipped, so a long outage never floods the grid with a backlog."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import affected_rows
from bot.errors import Refused
from bot.i18n import Gettext
from bot.runtime import Runtime
from bot.services import alerts, phone_orders, residents, scope
from bot.services.messages import Render, tell
from bot.services.orders import drafts, form, household_cap, texts
from bot.services.repeats import FAILED, FAILURES_TO_PAUSE, LATE_AFTER, Rule, next_due, rule_text
from models import Building, Grid, Order, OrderDraft, Recipient, Repeat, Resident

logger = logging.getLogger(__name__)


async def fire_due(rt: Runtime) -> int:
    """The sweep's part: each active repeat whose time has come makes its order, once."""
    now = rt.clock.now()
    async with rt.db.read() as s:
        due = (
            await s.execute(
                select(Repeat.id, Repeat.next_due_at).where(
                    Repeat.status == "active", Repeat.next_due_at <= now
                )
            )
        ).all()
    fired = 0
    for repeat_id, due_at in due:
        if due_at is None:
            continue
        async with rt.db.session() as s:
            if await _fire(rt, s, repeat_id, due_at):
                fired += 1
    return fired


async def _failures(session: AsyncSession, r: Repeat) -> int:
    """Occurrences in a row, latest first, that were cancelled or could not be done (since it
    was last resumed)."""
    since = [] if r.resumed_at is None else [Order.created_at >= r.resumed_at]
    statuses = await session.scalars(
        select(Order.status)
        .where(Order.repeat_id == r.id, *since)
        .order_by(Order.id.desc())
        .limit(FAILURES_TO_PAUSE)
    )
    n = 0
    for st in statuses:
        if st not in FAILED:
            break
        n += 1
    return n


async def _fire(rt: Runtime, session: AsyncSession, repeat_id: int, due_at: datetime) -> bool:
    r = await session.get(Repeat, repeat_id)
    if r is None or r.status != "active" or r.next_due_at != due_at:
        return False
    now = rt.clock.now()
    resident = await session.get(Resident, r.resident_id)
    assert resident is not None
    rule = Rule(r.kind, r.weekday, r.monthday)
    nxt = next_due(rule, r.at_time, now, rt.timezone, r.ends_on)
    sweep_every = rt.settings.escalation.sweep_seconds
    failures = await _failures(session, r)
    # A household without Telegram (registered by staff): each occurrence is a phone order of
    # the staff member who set the repeat up, and they are told what the household would be.
    by_phone = resident.telegram_id is None
    tid = resident.telegram_id or r.created_by
    gone = resident.forgotten_at is not None
    if r.recipient_id is not None:
        who = await session.get(Recipient, r.recipient_id)
        gone = gone or who is None or who.removed
    # A phone repeat whose staff member can no longer take this household's orders (they left
    # the staff, or their grid changed): paused, and the staff covering it are told; the one
    # who set it up is not (the household's name and phone are no longer theirs to see).
    orphaned = (
        by_phone and not gone and not await phone_orders.reaches(session, r.created_by, resident.id)
    )
    status = "stopped" if gone else "paused" if failures >= FAILURES_TO_PAUSE or orphaned else None
    status = status or ("active" if nxt is not None else "ended")
    # The claim (DESIGN rule 2): this occurrence is ours only if its time is still the one
    # read; a second sweep finds it moved and makes nothing.
    claimed = await affected_rows(
        session,
        update(Repeat)
        .where(Repeat.id == r.id, Repeat.status == "active", Repeat.next_due_at == due_at)
        .values(
            next_due_at=nxt if status == "active" else None,
            status=status,
            last_fired_at=now,
            updated_at=now,
            consecutive_failures=failures,
        )
        .execution_options(synchronize_session=False),
    )
    if claimed != 1:
        return False
    if gone:
        return False
    if orphaned:
        await _paused_for_its_staff(rt, session, r, resident)
        return False
    whose = await _household(session, resident) if by_phone else ""
    if failures >= FAILURES_TO_PAUSE:
        await _paused_for_failures(rt, session, r, tid, whose)
        return False
    try:
        await household_cap.check(rt, session, resident.id, by_phone=by_phone)
    except Refused:
        await tell(rt, session, tid, _not_placed(r, whose, full=True))
        return False
    d = OrderDraft(
        resident_id=r.resident_id,
        recipient_id=r.recipient_id,
        **drafts.answers_from(r),
        entered_by=r.created_by if by_phone else None,
        created_at=now,
        updated_at=now,
    )
    if form.stale_window(
        {"urgency": r.urgency, "time_window": r.time_window}, drafts.local_clock(rt)
    ):
        d.time_window = "any"  # a window of today that has ended (the repeat's time is later)
    session.add(d)
    await session.flush()
    # The same path as a resident's own order: cap, routing, escalation, the live card.
    try:
        await drafts.submit_draft(
            rt,
            session,
            d.id,
            tid,
            repeat_id=r.id,
            late=now - due_at > max(LATE_AFTER, timedelta(seconds=2 * sweep_every)),
        )
    except Refused:
        # Refused before any order was written: this occurrence is skipped (its claim stays,
        # so it is not retried every sweep) and the household told.
        logger.warning("repeat %s: occurrence refused, skipped", r.id)
        await session.delete(d)
        await tell(rt, session, tid, _not_placed(r, whose, full=False))
        return False
    return True


async def _paused_for_its_staff(
    rt: Runtime, session: AsyncSession, r: Repeat, resident: Resident
) -> None:
    """The staff covering the household's building are alerted (no name or room: they find it
    in /repeats, where ▶️ makes it theirs)."""
    b = await session.get(Building, resident.building_id)
    assert b is not None
    g = await session.get(Grid, b.grid_id)
    assert g is not None
    rule = Rule(r.kind, r.weekday, r.monthday)
    await alerts.alert(
        rt,
        session,
        await scope.staff_covering(session, g.community_id, g.id),
        lambda _: _(
            "⏸ Repeating order R{id} ({title}, {rule}), a phone order, was paused: the staff "
            "member who set it up no longer takes this household's orders. To go on with it, "
            "resume it in /repeats: its orders then come to you."
        ).format(id=r.id, title=_(texts.CATEGORY[r.category]), rule=rule_text(rule, r.at_time, _)),
        kind="repeat_paused",
        resident_id=r.resident_id,
    )


async def _household(session: AsyncSession, resident: Resident) -> str:
    """Whose repeat, as told to the staff member who set it up (their private chat only)."""
    info = await residents.get_by_id(session, resident.id)
    return f"{resident.name}，{info.address}" if info is not None else resident.name


def _not_placed(r: Repeat, who: str, *, full: bool) -> Render:
    """This occurrence was not placed: the household had the most orders under way (``full``)
    or the order was refused; told to the household, or to whoever set up a phone repeat."""
    rule = Rule(r.kind, r.weekday, r.monthday)

    def render(_: Gettext) -> str:
        what = {"title": _(texts.CATEGORY[r.category]), "rule": rule_text(rule, r.at_time, _)}
        if who and full:
            text = _(
                "🔁 The repeating order R{id} you set up for {who} ({title}, {rule}) was not "
                "placed this time: the household already has the most orders under way."
            )
        elif who:
            text = _(
                "🔁 The repeating order R{id} you set up for {who} ({title}, {rule}) could not "
                "be placed this time. Please take it with 📞 Order by phone."
            )
        elif full:
            text = _(
                "🔁 Your repeating order ({title}, {rule}) was not placed this time: you "
                "already have the most orders under way."
            )
        else:
            text = _(
                "🔁 Your repeating order ({title}, {rule}) could not be placed this time. "
                "Please order it with 📝 Order."
            )
        return text.format(id=r.id, who=who, **what)

    return render


async def _paused_for_failures(
    rt: Runtime, session: AsyncSession, r: Repeat, tid: int, who: str
) -> None:
    """Three occurrences in a row cancelled or not done: paused; the household (or whoever set
    up a phone repeat) and the staff covering its building are told (staff alerts carry no
    name or room: they look it up)."""
    rule = Rule(r.kind, r.weekday, r.monthday)
    if not who:
        await tell(
            rt,
            session,
            tid,
            lambda _: _(
                "⏸ Your repeating order ({title}, {rule}) is paused: its last three orders were "
                "cancelled or could not be done. Resume it in 📋 My orders."
            ).format(title=_(texts.CATEGORY[r.category]), rule=rule_text(rule, r.at_time, _)),
        )
    last = await session.scalar(
        select(Order).where(Order.repeat_id == r.id).order_by(Order.id.desc()).limit(1)
    )
    if last is None:
        return
    staff = await scope.staff_covering(session, last.community_id, last.grid_id)
    if who:
        staff = list(dict.fromkeys([*staff, tid]))  # the one who set it up hears it too
    await alerts.alert(
        rt,
        session,
        staff,
        lambda _: _(
            "⏸ Repeating order R{id} ({title}, {rule}) was paused: its last three orders (the "
            "latest #{order}) were cancelled or could not be done. Please check on the household."
        ).format(
            id=r.id,
            title=_(texts.CATEGORY[r.category]),
            rule=rule_text(rule, r.at_time, _),
            order=last.id,
        ),
        kind="repeat_paused",
        order_id=last.id,
        resident_id=r.resident_id,
    )
