"""The ledger's notices sheet (通知): each notice created in the days within the scope, its
audience and where it went by name (幸福小区 2栋, 第一网格), author and times, and how many it
went to, reached and were confirmed (with their totals)."""

from __future__ import annotations

from typing import Any

from bot.i18n import N_, Gettext
from bot.services.reports.sheets.data import LedgerData
from bot.services.reports.sheets.labels import ALL, AUDIENCE
from bot.services.reports.sheets.sheet import Names, Sheet, headings, local, totals, word

TITLE = N_("Notices")
COLUMNS = (
    N_("Notice no."),
    N_("Community"),
    N_("Grid"),
    N_("Audience"),
    N_("Sent to"),
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
SUMS = frozenset(COLUMNS.index(c) for c in (N_("Recipients"), N_("Delivered"), N_("Confirmed")))


def _sent_to(
    names: Names,
    audience: str,
    community_id: int | None,
    grid_id: int | None,
    audience_id: int | None,
) -> str:
    """Where a notice went, by name: a building with its compound, else a grid, else a
    community, else every community. (The care list and the volunteers: of a grid or of a
    community.)"""
    if audience == "building" and audience_id is not None:
        return names.place(f"b{audience_id}")
    if grid_id is not None:
        return names.place(f"g{grid_id}")
    if community_id is not None:
        return names.place(f"c{community_id}")
    return names.place("all")


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
        audience_id,
    ) in data.notices:
        ds = per_notice.get(nid, [])
        rows.append(
            (
                nid,
                data.communities.get(community_id, "") if community_id else _(ALL),
                names.grid(grid_id),
                word(AUDIENCE, audience, _),
                _sent_to(names, audience, community_id, grid_id, audience_id),
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
    return Sheet(_(TITLE), headings(COLUMNS, _), rows, totals=totals(rows, len(COLUMNS), _, SUMS))
