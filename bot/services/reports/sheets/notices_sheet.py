"""The ledger's notices sheet (通知): each notice created in the days within the scope, its
audience, author and times, and how many it went to, reached and were confirmed."""

from __future__ import annotations

from typing import Any

from bot.i18n import N_, Gettext
from bot.services.reports.sheets.data import LedgerData
from bot.services.reports.sheets.labels import ALL, AUDIENCE
from bot.services.reports.sheets.sheet import Names, Sheet, headings, local, word

TITLE = N_("Notices")
COLUMNS = (
    N_("Notice no."),
    N_("Community"),
    N_("Grid"),
    N_("Audience"),
    N_("Text"),
    N_("Sender"),
    N_("Created at"),
    N_("Scheduled for"),
    N_("Sent at"),
    N_("Cancelled at"),
    N_("Recipients"),
    N_("Delivered"),
    N_("Confirmed"),
)


def notices_sheet(data: LedgerData, names: Names, _: Gettext) -> Sheet:
    tz = data.tz
    per_notice: dict[int, list[tuple[Any, ...]]] = {}
    for row in data.deliveries:
        per_notice.setdefault(row[0], []).append(row)
    rows: list[tuple[Any, ...]] = []
    for (
        nid,
        community_id,
        grid_id,
        audience,
        text,
        author,
        created_at,
        send_at,
        sent_at,
        cancelled_at,
    ) in data.notices:
        ds = per_notice.get(nid, [])
        rows.append(
            (
                nid,
                data.communities.get(community_id, "") if community_id else _(ALL),
                names.grid(grid_id),
                word(AUDIENCE, audience, _),
                text,
                names.who(author),
                local(created_at, tz),
                local(send_at, tz),
                local(sent_at, tz),
                local(cancelled_at, tz),
                len(ds),
                sum(1 for d in ds if d[4] == "sent"),
                sum(1 for d in ds if d[6] is not None),
            )
        )
    return Sheet(_(TITLE), headings(COLUMNS, _), rows)
