"""Routing: who is told of a task, and what its grid's group shows of it.

A new (or released) task is posted in its grid's group, folded into a post still waiting
there when the group's message budget is short (DESIGN rule 4), and sent privately to the
volunteers on duty, least loaded first (the grid leaders when nobody is on duty). As the task
moves on, its posts (its own grid's, and the neighbours' once it escalated) collapse to one
line; a group upgraded to a supergroup gets its open tasks posted again. Group posts never
show a contact detail (rule 6, `texts`).
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.buttons import Rows, to_json
from bot.db import affected_rows
from bot.i18n import N_, Gettext, gettext_for
from bot.limits import TEXT_LIMIT, tg_len
from bot.runtime import Runtime
from bot.services import scope
from bot.services.messages import tell
from bot.services.orders import texts
from bot.services.orders.views import LOAD, RUNNING, OrderView, load, view
from models import (
    Grid,
    Order,
    OrderPost,
    OrderStatus,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Volunteer,
    VolunteerStatus,
)

S = OrderStatus
NOBODY_ON_DUTY = N_("Nobody is on duty in this grid right now.")


async def post_to_group(rt: Runtime, session: AsyncSession, o: Order) -> None:
    """Announce the task in its grid's group chat (no private details), and send it
    privately to the volunteers on duty there, least loaded first; urgent medicine to all of
    them. With nobody on duty, the grid leader hears of it."""
    v = view(o)
    if v.group_chat_id is not None:
        _ = gettext_for(rt.default_language)
        post = await _fold_into_waiting_post(rt, session, o)
        if post is None:
            text, rows = texts.group_post(v, _, rt.timezone)
            post = outbox.enqueue(
                session, rt.clock, chat_id=v.group_chat_id, text=text, buttons=rows, is_group=True
            )
            await session.flush()
        o.group_post_id = post.id
    on_duty = await on_duty_by_load(session, o.grid_id)
    everyone = v.urgency == "urgent" and v.category == "medicine"
    targets = on_duty if everyone else on_duty[: rt.settings.limits.duty_pings]
    note = None
    if not targets:
        targets = await scope.grid_leaders(session, o.grid_id)
        note = NOBODY_ON_DUTY

    def ping(_: Gettext) -> tuple[str, Rows]:
        text, rows = texts.group_post(v, _, rt.timezone)
        return ("⚠️ " + _(note) + "\n" + text if note else text), rows

    await tell(rt, session, targets, ping)


# The most open tasks one folded post holds: a readable screen, well under Telegram's 100
# buttons and 4096 characters.
MAX_FOLDED = 24


async def _fold_into_waiting_post(
    rt: Runtime, session: AsyncSession, o: Order
) -> OutboxMessage | None:
    """If a post of new tasks is still waiting to go to this grid's group (its budget of 20
    messages a minute is spent), add this task to it rather than queue one post more (DESIGN
    rule 4). The dispatcher re-reads a row as it leases it, and this UPDATE only touches a row
    still pending, so the task is either in the post that goes out or in a post of its own."""
    waiting = await session.scalar(
        select(OutboxMessage)
        .where(
            OutboxMessage.chat_id == o.grid.group_chat_id,
            OutboxMessage.kind == OutboxKind.SEND,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.id.in_(
                select(Order.group_post_id).where(Order.grid_id == o.grid_id, Order.id != o.id)
            ),
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    if waiting is None:
        return None
    text, rows = await _render_post(rt, session, waiting.id, extra=o)
    if tg_len(text) > TEXT_LIMIT or sum(len(r) for r in rows) > MAX_FOLDED:
        # Full: Telegram would refuse the post ("message is too long") and every task in it
        # would go unposted. This task waits in a post of its own.
        return None
    res = await affected_rows(
        session,
        update(OutboxMessage)
        .where(OutboxMessage.id == waiting.id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(text=text, buttons=to_json(rows))
        .execution_options(synchronize_session=False),
    )
    return waiting if res == 1 else None


async def _render_post(
    rt: Runtime, session: AsyncSession, post_id: int, extra: Order | None = None
) -> tuple[str, Rows]:
    """The group post shared by several tasks, as they stand now."""
    sharing = list(
        await session.scalars(
            select(Order)
            .where(Order.group_post_id == post_id)
            .order_by(Order.id)
            .options(*LOAD)
            .execution_options(populate_existing=True)
        )
    )
    if extra is not None and extra not in sharing:
        sharing.append(extra)
    return texts.group_digest([view(x) for x in sharing], gettext_for(rt.default_language))


async def edit_group_posts(rt: Runtime, session: AsyncSession, o: Order, text: str) -> None:
    """Collapse the task's group posts (its own grid's, and the neighbours' once it escalated)
    to one line without buttons; in a post folded from several tasks, only its line."""
    ids = [o.group_post_id] if o.group_post_id is not None else []
    ids += await session.scalars(
        select(OrderPost.outbox_id).where(OrderPost.order_id == o.id).order_by(OrderPost.id)
    )
    for post_id in ids:
        post = await session.get(OutboxMessage, post_id)
        if post is None:
            continue
        shared = await session.scalar(
            select(func.count()).select_from(Order).where(Order.group_post_id == post_id)
        )
        if (shared or 0) > 1:  # a folded post: only this task's line changes
            digest, rows = await _render_post(rt, session, post_id)
            outbox.enqueue_edit(session, rt.clock, original=post, text=digest, buttons=rows)
        else:
            outbox.enqueue_edit(session, rt.clock, original=post, text=text, buttons=[])


async def on_duty_by_load(session: AsyncSession, grid_id: int) -> list[int]:
    """Telegram ids of the approved volunteers on duty in the grid, fewest running tasks first
    (then who checked in earliest)."""
    running = (
        select(func.count(Order.id))
        .where(Order.volunteer_id == Volunteer.id, Order.status.in_(RUNNING))
        .correlate(Volunteer)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Volunteer.telegram_id)
        .where(
            Volunteer.grid_id == grid_id,
            Volunteer.status == VolunteerStatus.APPROVED,
            Volunteer.on_duty_since.is_not(None),
        )
        .order_by(running, Volunteer.on_duty_since, Volunteer.id)
    )
    return [tid for (tid,) in rows]


async def open_tasks_of_group(session: AsyncSession, group_chat_id: int) -> list[OrderView]:
    """The open tasks of the grid whose group this is, oldest first."""
    rows = await session.scalars(
        select(Order)
        .join(Grid, Grid.id == Order.grid_id)
        .where(Grid.group_chat_id == group_chat_id, Order.status == S.OPEN)
        .order_by(Order.priority.desc(), Order.id)
        .limit(30)
        .options(*LOAD)
    )
    return [view(o) for o in rows]


async def repost_open_tasks(
    rt: Runtime, session: AsyncSession, old_chat: int, new_chat: int
) -> int:
    """A group became a supergroup (a new chat id). Its posts of tasks still open stay in the
    old chat, where they can no longer be edited: each is posted again in the new chat and the
    tasks point at the new post, so 🙋 works there and later edits (taken, closed) reach it.
    Returns how many posts were made."""
    m = OutboxMessage
    in_old = select(m.id).where(
        m.chat_id == old_chat, m.kind == OutboxKind.SEND, m.status == OutboxStatus.SENT
    )
    _ = gettext_for(rt.default_language)
    home = await session.scalars(
        select(Order)
        .where(Order.status == S.OPEN, Order.group_post_id.in_(in_old))
        .order_by(Order.id)
        .options(*LOAD)
    )
    by_post: dict[int, list[Order]] = {}
    for o in home:
        by_post.setdefault(o.group_post_id or 0, []).append(o)
    made = 0
    for tasks in by_post.values():
        if len(tasks) > 1:  # a folded post: the digest of its tasks
            text, rows = texts.group_digest([view(x) for x in tasks], _)
        else:
            text, rows = texts.group_post(view(tasks[0]), _, rt.timezone)
        post = outbox.enqueue(
            session, rt.clock, chat_id=new_chat, text=text, buttons=rows, is_group=True
        )
        await session.flush()
        for o in tasks:
            o.group_post_id = post.id
        made += 1
    # Neighbouring grids' posts of escalated tasks, if this was one of those groups.
    extra = list(
        await session.scalars(
            select(OrderPost)
            .join(Order, Order.id == OrderPost.order_id)
            .where(Order.status == S.OPEN, OrderPost.outbox_id.in_(in_old))
        )
    )
    for link in extra:
        escalated = await load(session, link.order_id)
        assert escalated is not None
        text, rows = texts.group_post(view(escalated), _, rt.timezone)
        post = outbox.enqueue(
            session, rt.clock, chat_id=new_chat, text=text, buttons=rows, is_group=True
        )
        await session.flush()
        link.outbox_id = post.id
        made += 1
    return made
