"""`paotui merchant add|import|list`: partner merchants (爱心商家) and their product lists."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

from bot.config import Settings
from bot.errors import Refused
from bot.i18n import gettext_for
from cli.common import database, read_text, settings_from

MERCHANT_HELP = """\
Partner merchants (爱心商家) deliver group-buys (团购) in bulk to a distribution point.

  paotui merchant add --name 爱心超市 --kind 超市 --contact 5550001 --community xingfu
  paotui merchant import 爱心超市 products.csv
  paotui merchant list

--contact is the Telegram id of the merchant's contact person: they get the consolidated
orders in their private chat (with the XLSX of lines per door) and mark them delivered.
--community (repeatable) names a community served, by code or name. Adding a merchant that
exists changes its kind, contact and adds communities.

The product list is a CSV file (UTF-8) with the header name,unit,price:

  name,unit,price
  白菜,斤,3.50
  鸡蛋,盒,12

Every line is checked first: if any is bad, each is printed with its number and the reason,
nothing is imported and the exit status is 1. A product already on the list (same name) is
updated; products not in the file stay. Staff can also send the same file to the bot, with
the caption 商家 NAME.
"""


def _en(e: Refused) -> str:
    return e.render(gettext_for("en"))


async def run_merchant(
    settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO
) -> int:
    from bot.clock import SystemClock
    from bot.services.groupbuys import merchants

    clock = SystemClock()
    text = ""
    if args.merchant_command == "import":
        got = read_text(args.file)
        if got is None:
            return 2
        text = got
    try:
        async with database(settings) as db, db.session() as session:
            if args.merchant_command == "add":
                added, created = await merchants.add(
                    session,
                    clock,
                    None,
                    name=args.name,
                    kind=args.kind,
                    contact_telegram_id=args.contact,
                    communities=args.community or [],
                )
                verb = "added" if created else "updated"
                print(f"{verb}: #{added.id} {added.name} ({added.kind})", file=out)
                return 0
            if args.merchant_command == "list":
                from sqlalchemy import select

                from models import Merchant

                for m in await session.scalars(select(Merchant).order_by(Merchant.id)):
                    items = await merchants.products(session, m.id)
                    print(
                        f"#{m.id} {m.name} ({m.kind}) contact {m.contact_telegram_id}: "
                        f"{len(items)} product(s)",
                        file=out,
                    )
                return 0
            merchant = await merchants.find(session, args.merchant)
            result = await merchants.import_products(session, clock, None, merchant, text)
            if result.errors:
                await session.rollback()
                for line, reason in result.errors:
                    print(f"{args.file}:{line}: {reason}", file=err)
                print(
                    f"nothing imported: {len(result.errors)} bad line(s) of {result.rows}",
                    file=err,
                )
                return 1
            print(
                f"{merchant.name}: {result.created} new, {result.updated} changed, "
                f"{result.unchanged} unchanged",
                file=out,
            )
            return 0
    except Refused as e:
        print(_en(e), file=err)
        return 1


def register_merchant_parser(sub: Any) -> None:
    """Add `merchant` to the CLI."""

    def cmd(args: argparse.Namespace) -> int:
        return asyncio.run(run_merchant(settings_from(args), args, sys.stdout, sys.stderr))

    p = sub.add_parser(
        "merchant",
        help="partner merchants (爱心商家) and their product lists",
        description=MERCHANT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    msub = p.add_subparsers(dest="merchant_command", required=True)
    add = msub.add_parser("add", help="add a merchant (or change one of that name)")
    add.add_argument("--name", required=True)
    add.add_argument("--kind", required=True, help="超市, 药店, 菜店 ...")
    add.add_argument("--contact", required=True, type=int, help="the contact's Telegram id")
    add.add_argument(
        "--community", action="append", help="a community served (code or name); repeatable"
    )
    add.set_defaults(func=cmd)
    imp = msub.add_parser("import", help="import a product list (CSV: name,unit,price)")
    imp.add_argument("merchant", help="the merchant's name or id")
    imp.add_argument("file", help="the CSV file")
    imp.set_defaults(func=cmd)
    ls = msub.add_parser("list", help="list the merchants")
    ls.set_defaults(func=cmd)
