"""`paotui volunteer suspend|reinstate`: take a volunteer off, or let them work again."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

from bot.config import Settings
from bot.errors import Refused
from bot.i18n import gettext_for
from cli.common import database, settings_from

VOLUNTEER_HELP = """\
Suspend a volunteer (for example someone who left the group or should no longer run
errands), or reinstate them. Takes effect at once, also while the bot runs, and is written to
the audit log with the actor "cli".

  paotui volunteer suspend --telegram-id 2001 [--reason "left the group"]
  paotui volunteer reinstate --telegram-id 2001

A suspended volunteer goes off duty; the tasks they are running go back to their grid's
group (the residents are told another volunteer will take over); their shifts not yet begun
come off the roster; they can no longer claim tasks, use their task cards or see residents'
addresses; they are told (not the reason). Reinstated, they can work again and are told.

Exit status: 0 done (or nothing to change), 1 refused (no such volunteer, not approved).
"""


async def run_volunteer(
    settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO
) -> int:
    from bot.clock import SystemClock
    from bot.runtime import Runtime
    from bot.services import suspension

    try:
        async with database(settings) as db, db.session() as session:
            rt = Runtime(settings, db, SystemClock())
            if args.volunteer_command == "suspend":
                res = await suspension.suspend(
                    rt, session, None, telegram_id=args.telegram_id, reason=args.reason
                )
            else:
                res = await suspension.reinstate(rt, session, None, telegram_id=args.telegram_id)
    except Refused as e:
        print(e.render(gettext_for("en")), file=err)
        return 1
    who = f"{res.info.name} ({res.info.telegram_id}, {res.info.community} · {res.info.grid})"
    if not res.changed:
        print(f"{who} is already {res.info.status}; nothing changed", file=out)
    elif args.volunteer_command == "suspend":
        tasks = ", ".join(f"#{i}" for i in res.handed_back) or "none"
        print(
            f"suspended: {who}; tasks back in the group: {tasks}; "
            f"shifts taken off the roster: {res.shifts_removed}",
            file=out,
        )
    else:
        print(f"reinstated: {who}", file=out)
    return 0


def register_volunteer_parser(sub: Any) -> None:
    """Add `volunteer` to the CLI."""

    def cmd(args: argparse.Namespace) -> int:
        return asyncio.run(run_volunteer(settings_from(args), args, sys.stdout, sys.stderr))

    p = sub.add_parser(
        "volunteer",
        help="suspend or reinstate a volunteer",
        description=VOLUNTEER_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    vsub = p.add_subparsers(dest="volunteer_command", required=True)
    sus = vsub.add_parser("suspend", help="take a volunteer off (off duty, tasks back, no access)")
    sus.add_argument("--telegram-id", required=True, type=int, help="their numeric Telegram id")
    sus.add_argument("--reason", help="why (kept for the staff and the audit log, not sent)")
    sus.set_defaults(func=cmd)
    back = vsub.add_parser("reinstate", help="let a suspended volunteer work again")
    back.add_argument("--telegram-id", required=True, type=int, help="their numeric Telegram id")
    back.set_defaults(func=cmd)
