"""The user-side HTTP control API under ``/sandbox/...`` (JSON in, JSON out).

Every response is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}`` with a
4xx status, so tests in another process and the CLI can play the humans.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import SandboxError

if TYPE_CHECKING:
    from .emulator import Emulator

Handler = Callable[[web.Request], Awaitable[Any]]


def _endpoint(func: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @functools.wraps(func)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            result = await func(request)
        except SandboxError as exc:
            return web.json_response({"ok": False, "error": exc.message}, status=exc.status)
        except (KeyError, ValueError, TypeError) as exc:
            return web.json_response({"ok": False, "error": f"bad request: {exc!r}"}, status=400)
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response({"ok": True, "result": result})

    return wrapper


async def _body(request: web.Request) -> dict[str, Any]:
    """JSON body merged over the query string."""
    data: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        body = await request.json()
        if not isinstance(body, dict):
            raise SandboxError(400, "JSON object expected")
        data.update(body)
    return data


def _opt_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def add_control_routes(app: web.Application, emu: Emulator) -> None:
    """Register the ``/sandbox`` endpoints on ``app``."""

    @_endpoint
    async def health(request: web.Request) -> Any:
        return {
            "url": emu.url,
            "base_url": emu.base_url,
            "base_file_url": emu.base_file_url,
            "default_token": emu.default_token,
        }

    @_endpoint
    async def list_bots(request: web.Request) -> Any:
        return [{**b.me(), "token": t} for t, b in emu.bots.items()]

    @_endpoint
    async def register_bot(request: web.Request) -> Any:
        d = await _body(request)
        return emu.register_bot(
            d["token"], username=d.get("username"), first_name=d.get("first_name")
        )

    @_endpoint
    async def list_users(request: web.Request) -> Any:
        return [dict(u) for u in emu.users.values()]

    @_endpoint
    async def create_user(request: web.Request) -> Any:
        d = await _body(request)
        return emu.create_user(
            _opt_int(d.get("id")),
            d.get("first_name"),
            d.get("last_name"),
            d.get("username"),
            d.get("language_code"),
        )

    @_endpoint
    async def get_user(request: web.Request) -> Any:
        return dict(emu.user(int(request.match_info["user_id"])))

    @_endpoint
    async def block(request: web.Request) -> Any:
        d = await _body(request)
        return emu.block_bot(int(request.match_info["user_id"]), token=d.get("token"))

    @_endpoint
    async def unblock(request: web.Request) -> Any:
        d = await _body(request)
        return emu.unblock_bot(int(request.match_info["user_id"]), token=d.get("token"))

    @_endpoint
    async def create_group(request: web.Request) -> Any:
        d = await _body(request)
        return emu.create_group(
            d["title"],
            members=[int(m) for m in d.get("members") or []],
            with_bot=_flag(d.get("with_bot", True)),
            token=d.get("token"),
            group_id=_opt_int(d.get("id")),
            chat_type=d.get("type", "supergroup"),
            creator=_opt_int(d.get("creator")),
            username=d.get("username"),
        )

    @_endpoint
    async def get_chat(request: web.Request) -> Any:
        chat = emu.chat(int(request.match_info["chat_id"]), request.query.get("token"))
        return emu.chat_info(chat)

    @_endpoint
    async def add_member(request: web.Request) -> Any:
        d = await _body(request)
        return emu.add_member(
            int(request.match_info["chat_id"]), int(d["user_id"]), by=_opt_int(d.get("by"))
        )

    @_endpoint
    async def remove_member(request: web.Request) -> Any:
        d = await _body(request)
        return emu.remove_member(
            int(request.match_info["chat_id"]), int(d["user_id"]), by=_opt_int(d.get("by"))
        )

    @_endpoint
    async def add_bot(request: web.Request) -> Any:
        d = await _body(request)
        return emu.add_bot(
            int(request.match_info["chat_id"]),
            token=d.get("token"),
            by=_opt_int(d.get("by")),
            admin=_flag(d.get("admin", True)),
        )

    @_endpoint
    async def remove_bot(request: web.Request) -> Any:
        d = await _body(request)
        return emu.remove_bot(
            int(request.match_info["chat_id"]), token=d.get("token"), by=_opt_int(d.get("by"))
        )

    @_endpoint
    async def send(request: web.Request) -> Any:
        d = await _body(request)
        common = {
            "chat_id": _opt_int(d.get("chat_id")),
            "token": d.get("token"),
            "reply_to_message_id": _opt_int(d.get("reply_to_message_id")),
        }
        user_id = int(d["user_id"])
        if d.get("text") is not None:
            return emu.send_text(user_id, d["text"], **common)
        if d.get("contact") is not None:
            c = d["contact"]
            return emu.send_contact(
                user_id,
                c["phone_number"],
                first_name=c.get("first_name"),
                last_name=c.get("last_name"),
                contact_user_id=_opt_int(c.get("user_id")),
                **common,
            )
        if d.get("photo") is not None:
            return emu.send_photo(
                user_id, base64.b64decode(d["photo"]), caption=d.get("caption"), **common
            )
        if d.get("document") is not None:
            return emu.send_document(
                user_id,
                base64.b64decode(d["document"]),
                file_name=d.get("file_name") or "document.bin",
                mime_type=d.get("mime_type") or "application/octet-stream",
                caption=d.get("caption"),
                **common,
            )
        if d.get("voice") is not None:
            return emu.send_voice(
                user_id,
                base64.b64decode(d["voice"]),
                duration=int(d.get("duration") or 1),
                **common,
            )
        if d.get("sticker") is not None:
            s = d["sticker"] if isinstance(d["sticker"], dict) else {}
            return emu.send_sticker(
                user_id, emoji=s.get("emoji") or "👍", set_name=s.get("set_name"), **common
            )
        if d.get("location") is not None:
            loc = d["location"]
            return emu.send_location(user_id, loc["latitude"], loc["longitude"], **common)
        raise SandboxError(
            400, "nothing to send: give text, contact, photo, document, voice, sticker or location"
        )

    @_endpoint
    async def press(request: web.Request) -> Any:
        d = await _body(request)
        query_id = emu.press(
            int(d["user_id"]),
            int(d["chat_id"]),
            int(d["message_id"]),
            str(d["data"]),
            force=_flag(d.get("force")),
            token=d.get("token"),
        )
        return {
            "callback_query_id": query_id,
            "update_id": emu.callback_queries[query_id]["update_id"],
        }

    @_endpoint
    async def callback_answer(request: web.Request) -> Any:
        query_id = request.match_info["query_id"]
        if query_id not in emu.callback_queries:
            raise SandboxError(404, f"unknown callback query {query_id}")
        timeout = min(float(request.query.get("timeout", 0)), 120.0)
        answer = await emu.wait_callback_answer(query_id, timeout)
        if answer is None:
            raise SandboxError(404, f"callback query {query_id} not answered (yet)")
        return answer

    @_endpoint
    async def callback_answers(request: web.Request) -> Any:
        return dict(emu.callback_answers)

    @_endpoint
    async def redeliver(request: web.Request) -> Any:
        d = await _body(request)
        return {"update_id": emu.redeliver(int(d["update_id"]), token=d.get("token"))}

    @_endpoint
    async def messages(request: web.Request) -> Any:
        q = request.query
        chat = emu.chat(int(q["chat_id"]), q.get("token"))
        version = _opt_int(q.get("version"))
        if version is not None:
            # Long poll: return as soon as the chat changes past ``version``.
            await emu.wait_chat_change(chat, version, min(float(q.get("timeout", 10)), 120.0))
        msgs = emu.messages(
            chat.id,
            token=chat.bot_token,
            after=_opt_int(q.get("after")),
            since=_opt_int(q.get("since")),
        )
        return {"version": chat.version, "messages": msgs}

    @_endpoint
    async def updates(request: web.Request) -> Any:
        return emu.updates_log(request.query.get("token"))

    @_endpoint
    async def stats(request: web.Request) -> Any:
        return emu.stats(request.query.get("token"))

    @_endpoint
    async def reset_stats(request: web.Request) -> Any:
        d = await _body(request)
        emu.reset_stats(d.get("token"))
        if _flag(d.get("limits")):
            emu.reset_limits_state(d.get("token"))
        return True

    @_endpoint
    async def get_limits(request: web.Request) -> Any:
        return emu.limits.as_dict()

    @_endpoint
    async def set_limits(request: web.Request) -> Any:
        d = await _body(request)
        return emu.set_limits(**d)

    @_endpoint
    async def fail_next(request: web.Request) -> Any:
        d = await _body(request)
        emu.fail_next(
            int(d.get("n", 1)),
            status=int(d.get("status", 429)),
            retry_after=int(d.get("retry_after", 1)),
            token=d.get("token"),
        )
        return True

    @_endpoint
    async def fail_every(request: web.Request) -> Any:
        d = await _body(request)
        return emu.fail_every(
            int(d.get("n") or 0),
            status=int(d.get("status", 502)),
            token=d.get("token"),
            methods=d.get("methods"),
        )

    @_endpoint
    async def outage(request: web.Request) -> Any:
        d = await _body(request)
        if _flag(d.get("on", True)):
            status = d.get("status", 502)
            emu.outage(None if status in (None, "", "drop") else int(status))
        else:
            emu.end_outage()
        return True

    @_endpoint
    async def upgrade(request: web.Request) -> Any:
        d = await _body(request)
        return emu.upgrade_group(
            int(request.match_info["chat_id"]),
            new_id=_opt_int(d.get("new_id")),
            by=_opt_int(d.get("by")),
        )

    @_endpoint
    async def stall(request: web.Request) -> Any:
        d = await _body(request)
        chat_id = int(request.match_info["chat_id"])
        if _flag(d.get("on", True)):
            emu.stall(chat_id, after_delivery=_flag(d.get("after_delivery", False)))
        else:
            emu.release(chat_id)
        return {"stalled_calls": emu.stalled_calls}

    @_endpoint
    async def file(request: web.Request) -> Any:
        record_bytes = emu.file_bytes(request.match_info["file_id"])
        return web.Response(body=record_bytes, content_type="application/octet-stream")

    @_endpoint
    async def reset(request: web.Request) -> Any:
        emu.reset()
        return True

    r = app.router
    r.add_get("/sandbox/health", health)
    r.add_get("/sandbox/bots", list_bots)
    r.add_post("/sandbox/bots", register_bot)
    r.add_get("/sandbox/users", list_users)
    r.add_post("/sandbox/users", create_user)
    r.add_get("/sandbox/users/{user_id}", get_user)
    r.add_post("/sandbox/users/{user_id}/block", block)
    r.add_post("/sandbox/users/{user_id}/unblock", unblock)
    r.add_post("/sandbox/groups", create_group)
    r.add_get("/sandbox/chats/{chat_id}", get_chat)
    r.add_post("/sandbox/chats/{chat_id}/members", add_member)
    r.add_post("/sandbox/chats/{chat_id}/members/remove", remove_member)
    r.add_post("/sandbox/chats/{chat_id}/bot", add_bot)
    r.add_post("/sandbox/chats/{chat_id}/bot/remove", remove_bot)
    r.add_post("/sandbox/send", send)
    r.add_post("/sandbox/press", press)
    r.add_get("/sandbox/callback_answers", callback_answers)
    r.add_get("/sandbox/callback_answers/{query_id}", callback_answer)
    r.add_post("/sandbox/redeliver", redeliver)
    r.add_get("/sandbox/messages", messages)
    r.add_get("/sandbox/updates", updates)
    r.add_get("/sandbox/stats", stats)
    r.add_post("/sandbox/stats/reset", reset_stats)
    r.add_get("/sandbox/limits", get_limits)
    r.add_post("/sandbox/limits", set_limits)
    r.add_post("/sandbox/fail_next", fail_next)
    r.add_post("/sandbox/fail_every", fail_every)
    r.add_post("/sandbox/outage", outage)
    r.add_post("/sandbox/chats/{chat_id}/stall", stall)
    r.add_post("/sandbox/chats/{chat_id}/upgrade", upgrade)
    r.add_get("/sandbox/files/{file_id}", file)
    r.add_post("/sandbox/reset", reset)
