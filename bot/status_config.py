"""`[building_status]` of the config (issue 17): the statuses staff may give a building, and
what each means: how supplies reach it (``door``: volunteers carry them to the door;
``pickup``: residents fetch them at the building's distribution point or checkpoint at its
pickup times) and whether its residents may order single errands. The defaults are the three
zones of closed management; a community may use its own labels (a four-colour scheme)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DOOR, PICKUP = "door", "pickup"


class StatusDef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Stored with each change: keep it when relabelling, or old history shows the bare key.
    key: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1, max_length=20)
    delivery: Literal["door", "pickup"] = "door"
    errands: bool = True


def _defaults() -> list[StatusDef]:
    # 封控区: nobody may leave home, so volunteers carry everything to the door. 管控区 and
    # 防范区: residents may go down, so an errand is left at the building's point for them,
    # which saves the volunteers' climbs for the sealed buildings.
    return [
        StatusDef(key="sealed", label="封控区", delivery="door", errands=True),
        StatusDef(key="controlled", label="管控区", delivery="pickup", errands=True),
        StatusDef(key="precaution", label="防范区", delivery="pickup", errands=True),
    ]


def _unique(statuses: list[StatusDef], where: str) -> None:
    for attr in ("key", "label"):
        values = [getattr(s, attr) for s in statuses]
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise ValueError(f"{where}: two statuses have the same {attr}: {', '.join(twice)}")


class BuildingStatusSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    statuses: list[StatusDef] = Field(default_factory=_defaults, min_length=1)
    # A community's own list, by its code (e.g. a four-colour scheme); the others use
    # ``statuses``.
    communities: dict[str, list[StatusDef]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _apart(self) -> BuildingStatusSection:
        _unique(self.statuses, "building_status.statuses")
        for code, own in self.communities.items():
            if not own:
                raise ValueError(f"building_status.communities.{code}: no status")
            _unique(own, f"building_status.communities.{code}")
        return self

    def of(self, community_code: str) -> list[StatusDef]:
        """The statuses a community's buildings may have, in the config's order."""
        return self.communities.get(community_code) or self.statuses

    def find(self, community_code: str, word: str) -> StatusDef | None:
        """The status a staff member named, by its key or label (any case)."""
        w = word.strip().lower()
        return next((s for s in self.of(community_code) if w in (s.key, s.label.lower())), None)

    def get(self, community_code: str, key: str | None) -> StatusDef | None:
        return next((s for s in self.of(community_code) if s.key == key), None)
