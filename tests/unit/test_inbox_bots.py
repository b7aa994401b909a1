"""The inbox of a district (one bot per community): update ids are per bot, so the same id from
two bots is two updates, each stored, read, marked and claimed by its own bot only; retention
keeps each bot's newest update (polling resumes from it); the outbox rows each bot's
dispatcher sends are those of the chats that talk to it (the first bot: also the others)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from bot import inbox
from bot.chat_bots import ChatBots, outbox_rows, record
from bot.config import BotEntry
from bot.outbox.rows import enqueue, enqueue_edit
from bot.runtime import Runtime
from bot.services import privacy
from models import ChatBot, InboxUpdate, OutboxMessage, OutboxStatus


async def _ids(rt: Runtime, bot: str) -> list[int]:
    async with rt.db.read() as s:
        return await inbox.pending_ids(s, bot=bot)


async def test_the_same_update_id_from_two_bots_is_two_updates(rt: Runtime) -> None:
    async with rt.db.session() as s:
        assert await inbox.record_new(s, rt.clock, [(1, '{"a": 1}'), (2, "{}")], bot="a") == {1, 2}
        assert await inbox.record_new(s, rt.clock, [(1, '{"b": 1}')], bot="b") == {1}
        assert await inbox.record_new(s, rt.clock, [(1, "{}")], bot="b") == set()  # again
    assert await _ids(rt, "a") == [1, 2] and await _ids(rt, "b") == [1] and await _ids(rt, "") == []
    async with rt.db.read() as s:
        assert await inbox.payloads(s, [1], "b") == [(1, '{"b": 1}')]
        assert await inbox.last_update_id(s, "a") == 2 and await inbox.last_update_id(s, "b") == 1
    async with rt.db.session() as s:
        await inbox.mark_done(s, rt.clock, [1], "a")
        await inbox.mark_processed(s, rt.clock, 2, "boom", "a")
    assert await _ids(rt, "a") == [2] and await _ids(rt, "b") == [1]


async def test_retention_keeps_each_bots_newest_update(rt: Runtime) -> None:
    rt.settings = rt.settings.model_copy(
        update={
            "bots": [
                BotEntry(name=n, token_env=n.upper(), username=f"p_{n}_bot", communities=[n])
                for n in "ab"
            ]
        }
    )
    async with rt.db.session() as s:
        await inbox.record_new(s, rt.clock, [(1, "{}"), (2, "{}"), (3, "{}")], bot="a")
        await inbox.record_new(s, rt.clock, [(1, "{}"), (7, "{}")], bot="b")
        await inbox.mark_done(s, rt.clock, [1, 2, 3], "a")
        await inbox.mark_done(s, rt.clock, [1, 7], "b")
    rt.clock.advance(timedelta(days=rt.settings.privacy.retention_days + 1))  # type: ignore[attr-defined]
    await privacy.prune_due(rt)
    async with rt.db.read() as s:
        left = {
            (b, u, p)
            for b, u, p in await s.execute(
                select(InboxUpdate.bot, InboxUpdate.update_id, InboxUpdate.payload)
            )
        }
    assert left == {("a", 3, "{}"), ("b", 7, "{}")}


async def test_claims_are_per_bot(rt: Runtime) -> None:
    if rt.db.sqlite:
        pytest.skip("claims: PostgreSQL only")
    now = datetime.now(UTC)
    until = now + timedelta(seconds=30)
    async with rt.db.session() as s:
        await inbox.record_new(s, rt.clock, [(1, "{}")], {1: "u1"}, bot="a")
        await inbox.record_new(s, rt.clock, [(1, "{}"), (2, "{}")], {1: "u1", 2: "u1"}, bot="b")
    async with rt.db.session() as s:
        assert [u for u, _ in await inbox.claim(s, now, "x", until, bot="a")] == [1]
    async with rt.db.session() as s:
        # u1's update 1 of bot a, held by x, does not hold back bot b's updates of u1.
        assert [u for u, _ in await inbox.claim(s, now, "y", until, bot="b")] == [1, 2]


async def test_each_bot_sends_the_rows_of_its_chats(rt: Runtime) -> None:
    async with rt.db.session() as s:
        for chat in (11, 12, 13, 14):
            enqueue(s, rt.clock, chat_id=chat, text="x")
        await record(s, 11, "a")
        await record(s, 12, "b")
        await record(s, 13, "c")
        await record(s, 14, "gone")  # a bot no longer configured: the first sends
        await record(s, 12, "c")  # the chat moved on to bot c
    bots = ["a", "b", "c"]

    async def chats(bot: str) -> list[int]:
        async with rt.db.read() as s:
            q = select(OutboxMessage.chat_id).where(outbox_rows(bot, bots))
            return sorted(await s.scalars(q))

    assert await chats("a") == [11, 14]
    assert await chats("b") == []
    assert await chats("c") == [12, 13]
    async with rt.db.session() as s:  # a chat in no row: the first bot's
        enqueue(s, rt.clock, chat_id=15, text="x")
    assert await chats("a") == [11, 14, 15]


async def test_a_chats_bot_is_written_only_when_it_changes(rt: Runtime) -> None:
    async with rt.db.session() as s:
        await record(s, 21, "a")
    chats = ChatBots(rt.db)
    assert await chats.load() == 1
    async with rt.db.session() as s:  # behind its back: a write would bring the row back
        await s.execute(delete(ChatBot))
    await chats.note(21, "a")  # as remembered: nothing written
    await chats.note_person(21, "b")  # has a bot: nothing written
    async with rt.db.read() as s:
        assert list(await s.execute(select(ChatBot.chat_id, ChatBot.bot))) == []
    await chats.note(21, "b")  # moved on: written
    await chats.note_person(22, "b")  # someone new acting in a group of b
    await chats.note_person(22, "a")  # remembered: nothing written
    async with rt.db.read() as s:
        rows = {chat: bot for chat, bot in await s.execute(select(ChatBot.chat_id, ChatBot.bot))}
    assert rows == {21: "b", 22: "b"}


async def test_an_edit_goes_through_the_bot_that_sent_its_original(rt: Runtime) -> None:
    """A district admin's chat moved from bot b to bot c: the edit of what b sent goes
    through b (only the author may edit); an edit of a row no bot of ours sent, by chat."""
    async with rt.db.session() as s:
        by_b = enqueue(s, rt.clock, chat_id=31, text="card")
        old = enqueue(s, rt.clock, chat_id=31, text="before [[bots]]")
        await s.flush()
        await s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([by_b.id, old.id]))
            .values(status=OutboxStatus.SENT, message_id=OutboxMessage.id)
        )
        await s.execute(
            update(OutboxMessage).where(OutboxMessage.id == by_b.id).values(sent_by="b")
        )
        await record(s, 31, "c")
        edit_b = enqueue_edit(s, rt.clock, original=by_b, text="card, done")
        edit_old = enqueue_edit(s, rt.clock, original=old, text="after")
        await s.flush()
        edits = {edit_b.id: "edit of b's", edit_old.id: "edit of an old one"}
    bots = ["a", "b", "c"]

    async def sends(bot: str) -> list[str]:
        async with rt.db.read() as s:
            q = select(OutboxMessage.id).where(
                OutboxMessage.status == OutboxStatus.PENDING, outbox_rows(bot, bots)
            )
            return sorted(edits[i] for i in await s.scalars(q))

    assert await sends("a") == []
    assert await sends("b") == ["edit of b's"]
    assert await sends("c") == ["edit of an old one"]
