"""Migration 0012: both old kinds of care flags (the household's comma-separated
residents.care_flags and staff's residents.vulnerable) move into the care_flags table, in one
vocabulary, and the downgrade puts them back."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from bot.migrate import alembic_config, upgrade

NOW = "2026-11-30 08:00:00.000000"
CONSENT = "2026-11-29 07:00:00.000000"
STAFF = 9001


def _engine(path: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{path}")


def _old_rows(path: Path) -> None:
    """Households as 0011 stored them: every combination of the two columns."""
    with _engine(path).begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO communities (id, code, name, timezone, created_at) "
                "VALUES (1, 'c', 'C', 'Asia/Shanghai', :now)"
            ),
            {"now": NOW},
        )
        conn.execute(sa.text("INSERT INTO grids (id, community_id, name) VALUES (1, 1, 'G')"))
        conn.execute(sa.text("INSERT INTO compounds (id, community_id, name) VALUES (1, 1, 'P')"))
        conn.execute(
            sa.text(
                "INSERT INTO buildings (id, grid_id, compound_id, name, code, units) "
                "VALUES (1, 1, 1, 'B', 'b1', 1)"
            )
        )
        households = [
            # id, telegram id, the household's care_flags, staff's vulnerable, care_marked_by
            (1, 1001, "alone", None, None),
            (2, 1002, None, "elderly_alone,chronic", STAFF),
            (3, 1003, "chronic,mobility", "mobility,disabled", STAFF),
            (4, 1004, None, None, None),
            (5, 1005, "alone,bogus", "", None),
        ]
        for rid, tid, own, marked, by in households:
            conn.execute(
                sa.text(
                    "INSERT INTO residents (id, telegram_id, name, phone, building_id, unit, "
                    "room, care_flags, care_consent_at, vulnerable, care_marked_by, created_at, "
                    "updated_at) VALUES (:id, :tid, 'R', '138', 1, '1', '101', :own, :consent, "
                    ":marked, :by, :now, :now)"
                ),
                {
                    "id": rid,
                    "tid": tid,
                    "own": own,
                    "consent": CONSENT if own else None,
                    "marked": marked,
                    "by": by,
                    "now": NOW,
                },
            )


def _flags(path: Path) -> set[tuple[int, str, int | None, str]]:
    with _engine(path).connect() as conn:
        rows = conn.execute(sa.text("SELECT resident_id, flag, set_by, set_at FROM care_flags"))
        return {(r, f, by, str(at)) for r, f, by, at in rows}


def _columns(path: Path) -> dict[int, tuple[str | None, str | None, int | None]]:
    with _engine(path).connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, care_flags, vulnerable, care_marked_by FROM residents ORDER BY id")
        )
        return {rid: (own, marked, by) for rid, own, marked, by in rows}


def test_both_kinds_of_old_flags_move_to_the_table_and_back(tmp_path: Path) -> None:
    path = tmp_path / "paotui.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0011")
    _old_rows(path)

    upgrade(url, "0012")
    moved = _flags(path)
    assert moved == {
        (1, "elderly_alone", 1001, CONSENT),  # the household's "alone"
        (2, "elderly_alone", STAFF, NOW),
        (2, "chronic", STAFF, NOW),
        (3, "mobility", 1003, CONSENT),  # in both columns: one row, the household's
        (3, "disabled", STAFF, NOW),
        (3, "chronic", 1003, CONSENT),
        (5, "elderly_alone", 1005, CONSENT),  # "bogus" dropped
    }
    with _engine(path).connect() as conn:
        names = {c["name"] for c in sa.inspect(conn).get_columns("residents")}
    assert not names & {"care_flags", "vulnerable", "care_marked_by"}

    command.downgrade(alembic_config(url), "0011")
    assert _columns(path) == {
        1: ("alone", None, None),
        2: (None, "elderly_alone,chronic", STAFF),
        3: ("chronic,mobility", "disabled", STAFF),
        4: (None, None, None),
        5: ("alone", None, None),
    }
    with _engine(path).connect() as conn:
        assert "care_flags" not in sa.inspect(conn).get_table_names()

    upgrade(url, "0012")  # and up again: the same rows
    assert _flags(path) == moved
