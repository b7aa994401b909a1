"""The ledger's sheets of group-buys (团购 #N): one sheet per group-buy opened in the days, still
under way, or delivered in the days; one line per household of the scope that took part: its
building and door, its name and phone (the ledger is staff's, as the orders sheet), the items
and quantities, the amount, when it was delivered to the door and confirmed received, how and
when it paid, and what it reported (and whether staff handled it). A totals row sums the
amounts. Read as plain tuples (`groupbuy_data`), built without a session (`groupbuy_sheets`)."""

from __future__ import annotations

import re
from typing import Any

from bot.i18n import N_, Gettext
from bot.services.reports.sheets.groupbuy_data import GroupBuyData
from bot.services.reports.sheets.labels import GROUPBUY_PAID_HOW as PAID_HOW
from bot.services.reports.sheets.labels import GROUPBUY_PAYMENT as PAYMENT
from bot.services.reports.sheets.labels import GROUPBUY_PROBLEMS as KINDS
from bot.services.reports.sheets.sheet import Sheet, headings, local, totals, yuan

TITLE = N_("Group-buy #{id} {merchant}")
COLUMNS = (
    N_("Building"),
    N_("Door"),
    N_("Resident"),
    N_("Phone"),
    N_("Items"),
    N_("Amount (¥)"),
    N_("Payment"),
    N_("Delivered at"),
    N_("Received at"),
    N_("Paid"),
    N_("Paid at"),
    N_("Problems"),
)
MONEY = frozenset({COLUMNS.index(N_("Amount (¥)"))})
HANDLED = N_("handled")
NOT_HANDLED = N_("not handled")
# What a sheet's name may not hold (Excel), and its length.
_NOT_IN_TITLE = re.compile(r"[\[\]:*?/\\]")


def _title(_: Gettext, gid: int, merchant: str) -> str:
    return _NOT_IN_TITLE.sub(" ", _(TITLE).format(id=gid, merchant=merchant))[:31].strip()


def groupbuy_sheets(data: GroupBuyData, tz: str, _: Gettext) -> list[Sheet]:
    """One sheet per group-buy with households in scope."""
    doors = {(g, rid): d for g, rid, *d in data.doors}
    problems: dict[int, list[str]] = {}
    for door_id, item, kind, note, handled_at in data.problems:
        state = _(HANDLED) if handled_at is not None else _(NOT_HANDLED)
        said = f" “{note}”" if note else ""
        problems.setdefault(door_id, []).append(
            f"{item} {_(KINDS.get(kind, kind))}{said} ({state})"
        )
    households: dict[tuple[int, int], list[tuple[Any, ...]]] = {}
    for line in data.lines:
        households.setdefault((line[0], line[1]), []).append(line)
    sheets = []
    for gid, merchant, payment in data.heads:
        rows: list[tuple[Any, ...]] = []
        for (g, rid), lines in households.items():
            if g != gid:
                continue
            _g, _r, compound, building, unit, room, name, phone = lines[0][:8]
            door = doors.get((gid, rid))
            door_id, delivered, received, paid_at, paid_how = door or (None,) * 5
            rows.append(
                (
                    f"{compound} {building}" if compound else building,
                    f"{unit}-{room}",
                    name,
                    phone,
                    ", ".join(f"{li[8]} ×{li[9]}" for li in lines),
                    yuan(sum(li[9] * li[10] for li in lines)),
                    _(PAYMENT.get(payment, payment)),
                    local(delivered, tz),
                    local(received, tz),
                    _(PAID_HOW[paid_how]) if paid_how in PAID_HOW else "",
                    local(paid_at, tz),
                    "; ".join(problems.get(door_id, [])) if door_id is not None else "",
                )
            )
        if rows:
            sheets.append(
                Sheet(
                    _title(_, gid, merchant),
                    headings(COLUMNS, _),
                    rows,
                    MONEY,
                    totals(rows, len(COLUMNS), _, MONEY),
                )
            )
    return sheets
