"""The user-side HTTP control API under ``/sandbox/...``: one function per operation of
:mod:`sandbox.operations`, and :data:`ROUTES`, the table that binds each operation (its path
and method) to its function. Requests are decoded into the operation by :mod:`sandbox.wire`.

Every response is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}`` with a
4xx status, so tests in another process and the CLI can play the humans.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiohttp import web

from . import operations as op
from .errors import SandboxError
from .telegram import Telegram
from .wire import decode

OpT = TypeVar("OpT", bound=op.Operation[Any])


@dataclass(frozen=True)
class Route(Generic[OpT]):
    """An operation and the function that carries it out (sync, or async when it waits); a
    function that returns None answers ``true``."""

    op: type[OpT]
    run: Callable[[Telegram, OpT], Any]


# ---------------------------------------------------------------------- setup


def list_bots(tg: Telegram, o: op.ListBots) -> list[dict]:
    return [{**b.me(), "token": t} for t, b in tg.bots.items()]


def register_bot(tg: Telegram, o: op.RegisterBot) -> dict:
    return tg.register_bot(o.token, username=o.username, first_name=o.first_name)


def list_users(tg: Telegram, o: op.ListUsers) -> list[dict]:
    return [dict(u) for u in tg.users.values()]


def create_user(tg: Telegram, o: op.CreateUser) -> dict:
    return tg.create_user(o.user_id, o.first_name, o.last_name, o.username, o.language_code)


def get_user(tg: Telegram, o: op.GetUser) -> dict:
    return dict(tg.user(o.user_id))


def block_bot(tg: Telegram, o: op.BlockBot) -> dict:
    return tg.block_bot(o.user_id, token=o.token)


def unblock_bot(tg: Telegram, o: op.UnblockBot) -> dict:
    return tg.unblock_bot(o.user_id, token=o.token)


def create_group(tg: Telegram, o: op.CreateGroup) -> dict:
    return tg.create_group(
        o.title,
        members=list(o.members),
        with_bot=o.with_bot,
        token=o.token,
        group_id=o.group_id,
        chat_type=o.chat_type,
        creator=o.creator,
        username=o.username,
    )


def get_chat(tg: Telegram, o: op.GetChat) -> dict:
    return tg.chat_info(tg.chat(o.chat_id, o.token))


def add_member(tg: Telegram, o: op.AddMember) -> dict:
    return tg.add_member(o.chat_id, o.user_id, by=o.by)


def remove_member(tg: Telegram, o: op.RemoveMember) -> dict:
    return tg.remove_member(o.chat_id, o.user_id, by=o.by)


def add_bot(tg: Telegram, o: op.AddBot) -> dict:
    return tg.add_bot(o.chat_id, token=o.token, by=o.by, admin=o.admin)


def remove_bot(tg: Telegram, o: op.RemoveBot) -> dict:
    return tg.remove_bot(o.chat_id, token=o.token, by=o.by)


def upgrade_group(tg: Telegram, o: op.UpgradeGroup) -> dict:
    return tg.upgrade_group(o.chat_id, new_id=o.new_id, by=o.by)


# ---------------------------------------------------------------------- the user acts


def send_text(tg: Telegram, o: op.SendText) -> dict:
    return tg.send_text(
        o.user_id, o.text, chat_id=o.chat_id, token=o.token, reply_to_message_id=o.reply_to
    )


def send_contact(tg: Telegram, o: op.SendContact) -> dict:
    return tg.send_contact(
        o.user_id,
        o.phone,
        first_name=o.first_name,
        last_name=o.last_name,
        contact_user_id=o.contact_user_id,
        chat_id=o.chat_id,
        token=o.token,
        reply_to_message_id=o.reply_to,
    )


def send_photo(tg: Telegram, o: op.SendPhoto) -> dict:
    return tg.send_photo(
        o.user_id,
        o.data,
        caption=o.caption,
        chat_id=o.chat_id,
        token=o.token,
        reply_to_message_id=o.reply_to,
    )


def send_document(tg: Telegram, o: op.SendDocument) -> dict:
    return tg.send_document(
        o.user_id,
        o.data,
        file_name=o.file_name or "document.bin",
        mime_type=o.mime_type or "application/octet-stream",
        caption=o.caption,
        chat_id=o.chat_id,
        token=o.token,
        reply_to_message_id=o.reply_to,
    )


def send_voice(tg: Telegram, o: op.SendVoice) -> dict:
    return tg.send_voice(
        o.user_id,
        o.data,
        duration=int(o.duration or 1),
        chat_id=o.chat_id,
        token=o.token,
        reply_to_message_id=o.reply_to,
    )


def send_sticker(tg: Telegram, o: op.SendSticker) -> dict:
    return tg.send_sticker(
        o.user_id,
        emoji=o.emoji or "👍",
        set_name=o.set_name,
        chat_id=o.chat_id,
        token=o.token,
        reply_to_message_id=o.reply_to,
    )


def send_location(tg: Telegram, o: op.SendLocation) -> dict:
    return tg.send_location(
        o.user_id,
        o.latitude,
        o.longitude,
        chat_id=o.chat_id,
        token=o.token,
        reply_to_message_id=o.reply_to,
    )


def press(tg: Telegram, o: op.Press) -> dict:
    query_id = tg.press(o.user_id, o.chat_id, o.message_id, o.data, force=o.force, token=o.token)
    return {"callback_query_id": query_id, "update_id": tg.callback_queries[query_id]["update_id"]}


async def callback_answer(tg: Telegram, o: op.CallbackAnswer) -> dict:
    if o.query_id not in tg.callback_queries:
        raise SandboxError(404, f"unknown callback query {o.query_id}")
    answer = await tg.wait_callback_answer(o.query_id, min(o.timeout, 120.0))
    if answer is None:
        raise SandboxError(404, f"callback query {o.query_id} not answered (yet)")
    return answer


def callback_answers(tg: Telegram, o: op.CallbackAnswers) -> dict:
    return dict(tg.callback_answers)


def redeliver(tg: Telegram, o: op.Redeliver) -> dict:
    return {"update_id": tg.redeliver(o.update_id, token=o.token)}


# ---------------------------------------------------------------------- reading


def messages(tg: Telegram, o: op.Messages) -> list[dict]:
    chat = tg.chat(o.chat_id, o.token)
    return tg.messages(chat.id, token=chat.bot_token, after=o.after, since=o.since)


async def watch_chat(tg: Telegram, o: op.WatchChat) -> dict:
    chat = tg.chat(o.chat_id, o.token)
    if o.version is not None:
        # Long poll: return as soon as the chat changes past ``version``.
        await tg.wait_chat_change(chat, o.version, min(o.timeout, 120.0))
    msgs = tg.messages(chat.id, token=chat.bot_token, after=o.after)
    return {"version": chat.version, "messages": msgs}


def updates_log(tg: Telegram, o: op.UpdatesLog) -> list[dict]:
    return tg.updates_log(o.token)


def download(tg: Telegram, o: op.Download) -> web.Response:
    data = tg.file_bytes(o.file_id)
    return web.Response(body=data, content_type="application/octet-stream")


# ---------------------------------------------------------------------- limits and faults


def stats(tg: Telegram, o: op.Stats) -> dict:
    return tg.stats(o.token)


def reset_stats(tg: Telegram, o: op.ResetStats) -> None:
    tg.reset_stats(o.token)
    if o.limits:
        tg.reset_limits_state(o.token)


def get_limits(tg: Telegram, o: op.GetLimits) -> dict:
    return tg.limits.as_dict()


def set_limits(tg: Telegram, o: op.SetLimits) -> dict:
    return tg.set_limits(**o.limits)


def fail_next(tg: Telegram, o: op.FailNext) -> None:
    tg.fail_next(o.n, status=o.status, retry_after=o.retry_after, token=o.token)


def fail_every(tg: Telegram, o: op.FailEvery) -> dict:
    return tg.fail_every(o.n or 0, status=o.status, token=o.token, methods=o.methods)


def outage(tg: Telegram, o: op.Outage) -> None:
    tg.outage(o.status)


def end_outage(tg: Telegram, o: op.EndOutage) -> None:
    tg.end_outage()


def stall(tg: Telegram, o: op.Stall) -> dict:
    tg.stall(o.chat_id, after_delivery=o.after_delivery)
    return {"stalled_calls": tg.stalled_calls}


def release(tg: Telegram, o: op.Release) -> dict:
    tg.release(o.chat_id)
    return {"stalled_calls": tg.stalled_calls}


def reset(tg: Telegram, o: op.Reset) -> None:
    tg.reset()


def bind(operation: type[OpT], run: Callable[[Telegram, OpT], Any]) -> Route[Any]:
    """A route; the type checker holds ``run`` to the operation it is bound to."""
    return Route(operation, run)


# Each control operation and its function (op.Health is the server's own: it knows the URLs).
ROUTES: tuple[Route[Any], ...] = (
    bind(op.ListBots, list_bots),
    bind(op.RegisterBot, register_bot),
    bind(op.ListUsers, list_users),
    bind(op.CreateUser, create_user),
    bind(op.GetUser, get_user),
    bind(op.BlockBot, block_bot),
    bind(op.UnblockBot, unblock_bot),
    bind(op.CreateGroup, create_group),
    bind(op.GetChat, get_chat),
    bind(op.AddMember, add_member),
    bind(op.RemoveMember, remove_member),
    bind(op.AddBot, add_bot),
    bind(op.RemoveBot, remove_bot),
    bind(op.UpgradeGroup, upgrade_group),
    bind(op.SendText, send_text),
    bind(op.SendContact, send_contact),
    bind(op.SendPhoto, send_photo),
    bind(op.SendDocument, send_document),
    bind(op.SendVoice, send_voice),
    bind(op.SendSticker, send_sticker),
    bind(op.SendLocation, send_location),
    bind(op.Press, press),
    bind(op.CallbackAnswer, callback_answer),
    bind(op.CallbackAnswers, callback_answers),
    bind(op.Redeliver, redeliver),
    bind(op.Messages, messages),
    bind(op.WatchChat, watch_chat),
    bind(op.UpdatesLog, updates_log),
    bind(op.Download, download),
    bind(op.Stats, stats),
    bind(op.ResetStats, reset_stats),
    bind(op.GetLimits, get_limits),
    bind(op.SetLimits, set_limits),
    bind(op.FailNext, fail_next),
    bind(op.FailEvery, fail_every),
    bind(op.Outage, outage),
    bind(op.EndOutage, end_outage),
    bind(op.Stall, stall),
    bind(op.Release, release),
    bind(op.Reset, reset),
)


def endpoint(
    tg: Telegram, route: Route[Any]
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of one route: decode, run, answer in the control envelope."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            values: dict[str, Any] = dict(request.query)
            if request.can_read_body:
                body = await request.json()
                if not isinstance(body, dict):
                    raise SandboxError(400, "JSON object expected")
                values.update(body)
            values.update(request.match_info)
            result = route.run(tg, decode(route.op, values))
            if inspect.isawaitable(result):
                result = await result
        except SandboxError as exc:
            return web.json_response({"ok": False, "error": exc.message}, status=exc.status)
        except (KeyError, ValueError, TypeError) as exc:
            return web.json_response({"ok": False, "error": f"bad request: {exc!r}"}, status=400)
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response({"ok": True, "result": True if result is None else result})

    return handle


def add_control_routes(app: web.Application, tg: Telegram, routes: tuple[Route[Any], ...]) -> None:
    """Register ``routes`` (the ``/sandbox`` endpoints) on ``app``."""
    for route in routes:
        app.router.add_route(route.op.METHOD, route.op.PATH, endpoint(tg, route))
