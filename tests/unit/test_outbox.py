"""The outbox dispatcher's pacing and retries, with a recording channel in place of Telegram
(the channel is the boundary; everything of ours is real, on a real SQLite file)."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from bot import outbox
from bot.outbox import FLIGHT_POLL, Dispatcher, Flight, Limits, Outgoing, Pacer, SendResult
from bot.runtime import Runtime
from models import OutboxMessage, OutboxStatus
from tests.waiting import until


class RecordingChannel:
    def __init__(self, fail_first: int = 0, retry_after: float = 0.3) -> None:
        self.sent: list[tuple[float, int, str]] = []
        self.fail_first = fail_first
        self.retry_after = retry_after
        self.next_id = 100

    async def send(self, msg: Outgoing) -> SendResult:
        if self.fail_first > 0:
            self.fail_first -= 1
            return SendResult(ok=False, retry_after=self.retry_after, error="429")
        self.sent.append((time.monotonic(), msg.chat_id, msg.text))
        if msg.target_message_id is not None:  # an edit keeps the message's id
            return SendResult(ok=True, message_id=msg.target_message_id)
        self.next_id += 1
        return SendResult(ok=True, message_id=self.next_id)


def test_pacer_spreads_sends_and_respects_per_chat_limits() -> None:
    now = [0.0]
    p = Pacer(
        Limits(global_per_second=10, private_interval=1.0, group_per_minute=3), now=lambda: now[0]
    )
    p.record(1, False)
    assert p.wait_for(2, False) == 0.1  # the next overall slot
    now[0] = 0.1
    assert p.wait_for(1, False) == 0.9  # 1 per second in a private chat
    for _ in range(3):
        now[0] += 0.1
        assert p.wait_for(-5, True) == 0
        p.record(-5, True)
    now[0] += 0.1
    assert abs(p.wait_for(-5, True) - (0.2 + 60 - 0.5)) < 1e-9  # 3 per minute in a group


async def test_dispatch_in_order_per_chat_with_retry_after(rt: Runtime) -> None:
    channel = RecordingChannel(fail_first=2)
    d = Dispatcher(
        rt.db,
        rt.clock,
        channel,
        Limits(global_per_second=50, private_interval=0.2, poll_seconds=0.05),
    )
    async with rt.db.session() as s:
        for i in range(3):
            outbox.enqueue(s, rt.clock, chat_id=7, text=f"m{i}")
        outbox.enqueue(s, rt.clock, chat_id=8, text="other")
    await d.start()
    try:
        await d.drain(timeout=10)
    finally:
        await d.stop()
    to7 = [(t, text) for t, chat, text in channel.sent if chat == 7]
    assert [text for _, text in to7] == ["m0", "m1", "m2"]
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(to7)]
    assert all(g >= 0.19 for g in gaps), gaps
    assert d.retry_count == 2
    async with rt.db.read() as s:
        rows = (await s.scalars(select(OutboxMessage))).all()
    assert all(r.status == "sent" and r.message_id for r in rows)
    assert sum(r.attempts for r in rows) == 4 + 2  # each 429 cost one more attempt


async def test_an_edit_waits_for_its_original(rt: Runtime) -> None:
    channel = RecordingChannel()
    d = Dispatcher(rt.db, rt.clock, channel, Limits(global_per_second=50, poll_seconds=0.05))
    async with rt.db.session() as s:
        post = outbox.enqueue(s, rt.clock, chat_id=-100, text="post", is_group=True)
        await s.flush()
        outbox.enqueue_edit(s, rt.clock, original=post, text="taken")
    await d.start()
    try:
        await d.drain(timeout=10)
    finally:
        await d.stop()
    assert [text for _, _, text in channel.sent] == ["post", "taken"]
    async with rt.db.read() as s:
        rows = (await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    assert rows[1].status == "sent" and rows[1].message_id == rows[0].message_id


async def test_global_rate_is_kept(rt: Runtime) -> None:
    channel = RecordingChannel()
    d = Dispatcher(rt.db, rt.clock, channel, Limits(global_per_second=20, poll_seconds=0.05))
    async with rt.db.session() as s:
        for chat in range(60):
            outbox.enqueue(s, rt.clock, chat_id=1000 + chat, text="hi")
    await d.start()
    try:
        await d.drain(timeout=20)
    finally:
        await d.stop()
    times = sorted(t for t, _, _ in channel.sent)
    assert len(times) == 60
    # No one-second window holds more than the rate.
    assert max(sum(1 for u in times if t <= u < t + 1.0) for t in times) <= 20
    await asyncio.sleep(0)


async def test_a_row_left_sending_by_a_dead_process_is_taken_back_while_running(
    rt: Runtime,
) -> None:
    """Recovery runs on every pass, not only at start: a dispatcher already running takes
    back a row another (dead) process leased, once its lease ran out, and keeps the order."""
    channel = RecordingChannel()
    d = Dispatcher(rt.db, rt.clock, channel, Limits(global_per_second=50, poll_seconds=0.05))
    await d.start()
    try:
        async with rt.db.session() as s:
            stuck = outbox.enqueue(s, rt.clock, chat_id=7, text="in flight at the crash")
            outbox.enqueue(s, rt.clock, chat_id=7, text="next")
            await s.flush()
            # What a process killed mid-send leaves behind: leased, never finished.
            stuck.status = OutboxStatus.SENDING
            stuck.lease_until = rt.clock.now() + outbox.LEASE
        # A whole pass sees the row and sends nothing: the lease is still good, the chat waits.
        await d.pump()
        assert not d._in_flight and channel.sent == []
        rt.clock.advance(outbox.LEASE)  # the dead process never renews it
        await d.drain(timeout=5)
    finally:
        await d.stop()
    assert [text for _, _, text in channel.sent] == ["in flight at the crash", "next"]


async def test_a_slow_send_keeps_its_lease(rt: Runtime) -> None:
    """A send slower than the lease is not taken back (and sent twice) by a later pass."""
    release = asyncio.Event()

    class SlowChannel(RecordingChannel):
        async def send(self, msg: Outgoing) -> SendResult:
            await release.wait()
            return await super().send(msg)

    channel = SlowChannel()
    d = Dispatcher(rt.db, rt.clock, channel, Limits(global_per_second=50, poll_seconds=0.05))
    async with rt.db.session() as s:
        outbox.enqueue(s, rt.clock, chat_id=7, text="slow")
    await d.start()
    try:
        await until(lambda: 7 in d._in_flight, "the first dispatcher to be sending")
        second = Dispatcher(rt.db, rt.clock, channel, Limits(poll_seconds=0.05))
        for _ in range(3):  # time passes; the first renews its lease, the second must wait
            d._renewed = 0.0
            await d.pump()
            rt.clock.advance(outbox.LEASE * 0.9)
            await second.pump()
        release.set()
        await d.drain(timeout=5)
        await second.stop()
    finally:
        await d.stop()
    assert [text for _, _, text in channel.sent] == ["slow"]


async def test_transient_failures_are_retried_until_the_time_budget_then_fail(
    rt: Runtime,
) -> None:
    """5xx/network errors retry with back-off capped at max_backoff, for give_up_after from
    when the message was owed; then the row fails (and is left for the operator's report)."""
    tries: list[float] = []

    class Down(RecordingChannel):
        async def send(self, msg: Outgoing) -> SendResult:
            tries.append(time.monotonic())
            return SendResult(ok=False, transient=True, error="network: Bad Gateway")

    limits = Limits(
        private_interval=0, poll_seconds=0.01, give_up_after=timedelta(hours=2), max_backoff=300
    )
    d = Dispatcher(rt.db, rt.clock, Down(), limits)
    async with rt.db.session() as s:
        outbox.enqueue(s, rt.clock, chat_id=7, text="a reminder")
    waits: list[float] = []
    for _ in range(40):
        await d.pump()
        if d._in_flight:
            await asyncio.gather(*d._in_flight.values())
        async with rt.db.read() as s:
            row = (await s.scalars(select(OutboxMessage))).one()
        if row.status != OutboxStatus.PENDING:
            break
        wait = row.next_attempt_at - rt.clock.now()
        waits.append(wait.total_seconds())
        rt.clock.advance(max(wait, timedelta()))
    assert row.status == OutboxStatus.FAILED and row.reported_at is None
    assert max(waits) <= 300.01  # back-off capped
    assert row.next_attempt_at - row.created_at >= timedelta(hours=2)  # kept trying 2 hours
    assert len(tries) > 8  # more than the old 8 attempts


def _paced(
    n: int, rtt: Callable[[int], float], late: Callable[[int], float] = lambda i: 0.0
) -> list[tuple[float, float]]:
    """(left, answered) of n requests under the pacer at the default rate, request i leaving
    late(i) seconds after the pacer let it go (its sleeper woken late) and answered rtt(i)
    seconds after it left (a fake clock, no waiting)."""
    now = [0.0]
    p = Pacer(Limits(global_per_second=29.8), now=lambda: now[0])
    flying: list[tuple[float, Flight]] = []
    out = []
    for i in range(n):
        while True:
            for answer_at, flight in [f for f in flying if f[0] <= now[0]]:
                p.landed(flight)
                flying.remove((answer_at, flight))
            wait = p.global_wait()
            if wait <= 0:
                break
            now[0] = min([now[0] + wait] + [a for a, _ in flying if a > now[0]])
        now[0] += late(i)
        flight = p.record(i, False)
        flying.append((now[0] + rtt(i), flight))
        out.append((now[0], now[0] + rtt(i)))
    return out


def _most_in_a_second(arrivals: list[float]) -> int:
    """Telegram's (and the emulator's) count: requests arrived in any sliding second."""
    arrivals = sorted(arrivals)
    return max(sum(1 for b in arrivals if a - 1.0 < b <= a) for a in arrivals)


def test_a_request_that_arrives_late_does_not_make_a_429() -> None:
    # Every 37th request reaches Telegram 40 ms late, only just before its answer (an event-loop
    # stall while it was in flight); the others arrive at once and are answered in 2 ms.
    # Spacing alone let a second hold 31 (checked); counting each request until a second after
    # its answer holds every second to 30, whenever within its flight it arrived.
    def rtt(i: int) -> float:
        return 0.04 if i % 37 == 0 else 0.002

    flights = _paced(600, rtt)
    late_arrivals = [done if i % 37 == 0 else left for i, (left, done) in enumerate(flights)]
    assert _most_in_a_second(late_arrivals) <= 30
    assert _most_in_a_second([done for _, done in flights]) <= 30
    # It costs little: the rate stays close to the configured 29.8/s.
    assert (len(flights) - 1) / (flights[-1][0] - flights[0][0]) > 29.0


def test_sends_woken_late_keep_the_overall_rate() -> None:
    # A busy event loop wakes every sender a few ms after its slot. The slots keep their
    # schedule, so the lateness is not added to every interval (spaced from the last send, the
    # rate was 1 / (1/29.8 + 0.003) = 27.3/s), and no second holds more than 30 anyway.
    flights = _paced(600, lambda i: 0.002, late=lambda i: 0.003 if i % 11 else 0.010)
    left = [a for a, _ in flights]
    assert (len(left) - 1) / (left[-1] - left[0]) > 29.7
    assert _most_in_a_second(left) <= 30
    assert _most_in_a_second([done for _, done in flights]) <= 30


def test_the_overall_schedule_starts_afresh_after_a_pause() -> None:
    # No burst at start, nor after an idle spell or a long stall: the next slot is a full
    # interval after the send that restarts the schedule.
    now = [0.0]
    p = Pacer(Limits(global_per_second=10), now=lambda: now[0])
    p.landed(p.record(1, False))
    assert p.global_wait() == 0.1
    now[0] = 0.1 + 0.03  # woken 30 ms late: the next slot stays on the schedule
    p.landed(p.record(2, False))
    assert abs(p.global_wait() - 0.07) < 1e-9
    now[0] = 0.6  # a stall of 0.4 s: the slots missed are caught up two per interval
    p.landed(p.record(3, False))
    assert abs(p.global_wait() - 0.05) < 1e-9
    now[0] = 5.0  # idle: the schedule restarts here
    p.landed(p.record(4, False))
    assert abs(p.global_wait() - 0.1) < 1e-9


def test_the_window_worked_out_once_per_change_keeps_its_rule() -> None:
    # Random sends, answers and looks on a fake clock: the pacer's overall window always agrees
    # with its rule stated directly (a request may leave only while at most 29 others may
    # still arrive within a second of it: unanswered, or answered under a second ago).
    rng = random.Random(13)
    now = [0.0]
    p = Pacer(Limits(global_per_second=29.8), now=lambda: now[0])
    flying: list[Flight] = []
    every: list[Flight] = []
    for _ in range(5000):
        now[0] += rng.choice([0.0, 0.001, 0.01, 0.03, 0.2])
        step = rng.random()
        if step < 0.4:
            flight = p.record(0, True)
            flying.append(flight)
            every.append(flight)
        elif step < 0.8 and flying:
            p.landed(flying.pop(rng.randrange(len(flying))))
        live = [f for f in every if f.done is None or f.done > now[0] - 1.0]
        waits = p._window_wait(now[0])
        if len(live) <= 29:
            assert waits == 0.0
        else:
            ends = sorted(math.inf if f.done is None else f.done for f in live)
            free_at = ends[len(live) - 30] + 1.0
            assert waits == (FLIGHT_POLL if math.isinf(free_at) else free_at - now[0])
