"""The ledger's sheets put together, in their order: orders, order events, volunteers,
notices, notice receipts, care list, building status, audit log, then one per group-buy. Pure
once the rows are read (no session): the export builds them in a child process. In Chinese
unless told the reader's language."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Gettext, gettext_for
from bot.services.reports.sheets.audit_sheet import audit_sheet
from bot.services.reports.sheets.buildings_sheet import buildings_sheet
from bot.services.reports.sheets.care_sheet import care_sheet
from bot.services.reports.sheets.data import LedgerData, ledger_data
from bot.services.reports.sheets.events_sheet import events_sheet
from bot.services.reports.sheets.groupbuy_sheet import groupbuy_sheets
from bot.services.reports.sheets.notices_sheet import notices_sheet
from bot.services.reports.sheets.orders_sheet import orders_sheet
from bot.services.reports.sheets.receipts_sheet import receipts_sheet
from bot.services.reports.sheets.sheet import Names, Sheet
from bot.services.reports.sheets.volunteers_sheet import volunteers_sheet
from bot.services.scope import Scope

# The ledger's default language (the command line's; the bot writes it in the staff member's).
ZH = gettext_for("zh_CN")


def build_sheets(data: LedgerData, _: Gettext = ZH) -> list[Sheet]:
    """The ledger's sheets from what was read; each row a plain value per heading."""
    names = Names(data, _)
    return [
        orders_sheet(data, names, _),
        events_sheet(data, names, _),
        volunteers_sheet(data, names, _),
        notices_sheet(data, names, _),
        receipts_sheet(data, _),
        care_sheet(data, names, _),
        buildings_sheet(data, names, _),
        audit_sheet(data, names, _),
        *groupbuy_sheets(data.groupbuys, data.tz, _),
    ]


async def ledger(
    session: AsyncSession,
    scope: Scope,
    day_from: date,
    day_to: date,
    tz: str,
    _: Gettext = ZH,
) -> list[Sheet]:
    """The ledger's sheets for a scope and local days (built here: the command line and the
    tests; the bot's export builds them in a child process, see `reports.export`)."""
    return build_sheets(await ledger_data(session, scope, day_from, day_to, tz), _)
