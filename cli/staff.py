"""`paotui staff add|remove|list`: manage admins, community staff and grid leaders."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

from bot.config import Settings
from bot.errors import Refused
from bot.i18n import gettext_for
from cli.common import database, settings_from
from models import StaffRole

STAFF_HELP = """\
Manage who runs the bot: admins (everything), community staff (one community) and grid
leaders (one grid). Changes take effect at once, also while the bot runs, and are written
to the audit log with the actor "cli".

  paotui staff add --role community --telegram-id 123456789 --name 赵书记 --community xingfu
  paotui staff add --role grid_leader --telegram-id 234567890 --name 钱组长 --grid 第一网格
  paotui staff add --role admin --telegram-id 345678901 --name 孙老师
  paotui staff remove --telegram-id 234567890 [--role grid_leader]
  paotui staff list

A person finds their Telegram id by sending /staff to the bot: it tells them the id to give
an admin. The first admins can also be listed in the config ([admins] telegram_ids).
"""


def _en(e: Refused) -> str:
    return e.render(gettext_for("en"))


def _line(v: Any) -> str:
    scope = f"  {v.scope}" if v.scope else ""
    return f"{v.role:<12} {v.telegram_id:<14} {v.name}{scope}"


async def run_staff(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from bot.clock import SystemClock
    from bot.services import staff

    clock = SystemClock()
    try:
        async with database(settings) as db, db.session() as session:
            if args.staff_command == "list":
                rows = await staff.list_staff(session)
                for v in rows:
                    print(_line(v), file=out)
                print(f"{len(rows)} staff role(s)", file=out)
                return 0
            if args.staff_command == "add":
                res = await staff.add(
                    session,
                    clock,
                    None,
                    telegram_id=args.telegram_id,
                    name=args.name,
                    role=args.role,
                    community=args.community,
                    grid=args.grid,
                )
                await session.commit()
                if res.added:
                    print(f"added: {_line(res.member)}", file=out)
                else:
                    print(f"already there, nothing changed: {_line(res.member)}", file=out)
                return 0
            removed = await staff.remove(
                session, clock, None, telegram_id=args.telegram_id, role=args.role
            )
            await session.commit()
            if not removed:
                what = f" as {args.role}" if args.role else ""
                print(f"{args.telegram_id} is not on the staff{what}; nothing changed", file=out)
                return 0
            for v in removed:
                print(f"removed: {_line(v)}", file=out)
            return 0
    except Refused as e:
        print(_en(e), file=err)
        return 1


def register_staff_parser(sub: Any) -> None:
    """Add `staff` to the CLI."""

    def cmd(args: argparse.Namespace) -> int:
        return asyncio.run(run_staff(settings_from(args), args, sys.stdout, sys.stderr))

    roles = [r.value for r in StaffRole]
    p = sub.add_parser(
        "staff",
        help="add, remove or list admins, community staff and grid leaders",
        description=STAFF_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ssub = p.add_subparsers(dest="staff_command", required=True)
    add = ssub.add_parser("add", help="give someone a staff role")
    add.add_argument("--role", required=True, choices=roles)
    add.add_argument("--telegram-id", required=True, type=int, help="their numeric Telegram id")
    add.add_argument("--name", required=True, help="their name, as staff see it")
    add.add_argument("--community", help="community code or name (community staff)")
    add.add_argument("--grid", help="grid name or id (grid leaders)")
    add.set_defaults(func=cmd)
    rm = ssub.add_parser("remove", help="take someone's staff roles away")
    rm.add_argument("--telegram-id", required=True, type=int)
    rm.add_argument("--role", choices=roles, help="only this role (default: all their roles)")
    rm.set_defaults(func=cmd)
    ls = ssub.add_parser("list", help="list all staff by role and scope")
    ls.set_defaults(func=cmd)
