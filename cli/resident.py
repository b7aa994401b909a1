"""`paotui resident forget --phone ...`: erase a household's personal data on request (PIPL)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

from bot.config import Settings
from cli.common import database, settings_from

RESIDENT_HELP = """\
Erase a household's personal data when they ask (PIPL, China's Personal Information
Protection Law), or when they have moved away:

  paotui resident forget --phone 13800001001

Erased: the resident's name, phone, unit, room and care marks; the people they ordered for;
their care check-ins; the descriptions, details, photos, voice notes, thanks and reasons of
their orders; the messages between them and their runners; their unfinished order forms; the
updates they sent to the bot; the texts of the messages the bot sent them; their saved
conversations and language. Someone else's orders *for* this phone number lose their contact
and room the same way.

Kept, anonymised, for the ledger (台账): each order's kind, status, urgency, times, amount
spent, grid, building and runner. Staff counts and reports stay right.

Refused (exit 1) while an order concerned is still under way: finish or cancel it first.
Exit 1 too when no resident, recipient or order has this phone number. Written to the audit
log (without the phone number). There is no undo.
"""


async def run_forget(settings: Settings, phone: str, out: TextIO, err: TextIO) -> int:
    from bot.clock import SystemClock
    from bot.runtime import Runtime
    from bot.services import privacy

    async with database(settings) as db:
        rt = Runtime(settings, db, SystemClock())
        try:
            async with db.session() as session:
                done = await privacy.forget(rt, session, phone)
        except privacy.NoSuchPhone:
            print(
                f"no resident, recipient or order has the phone number {phone}; nothing erased",
                file=err,
            )
            return 1
        except privacy.StillUnderWay as exc:
            ids = ", ".join(f"#{i}" for i in exc.order_ids)
            print(
                f"orders {ids} of this household are still under way; finish or cancel them "
                "first. Nothing erased.",
                file=err,
            )
            return 1
    for line in done.lines():
        print(line, file=out)
    return 0


def register_resident_parser(sub: Any) -> None:
    """Add `resident` to the CLI."""

    def cmd(args: argparse.Namespace) -> int:
        return asyncio.run(run_forget(settings_from(args), args.phone, sys.stdout, sys.stderr))

    p = sub.add_parser(
        "resident",
        help="residents' personal data (forget a household)",
        description=RESIDENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rsub = p.add_subparsers(dest="resident_command", required=True)
    forget = rsub.add_parser(
        "forget",
        help="erase a household's personal data; its orders stay in the ledger, anonymised",
        description=RESIDENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    forget.add_argument("--phone", required=True, help="the household's phone number")
    forget.set_defaults(func=cmd)
