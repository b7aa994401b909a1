"""The ledger's audit log sheet (操作记录): what staff did in the days (added or removed staff,
bound a group, sent a notice, exported the ledger), by the staff acting within the scope."""

from __future__ import annotations

import json

from bot.i18n import N_, Gettext
from bot.services.reports.sheets.data import LedgerData
from bot.services.reports.sheets.labels import ACTIONS
from bot.services.reports.sheets.sheet import Names, Sheet, headings, local, word

TITLE = N_("Audit log")
COLUMNS = (
    N_("When"),
    N_("By"),
    N_("Telegram ID"),
    N_("Action"),
    N_("Action code"),
    N_("Target"),
    N_("Details"),
)


def audit_sheet(data: LedgerData, names: Names, _: Gettext) -> Sheet:
    rows = [
        (
            local(at, data.tz),
            names.who(actor_tid),
            actor_tid,
            word(ACTIONS, action, _),
            action,
            target,
            json.dumps(details, ensure_ascii=False) if details else "",
        )
        for at, actor_tid, action, target, details in data.audit
    ]
    return Sheet(_(TITLE), headings(COLUMNS, _), rows)
