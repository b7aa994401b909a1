"""The ledger's audit log sheet (操作记录): what staff did in the days (staff, volunteers, the
care list, the roster, notices, exports), by the staff acting within the scope, in words: the
action's name, the person or place it was done to by name ("周阿姨", "幸福小区 2栋", not
`resident:1`), and its details as "label: value" (not the JSON they are stored as)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.i18n import N_, Gettext
from bot.services.care import FLAGS
from bot.services.reports.sheets.data import LedgerData
from bot.services.reports.sheets.labels import (
    ACTIONS,
    ALL,
    AUDIENCE,
    DETAIL,
    DETAIL_SEPARATOR,
    DETAILS,
    ERASED,
    LIST_SEPARATOR,
    NO,
    NOBODY,
    NONE,
    NOTICE_NO,
    ORDER_NO,
    VIA,
    YES,
)
from bot.services.reports.sheets.sheet import Names, Sheet, headings, local, word
from bot.services.staff import ROLE_WORDS

TITLE = N_("Audit log")
COLUMNS = (
    N_("When"),
    N_("By"),
    N_("Telegram ID"),
    N_("Action"),
    N_("Target"),
    N_("Details"),
)
# Details whose value is a Telegram id (a person), a grid's id, a volunteer's id.
_PEOPLE = frozenset({"responsible"})
_GRIDS = frozenset({"grid_id", "from_grid_id", "to_grid_id"})


class _Words:
    """An audit row's target and details in words, for one sheet."""

    def __init__(self, data: LedgerData, names: Names, _: Gettext) -> None:
        self.data, self.names, self._ = data, names, _

    def resident(self, rid: str) -> str:
        name = self.data.residents.get(int(rid)) if rid.isdigit() else None
        return name or self._(ERASED)

    def volunteer(self, vid: Any) -> str:
        v = self.names.volunteers.get(int(vid)) if str(vid).isdigit() else None
        return str(v[2]) if v else str(vid)

    def person(self, tid: Any, name: Any = None) -> str:
        """Who a Telegram id is (staff, volunteer), else the name the row gave, else the id."""
        if tid is None:
            return self._(NOBODY)
        known = self.names.who(int(tid)) if str(tid).isdigit() else ""
        return known or (str(name) if name else str(tid))

    def grid(self, gid: Any) -> str:
        return self.names.grid(int(gid)) if str(gid).isdigit() else str(gid)

    def target(self, action: str, target: str, details: dict[str, Any]) -> str:
        """`resident:1` as the resident's name, `grid:3` as the grid's, a notice's
        `building:b5` as "Building: 幸福小区 2栋", and so on; anything else as it is."""
        _ = self._
        kind, sep, key = target.partition(":")
        if action == "report.exported":
            first, dots, last = target.partition("..")
            return f"{first} – {last}" if dots else (_(ALL) if target == "all" else target)
        if not sep:
            return target
        if kind == "resident":
            return self.resident(key)
        if kind == "residents":
            return _(LIST_SEPARATOR).join(self.resident(r) for r in key.split(","))
        if kind == "staff":  # removed staff are no longer known: the name the row kept
            return self.person(key, details.get("name"))
        if kind == "volunteer":
            return self.volunteer(key)
        if kind == "order":
            return _(ORDER_NO).format(n=key)
        if kind == "notice":
            return _(NOTICE_NO).format(n=key)
        if kind == "grid" and key.isdigit():
            return self.grid(key)
        if kind in AUDIENCE:  # a notice's audience and its target: g3, b5, c1, all
            return _(DETAIL).format(label=word(AUDIENCE, kind, _), value=self.names.place(key))
        return target

    def value(self, action: str, key: str, value: Any) -> str:
        _ = self._
        # "was" is the responsible person before (care.assign) or the isolation's end before.
        person = key in _PEOPLE or (key == "was" and action == "care.assign")
        if value is None:
            return _(NOBODY) if person else _(NONE)
        if isinstance(value, bool):
            return _(YES) if value else _(NO)
        if person:
            return self.person(value)
        if key in _GRIDS:
            return self.grid(value)
        if key == "volunteer_id":
            return self.volunteer(value)
        if key == "flag":
            return str(word(FLAGS, value, _))
        if key == "flags":  # "elderly_alone,chronic" (a list in older rows)
            flags = value.split(",") if isinstance(value, str) else list(value)
            return _(LIST_SEPARATOR).join(str(word(FLAGS, f, _)) for f in flags if f)
        if key == "days" and isinstance(value, str):  # 2026-11-01..2026-11-23
            return value.replace("..", " – ")
        if key == "via":
            return str(word(VIA, value, _))
        if key == "role":
            return str(word(ROLE_WORDS, value, _))
        if key == "starts_at" and isinstance(value, str):
            try:
                at = local(datetime.fromisoformat(value), self.data.tz)
            except ValueError:
                return value
            return at.strftime("%Y-%m-%d %H:%M") if at else value
        if isinstance(value, list):
            return _(LIST_SEPARATOR).join(str(v) for v in value)
        if isinstance(value, dict):
            return _(DETAIL_SEPARATOR).join(f"{k}: {v}" for k, v in value.items())
        return str(value)

    def details(self, action: str, details: dict[str, Any] | None) -> str:
        """Each detail as "label: value", in the reader's language."""
        if not details:
            return ""
        _ = self._
        return _(DETAIL_SEPARATOR).join(
            _(DETAIL).format(label=word(DETAILS, k, _), value=self.value(action, k, v))
            for k, v in details.items()
        )


def audit_sheet(data: LedgerData, names: Names, _: Gettext) -> Sheet:
    words = _Words(data, names, _)
    rows = [
        (
            local(at, data.tz),
            names.who(actor_tid) or data.resident_actors.get(actor_tid, ""),
            actor_tid,
            word(ACTIONS, action, _),
            words.target(action, target, details or {}),
            words.details(action, details),
        )
        for at, actor_tid, action, target, details in data.audit
    ]
    return Sheet(_(TITLE), headings(COLUMNS, _), rows)
