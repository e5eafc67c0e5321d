"""Reading layers: files → validated, repaired GeoDataFrames in WGS-84.

Modules: :mod:`~gridmgr.io.layers` (the :class:`Layers` bundle of a layers directory; re-exports
the readers), the readers :mod:`~gridmgr.io.units`, :mod:`~gridmgr.io.key_places`,
:mod:`~gridmgr.io.roads` and :mod:`~gridmgr.io.departments`; :mod:`~gridmgr.io.readers` (file
formats, encodings, JSON), :mod:`~gridmgr.io.fields` (field detection), :mod:`~gridmgr.io.validate`
(messages, attribute checks), :mod:`~gridmgr.io.geometry_checks` (geometry checks and repair),
:mod:`~gridmgr.io.hierarchy` (unit levels and parents), :mod:`~gridmgr.io.reproject` (to EPSG:4326,
GCJ-02 suspicion) and :mod:`~gridmgr.io.crs` (CGCS2000, Gauss-Krüger, GCJ-02, BD-09).
"""

from __future__ import annotations

from gridmgr.io.departments import DepartmentTables, read_departments
from gridmgr.io.fields import CODE_FIELDS, NAME_FIELDS, PARENT_FIELDS
from gridmgr.io.key_places import read_key_places
from gridmgr.io.layers import Layers, read_layers
from gridmgr.io.roads import read_roads
from gridmgr.io.units import read_units

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
