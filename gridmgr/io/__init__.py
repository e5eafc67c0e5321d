"""Reading layers: files → validated, repaired GeoDataFrames in WGS-84.

Modules: :mod:`~gridmgr.io.layers` (the layer readers and the :class:`Layers` bundle),
:mod:`~gridmgr.io.readers` (file formats, encodings), :mod:`~gridmgr.io.validate` (fields,
geometry checks and repair), :mod:`~gridmgr.io.crs` (CGCS2000, Gauss-Krüger, GCJ-02, BD-09).
"""

from __future__ import annotations

from gridmgr.io.layers import (
    CODE_FIELDS,
    NAME_FIELDS,
    PARENT_FIELDS,
    DepartmentTables,
    Layers,
    read_departments,
    read_key_places,
    read_layers,
    read_roads,
    read_units,
)

__all__ = [
    "CODE_FIELDS",
    "DepartmentTables",
    "Layers",
    "NAME_FIELDS",
    "PARENT_FIELDS",
    "read_departments",
    "read_key_places",
    "read_layers",
    "read_roads",
    "read_units",
]
