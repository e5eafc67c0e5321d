"""Value types of the store API: changes, reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Change:
    """One requested assignment change.

    Parameters
    ----------
    piece
        A piece id (``int``, the store's primary key) or a cell (``str``, h3 index): a cell names
        every piece of that cell (a cell on a unit border is split into several pieces).
    leader_id
        The new owner, or ``None`` to leave the piece unassigned (it becomes a blind spot 盲点).
    expected_version
        The version the caller saw; the change is refused with
        :class:`~gridmgr.errors.StaleVersionError` when the piece has moved on since.
        ``None`` means "whatever the current version is".
    fallback
        The new owner holds the piece as the community's territorial default (属地兜底).
    """

    piece: int | str
    leader_id: str | None
    expected_version: int | None = None
    fallback: bool = False


@dataclass(frozen=True)
class ChangeResult:
    """Outcome of :meth:`Store.apply_changes`: the change set written and what it touched."""

    changeset_id: str | None
    changed: int
    unchanged: int
    cells: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class TableDiff:
    """Rows added, removed and changed in one table by a load."""

    added: int = 0
    removed: int = 0
    changed: int = 0

    @property
    def total(self) -> int:
        """Number of rows touched."""
        return self.added + self.removed + self.changed


@dataclass(frozen=True)
class LoadReport:
    """What :meth:`Store.load_layers` changed (or, when refused, would have changed)."""

    res: int
    source: str | None
    changeset_id: str | None
    units: TableDiff
    pieces: TableDiff
    key_places: TableDiff
    departments: TableDiff
    categories: TableDiff
    pieces_added: tuple[str, ...] = ()
    pieces_removed: tuple[str, ...] = ()
    orphaned: tuple[dict[str, Any], ...] = ()

    @property
    def changes(self) -> int:
        """Total rows touched in all layer tables (0: the store already held these layers)."""
        return sum(
            d.total
            for d in (self.units, self.pieces, self.key_places, self.departments, self.categories)
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (piece lists truncated to 100 cells)."""
        out = asdict(self)
        out["pieces_added"] = list(self.pieces_added[:100])
        out["pieces_removed"] = list(self.pieces_removed[:100])
        out["orphaned"] = [dict(o) for o in self.orphaned[:100]]
        out["changes"] = self.changes
        return out


@dataclass(frozen=True)
class LeadersImportReport:
    """Outcome of :meth:`Store.import_leaders`."""

    path: str
    rows: int
    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: int = 0
    changeset_id: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class AssignmentsImportReport:
    """Outcome of :meth:`Store.import_assignments`."""

    path: str
    rows: int
    changed: int
    unchanged: int
    changeset_id: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)
