"""The ledger's notice receipts sheet (通知回执): one row per chat a notice went to, whether it
was sent, when it arrived, when the household confirmed, and how often it was sent again."""

from __future__ import annotations

from bot.i18n import N_, Gettext
from bot.services.reports.sheets.data import LedgerData
from bot.services.reports.sheets.labels import DELIVERY, WAITING
from bot.services.reports.sheets.sheet import Sheet, headings, local

TITLE = N_("Notice receipts")
COLUMNS = (
    N_("Notice no."),
    N_("Chat ID"),
    N_("Resident"),
    N_("Building"),
    N_("Send status"),
    N_("Delivered at"),
    N_("Confirmed at"),
    N_("Resent"),
)


def receipts_sheet(data: LedgerData, _: Gettext) -> Sheet:
    rows = [
        (
            notice_id,
            chat_id,
            resident or "",
            data.buildings.get(building_id, "") if building_id else "",
            _(DELIVERY.get(status, WAITING)),
            local(sent_at, data.tz),
            local(confirmed_at, data.tz),
            resent,
        )
        for (
            notice_id,
            chat_id,
            resident,
            building_id,
            status,
            sent_at,
            confirmed_at,
            resent,
        ) in data.deliveries
    ]
    return Sheet(_(TITLE), headings(COLUMNS, _), rows)
