"""The user-side HTTP control API under ``/sandbox/...``: one function per operation of
:mod:`sandbox.operations`, and :data:`ROUTES`, the table that binds each operation (its path
and method) to its function. Requests are decoded into the operation by :mod:`sandbox.wire`.

Every response is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}`` with a
4xx status, so tests in another process and the CLI can play the humans.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
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


def _create_user(tg: Telegram, o: op.CreateUser) -> dict:
    return tg.create_user(o.user_id, o.first_name, o.last_name, o.username, o.language_code)


def _create_group(tg: Telegram, o: op.CreateGroup) -> dict:
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


def _send_contact(tg: Telegram, o: op.SendContact) -> dict:
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


def _send_document(tg: Telegram, o: op.SendDocument) -> dict:
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


def _press(tg: Telegram, o: op.Press) -> dict:
    query_id = tg.press(o.user_id, o.chat_id, o.message_id, o.data, force=o.force, token=o.token)
    return {"callback_query_id": query_id, "update_id": tg.callback_queries[query_id]["update_id"]}


async def _callback_answer(tg: Telegram, o: op.CallbackAnswer) -> dict:
    if o.query_id not in tg.callback_queries:
        raise SandboxError(404, f"unknown callback query {o.query_id}")
    answer = await tg.wait_callback_answer(o.query_id, min(o.timeout, 120.0))
    if answer is None:
        raise SandboxError(404, f"callback query {o.query_id} not answered (yet)")
    return answer


def _messages(tg: Telegram, o: op.Messages) -> list[dict]:
    chat = tg.chat(o.chat_id, o.token)
    return tg.messages(chat.id, token=chat.bot_token, after=o.after, since=o.since)


async def _watch_chat(tg: Telegram, o: op.WatchChat) -> dict:
    chat = tg.chat(o.chat_id, o.token)
    if o.version is not None:
        # Long poll: return as soon as the chat changes past ``version``.
        await tg.wait_chat_change(chat, o.version, min(o.timeout, 120.0))
    msgs = tg.messages(chat.id, token=chat.bot_token, after=o.after)
    return {"version": chat.version, "messages": msgs}


def _reset_stats(tg: Telegram, o: op.ResetStats) -> None:
    tg.reset_stats(o.token)
    if o.limits:
        tg.reset_limits_state(o.token)


def _stall(tg: Telegram, o: op.Stall) -> dict:
    tg.stall(o.chat_id, after_delivery=o.after_delivery)
    return {"stalled_calls": tg.stalled_calls}


def _release(tg: Telegram, o: op.Release) -> dict:
    tg.release(o.chat_id)
    return {"stalled_calls": tg.stalled_calls}


def _download(tg: Telegram, o: op.Download) -> web.Response:
    data = tg.file_bytes(o.file_id)
    return web.Response(body=data, content_type="application/octet-stream")


# Each control operation and its function (op.Health is the server's own: it knows the URLs).
ROUTES: tuple[Route[Any], ...] = (
    Route(op.ListBots, lambda tg, o: [{**b.me(), "token": t} for t, b in tg.bots.items()]),
    Route(
        op.RegisterBot,
        lambda tg, o: tg.register_bot(o.token, username=o.username, first_name=o.first_name),
    ),
    Route(op.ListUsers, lambda tg, o: [dict(u) for u in tg.users.values()]),
    Route(op.CreateUser, _create_user),
    Route(op.GetUser, lambda tg, o: dict(tg.user(o.user_id))),
    Route(op.BlockBot, lambda tg, o: tg.block_bot(o.user_id, token=o.token)),
    Route(op.UnblockBot, lambda tg, o: tg.unblock_bot(o.user_id, token=o.token)),
    Route(op.CreateGroup, _create_group),
    Route(op.GetChat, lambda tg, o: tg.chat_info(tg.chat(o.chat_id, o.token))),
    Route(op.AddMember, lambda tg, o: tg.add_member(o.chat_id, o.user_id, by=o.by)),
    Route(op.RemoveMember, lambda tg, o: tg.remove_member(o.chat_id, o.user_id, by=o.by)),
    Route(op.AddBot, lambda tg, o: tg.add_bot(o.chat_id, token=o.token, by=o.by, admin=o.admin)),
    Route(op.RemoveBot, lambda tg, o: tg.remove_bot(o.chat_id, token=o.token, by=o.by)),
    Route(op.UpgradeGroup, lambda tg, o: tg.upgrade_group(o.chat_id, new_id=o.new_id, by=o.by)),
    Route(
        op.SendText,
        lambda tg, o: tg.send_text(
            o.user_id, o.text, chat_id=o.chat_id, token=o.token, reply_to_message_id=o.reply_to
        ),
    ),
    Route(op.SendContact, _send_contact),
    Route(
        op.SendPhoto,
        lambda tg, o: tg.send_photo(
            o.user_id,
            o.data,
            caption=o.caption,
            chat_id=o.chat_id,
            token=o.token,
            reply_to_message_id=o.reply_to,
        ),
    ),
    Route(op.SendDocument, _send_document),
    Route(
        op.SendVoice,
        lambda tg, o: tg.send_voice(
            o.user_id,
            o.data,
            duration=int(o.duration or 1),
            chat_id=o.chat_id,
            token=o.token,
            reply_to_message_id=o.reply_to,
        ),
    ),
    Route(
        op.SendSticker,
        lambda tg, o: tg.send_sticker(
            o.user_id,
            emoji=o.emoji or "👍",
            set_name=o.set_name,
            chat_id=o.chat_id,
            token=o.token,
            reply_to_message_id=o.reply_to,
        ),
    ),
    Route(
        op.SendLocation,
        lambda tg, o: tg.send_location(
            o.user_id,
            o.latitude,
            o.longitude,
            chat_id=o.chat_id,
            token=o.token,
            reply_to_message_id=o.reply_to,
        ),
    ),
    Route(op.Press, _press),
    Route(op.CallbackAnswer, _callback_answer),
    Route(op.CallbackAnswers, lambda tg, o: dict(tg.callback_answers)),
    Route(op.Redeliver, lambda tg, o: {"update_id": tg.redeliver(o.update_id, token=o.token)}),
    Route(op.Messages, _messages),
    Route(op.WatchChat, _watch_chat),
    Route(op.UpdatesLog, lambda tg, o: tg.updates_log(o.token)),
    Route(op.Download, _download),
    Route(op.Stats, lambda tg, o: tg.stats(o.token)),
    Route(op.ResetStats, _reset_stats),
    Route(op.GetLimits, lambda tg, o: tg.limits.as_dict()),
    Route(op.SetLimits, lambda tg, o: tg.set_limits(**o.limits)),
    Route(
        op.FailNext,
        lambda tg, o: tg.fail_next(o.n, status=o.status, retry_after=o.retry_after, token=o.token),
    ),
    Route(
        op.FailEvery,
        lambda tg, o: tg.fail_every(o.n or 0, status=o.status, token=o.token, methods=o.methods),
    ),
    Route(op.Outage, lambda tg, o: tg.outage(o.status)),
    Route(op.EndOutage, lambda tg, o: tg.end_outage()),
    Route(op.Stall, _stall),
    Route(op.Release, _release),
    Route(op.Reset, lambda tg, o: tg.reset()),
)


def endpoint(tg: Telegram, route: Route[Any]) -> Callable[[web.Request], Any]:
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
