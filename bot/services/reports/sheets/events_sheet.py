"""The ledger's order events sheet (订单记录): every status change of the orders of the scope
in the days, who made it (resident, volunteer, staff, system) and the note."""

from __future__ import annotations

from bot.i18n import N_, Gettext
from bot.services import notify
from bot.services.reports.sheets.data import LedgerData
from bot.services.reports.sheets.labels import ACTORS
from bot.services.reports.sheets.sheet import Names, Sheet, headings, label, local, word

TITLE = N_("Order events")
COLUMNS = (
    N_("Order no."),
    N_("When"),
    N_("Actor"),
    N_("By"),
    N_("Telegram ID"),
    N_("From status"),
    N_("To status"),
    N_("Note"),
)


def events_sheet(data: LedgerData, names: Names, _: Gettext) -> Sheet:
    rows = [
        (
            order_id,
            local(at, data.tz),
            word(ACTORS, actor, _),
            names.who(actor_tid),
            actor_tid,
            label(notify.STATUS, from_status, _),
            label(notify.STATUS, to_status, _),
            note or "",
        )
        for order_id, at, actor, actor_tid, from_status, to_status, note in data.events
    ]
    return Sheet(_(TITLE), headings(COLUMNS, _), rows)
