"""``python -m sandbox.cli``: play a user against a running emulator from the terminal.

export SANDBOX_URL=http://127.0.0.1:8081
python -m sandbox.cli say 1001 /start          # user 1001 writes to the bot
python -m sandbox.cli chat 1001                # show the private chat with buttons numbered
python -m sandbox.cli press 1001 1001 3 '#2'   # press button 2 of message 3 (or give data)
python -m sandbox.cli contact 1001 +8613800000000
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from .client import SandboxClient, render_message
from .errors import SandboxError


async def _ensure_user(c: SandboxClient, user_id: int) -> None:
    try:
        await c.get_user(user_id)
    except SandboxError as exc:
        if exc.status != 404:
            raise
        await c.create_user(user_id, f"User{user_id}")


async def _show_after(c: SandboxClient, chat_id: int, after: int, wait: float) -> None:
    """Wait up to ``wait`` s for a bot reply, then print everything after message ``after``."""
    if wait > 0:
        try:
            await c.wait_for(chat_id, lambda m: True, timeout=wait, after_message_id=after)
            await asyncio.sleep(0.3)  # let multi-message replies land before printing
        except TimeoutError:
            print("(no reply from the bot yet)")
    for msg in await c.messages(chat_id, after=after - 1):
        print(render_message(msg, number_buttons=True))


async def run(args: argparse.Namespace) -> int:
    async with SandboxClient(args.url, token=args.token) as c:
        if args.cmd == "users":
            for user in await c.users():
                name = " ".join(filter(None, [user["first_name"], user.get("last_name")]))
                handle = f" @{user['username']}" if user.get("username") else ""
                print(f"{user['id']}: {name}{handle}")
        elif args.cmd == "user":
            print(
                await c.create_user(
                    args.user, args.name, username=args.username, language_code=args.lang
                )
            )
        elif args.cmd == "group":
            for member in args.members:
                await _ensure_user(c, member)
            group = await c.create_group(args.title, args.members)
            print(f"created {group['type']} {group['id']}: {group['title']}")
        elif args.cmd == "say":
            await _ensure_user(c, args.user)
            sent = await c.send_text(args.user, args.text, args.chat)
            await _show_after(c, sent["chat"]["id"], sent["message_id"], args.wait)
        elif args.cmd == "contact":
            await _ensure_user(c, args.user)
            sent = await c.send_contact(args.user, args.phone, args.chat)
            await _show_after(c, sent["chat"]["id"], sent["message_id"], args.wait)
        elif args.cmd == "chat":
            msgs = await c.messages(args.chat)
            for msg in msgs[-args.last :] if args.last else msgs:
                print(render_message(msg, number_buttons=True))
        elif args.cmd == "press":
            data = args.data
            if data.startswith("#"):
                shown: dict | None = next(
                    (m for m in await c.messages(args.chat) if m["message_id"] == args.message_id),
                    None,
                )
                buttons = SandboxClient.buttons(shown or {})
                index = int(data[1:]) - 1
                if not 0 <= index < len(buttons) or buttons[index][1] is None:
                    print(
                        f"no callback button {data} on message {args.message_id}", file=sys.stderr
                    )
                    return 2
                data = buttons[index][1]
            query_id = await c.press(args.user, args.chat, args.message_id, data)
            try:
                answer = await c.callback_answer(query_id, timeout=args.wait)
                if answer.get("text"):
                    kind = "alert" if answer.get("show_alert") else "toast"
                    print(f"({kind}: {answer['text']})")
            except TimeoutError:
                print("(the bot did not answer the callback query)")
            for msg in await c.messages(args.chat, after=args.message_id - 1):
                print(render_message(msg, number_buttons=True))
        elif args.cmd == "stats":
            print(await c.stats())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default=None, help="emulator URL (default: $SANDBOX_URL)")
    parser.add_argument("--token", default=None, help="bot token (default: the first bot)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("users", help="list users")
    p = sub.add_parser("user", help="create or update a user")
    p.add_argument("user", type=int)
    p.add_argument("name")
    p.add_argument("--username")
    p.add_argument("--lang")
    p = sub.add_parser("group", help="create a group with the bot as admin")
    p.add_argument("title")
    p.add_argument("members", type=int, nargs="*")
    for name, extra in (("say", "text"), ("contact", "phone")):
        p = sub.add_parser(name, help=f"user sends {extra}")
        p.add_argument("user", type=int)
        p.add_argument(extra)
        p.add_argument("--chat", type=int, default=None, help="group id (default: private)")
        p.add_argument("--wait", type=float, default=3.0, help="seconds to wait for a reply")
    p = sub.add_parser("chat", help="print a chat")
    p.add_argument("chat", type=int)
    p.add_argument("--last", type=int, default=0, help="only the last N messages")
    p = sub.add_parser("press", help="press an inline button ('#N' = N-th button)")
    p.add_argument("user", type=int)
    p.add_argument("chat", type=int)
    p.add_argument("message_id", type=int)
    p.add_argument("data")
    p.add_argument("--wait", type=float, default=3.0)
    sub.add_parser("stats", help="bot counters (sent, edits, 429s...)")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    except SandboxError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
