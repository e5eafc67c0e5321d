"""Domain errors of gridmgr.

Every concrete error subclasses :class:`GridMgrError` *and* the builtin that fits it, so callers
may catch either. Messages are built before raising and name the file, feature, field and fix.
``api/errors.py`` maps these classes to HTTP statuses in one place.
"""

from __future__ import annotations


class GridMgrError(Exception):
    """Base class of every error gridmgr raises on purpose."""


class InputError(GridMgrError, ValueError):
    """Input data (a file, a row, a parameter) is not acceptable."""


class InvalidGeometryError(InputError):
    """A geometry is empty, self-intersecting, of the wrong type or out of range."""


class InvalidFieldError(InputError):
    """A required attribute is missing, malformed or duplicated."""


class CRSError(InputError):
    """A coordinate reference system is unknown or the data does not fit it."""


class HierarchyError(InputError):
    """Unit codes and parents do not form a valid hierarchy."""


class NotFoundError(GridMgrError, LookupError):
    """Something named by the caller does not exist."""


class UnitNotFoundError(NotFoundError):
    """A unit code is not in the store or layer."""


class LeaderNotFoundError(NotFoundError):
    """A leader id is not in the store."""


class PlanNotFoundError(NotFoundError):
    """A rebalance plan id is not in the store."""


class ConflictError(GridMgrError, RuntimeError):
    """A change conflicts with the current state of the store."""


class NothingToMoveError(ConflictError):
    """A rebalance would move no piece: the scope is already within the target (no plan saved)."""


class StaleVersionError(ConflictError):
    """An edit was based on a version that is no longer current (optimistic concurrency)."""

    def __init__(self, message: str, pieces: list[str] | None = None) -> None:
        super().__init__(message)
        self.pieces = list(pieces or [])


class OrphanedAssignmentsError(ConflictError):
    """Loading changed layers would drop pieces that still have assignments."""


class InfeasibleError(GridMgrError, RuntimeError):
    """A model (assignment, rebalance) cannot meet its target; the message says why."""


class PermissionDeniedError(GridMgrError, PermissionError):
    """The actor may not perform this operation."""


# --- ingestion (gridmgr.io.layers): one specific class per kind of bad input -------------------------


class UnreadableFileError(InputError):
    """A layer file is missing, not parseable, or of an unsupported format."""


class MissingFieldError(InvalidFieldError):
    """A required attribute column is absent, or a feature leaves it empty."""


class DuplicateCodeError(InvalidFieldError):
    """Two features carry the same code."""


class UnknownParentError(HierarchyError):
    """A unit names a parent code that is not in the layer (or is not a higher level)."""


class EmptyGeometryError(InvalidGeometryError):
    """A feature has no geometry or an empty one."""


class GeometryTypeError(InvalidGeometryError):
    """A feature's geometry is of the wrong type (e.g. a point in a polygon layer)."""


class RingError(InvalidGeometryError):
    """A polygon ring is not closed or has fewer than 4 positions."""


class SelfIntersectionError(InvalidGeometryError):
    """A polygon is not valid (self-intersection, bow-tie, ring crossing) and repair is off."""


class CoordinateRangeError(InvalidGeometryError):
    """Coordinates are not finite or lie outside any plausible area (China's bounding box)."""


class SwappedAxesError(CRSError):
    """Latitude and longitude look swapped (x holds latitudes, y longitudes)."""


class CRSMismatchError(CRSError):
    """Coordinates do not fit the declared CRS (e.g. projected metres in a file declared lon/lat)."""


class CRSSuspicionWarning(UserWarning):
    """A layer looks like it is in another CRS than declared (e.g. GCJ-02 labelled as WGS-84)."""


class HierarchyWarning(UserWarning):
    """Units overlap their siblings or lie outside their parent, and the load was asked to go on."""


class SchemaError(GridMgrError, RuntimeError):
    """The database has no gridmgr schema, or an older one; run ``gridmgr db upgrade``."""


class FontNotFoundError(GridMgrError, RuntimeError):
    """No CJK font is installed, so Chinese labels cannot be drawn on static maps."""


class PatrolNotFoundError(NotFoundError):
    """A patrol id is not in the store (or not one the caller may write)."""
