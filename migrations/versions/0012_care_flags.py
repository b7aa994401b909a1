"""care_flags: one row per care flag of a household, in one vocabulary, replacing the two
comma-separated columns residents.care_flags (what the household declared: alone, mobility,
chronic) and residents.vulnerable (what staff marked: elderly_alone, mobility, disabled,
chronic), and residents.care_marked_by (now each flag's set_by)

Upgrade moves every value: the household's "alone" becomes elderly_alone, the other keys keep
their names, unknown keys are dropped. A flag the household declared is set_by its own
Telegram id (set_at: its consent time); one staff marked is set_by care_marked_by (set_at: the
row's updated_at). A flag that was in both columns becomes one row, the household's.
Downgrade puts the household's own flags back into care_flags (elderly_alone as "alone";
nothing else of the new vocabulary lacks a household key) and every other flag into
vulnerable, with care_marked_by the latest staff marker.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The one vocabulary (models.CareFlag), in its order; each old key set mapped onto it.
ORDER = ("elderly_alone", "mobility", "disabled", "chronic")
FROM_HOUSEHOLD = {"alone": "elderly_alone", "mobility": "mobility", "chronic": "chronic"}
FROM_STAFF = {key: key for key in ORDER}
TO_HOUSEHOLD = {new: old for old, new in FROM_HOUSEHOLD.items()}

RESIDENTS = sa.table(
    "residents",
    sa.column("id", sa.Integer()),
    sa.column("telegram_id", sa.BigInteger()),
    sa.column("care_flags", sa.String()),
    sa.column("care_consent_at", models.base.UTCDateTime()),
    sa.column("vulnerable", sa.String()),
    sa.column("care_marked_by", sa.BigInteger()),
    sa.column("updated_at", models.base.UTCDateTime()),
)
CARE_FLAGS = sa.table(
    "care_flags",
    sa.column("resident_id", sa.Integer()),
    sa.column("flag", sa.String()),
    sa.column("set_by", sa.BigInteger()),
    sa.column("set_at", models.base.UTCDateTime()),
)


def _keys(value: str | None, mapping: dict[str, str]) -> list[str]:
    """The comma-separated old keys, mapped onto the vocabulary (unknown keys dropped)."""
    found = {mapping[k.strip()] for k in (value or "").split(",") if k.strip() in mapping}
    return [k for k in ORDER if k in found]


def upgrade() -> None:
    op.create_table(
        "care_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("flag", sa.String(length=16), nullable=False),
        sa.Column("set_by", sa.BigInteger(), nullable=True),
        sa.Column("set_at", models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_care_flags_resident_id_residents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_flags")),
        sa.UniqueConstraint("resident_id", "flag", name=op.f("uq_care_flags_resident_id")),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(RESIDENTS).where(
            sa.or_(RESIDENTS.c.care_flags.is_not(None), RESIDENTS.c.vulnerable.is_not(None))
        )
    ).all()
    moved = []
    for r in rows:
        flags: dict[str, dict[str, object]] = {}
        for key in _keys(r.vulnerable, FROM_STAFF):
            flags[key] = {"set_by": r.care_marked_by, "set_at": r.updated_at}
        for key in _keys(r.care_flags, FROM_HOUSEHOLD):  # the household's own wins
            flags[key] = {"set_by": r.telegram_id, "set_at": r.care_consent_at or r.updated_at}
        moved += [{"resident_id": r.id, "flag": key, **flags[key]} for key in ORDER if key in flags]
    if moved:
        op.bulk_insert(CARE_FLAGS, moved)
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("care_marked_by")
        batch.drop_column("vulnerable")
        batch.drop_column("care_flags")


def downgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("care_flags", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("vulnerable", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("care_marked_by", sa.BigInteger(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(
            CARE_FLAGS.c.resident_id,
            CARE_FLAGS.c.flag,
            CARE_FLAGS.c.set_by,
            CARE_FLAGS.c.set_at,
            RESIDENTS.c.telegram_id,
        )
        .join(RESIDENTS, RESIDENTS.c.id == CARE_FLAGS.c.resident_id)
        .order_by(CARE_FLAGS.c.resident_id, CARE_FLAGS.c.set_at)
    ).all()
    own: dict[int, set[str]] = {}
    marked: dict[int, set[str]] = {}
    marker: dict[int, int | None] = {}
    for r in rows:
        if r.set_by == r.telegram_id and r.flag in TO_HOUSEHOLD:
            own.setdefault(r.resident_id, set()).add(TO_HOUSEHOLD[r.flag])
        else:
            marked.setdefault(r.resident_id, set()).add(r.flag)
            marker[r.resident_id] = r.set_by  # ordered by set_at: the latest wins
    for rid in own.keys() | marked.keys():
        conn.execute(
            sa.update(RESIDENTS)
            .where(RESIDENTS.c.id == rid)
            .values(
                # The household's keys sorted, as it stored them; staff's in their order.
                care_flags=",".join(sorted(own.get(rid, ()))) or None,
                vulnerable=",".join(k for k in ORDER if k in marked.get(rid, ())) or None,
                care_marked_by=marker.get(rid),
            )
        )
    op.drop_table("care_flags")
