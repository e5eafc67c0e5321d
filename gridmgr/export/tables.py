"""Briefing tables of an :class:`~gridmgr.export.data.ExportData`: leaders, units, gaps; XLSX.

The figures are the coverage report's; :func:`write_xlsx` lays the three tables out as sheets
(:mod:`gridmgr.export.office`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridmgr.export.data import (
    ROLE_LABELS,
    ExportData,
    _leader_ids,
)
from gridmgr.export.office import GAP_COLUMNS, LEADER_COLUMNS, UNIT_COLUMNS
from gridmgr.i18n import t

__all__ = [
    "WORKLOAD_LABELS",
    "gap_table",
    "leader_table",
    "unit_table",
    "write_xlsx",
]


def _joined(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return "；".join(str(v) for v in value)
    return str(value)


def leader_table(data: ExportData) -> pd.DataFrame:
    """Per-leader figures: pieces, area, key places, load, load ratio, grid code.

    Pieces, area, load, load/capacity and load ratio are the coverage report's figures; key places
    count those whose representative point lies in the leader's pieces.
    """
    from gridmgr.assign.workload import key_place_counts

    rep = data.report()
    rows = rep.leaders.copy()
    pieces = data.pieces
    lid = _leader_ids(pieces)
    kp = key_place_counts(pieces, data.key_places) if len(pieces) else np.zeros(0, dtype=np.int64)
    per = pd.Series(kp, index=pieces.index).groupby(lid.astype(str).where(lid.notna(), "")).sum()
    rows["key_places"] = rows["id"].astype(str).map(per).fillna(0).astype(np.int64)
    codes = data.grid_codes
    if codes is not None and len(codes):
        gc = codes.groupby(codes["leader_id"].astype(str))["grid_code"].agg(
            lambda s: "；".join(sorted(map(str, s)))
        )
        rows["grid_code"] = rows["id"].astype(str).map(gc).fillna("")
    else:
        rows["grid_code"] = ""
    names = dict(zip(data.units["code"].astype(str), data.units["name"].astype(str), strict=True))
    rows["home_unit_name"] = rows["home_unit"].map(lambda c: names.get(str(c), "") if c else "")
    rows["role_label"] = rows["role"].map(lambda r: t(*ROLE_LABELS.get(str(r), (str(r), str(r)))))
    rows["area_ha"] = rows["area_m2"].astype(float) / 1e4
    rows["workload_label"] = rows["workload_status"].map(
        lambda v: t(*WORKLOAD_LABELS[str(v)]) if str(v) in WORKLOAD_LABELS else ""
    )
    return rows


WORKLOAD_LABELS = {
    "ok": ("正常", "ok"),
    "overloaded": ("负荷过重", "overloaded"),
    "idle": ("负荷过轻", "idle"),
}


def unit_table(data: ExportData) -> pd.DataFrame:
    """Per-unit coverage figures (the coverage report's unit rows, with labels)."""
    from gridmgr.i18n import level_label

    rows = data.report().units.copy()
    rows["level_label"] = rows["level"].map(lambda v: level_label(str(v)))
    rows["package_leaders_text"] = rows["package_leaders"].map(_joined)
    return rows


def gap_table(data: ExportData, *, gaps_only: bool = False) -> pd.DataFrame:
    """The gap list: one row per finding of the coverage report (gaps first)."""
    rep = data.report()
    findings = rep.gaps if gaps_only else rep.findings
    units = dict(zip(data.units["code"].astype(str), data.units["name"].astype(str), strict=True))
    leaders = (
        dict(zip(data.leaders["id"].astype(str), data.leaders["name"].astype(str), strict=True))
        if len(data.leaders)
        else {}
    )
    kp = data.key_places
    places = (
        dict(zip(kp["code"].astype(str), kp["name"].astype(str), strict=True))
        if kp is not None and len(kp) and {"code", "name"} <= set(kp.columns)
        else {}
    )
    rows = [
        {
            "severity": f.severity,
            "severity_label": t("缺口", "gap") if f.severity == "gap" else t("提示", "warning"),
            "kind": f.kind,
            "label": f.label,
            "unit_code": f.unit_code or "",
            "unit_name": units.get(f.unit_code or "", ""),
            "leader_id": f.leader_id or "",
            "leader_name": leaders.get(f.leader_id or "", ""),
            "place_code": f.place_code or "",
            "place_name": places.get(f.place_code or "", ""),
            "count": int(f.count),
            "area_m2": float(f.area_m2),
            "detail": json.dumps(f.to_dict()["detail"], ensure_ascii=False),
        }
        for f in findings
    ]
    cols = [c[0] for c in GAP_COLUMNS] + ["severity", "detail"]
    return pd.DataFrame(rows, columns=list(dict.fromkeys(cols)))


def write_xlsx(
    data: ExportData,
    out: str | Path,
    *,
    leaders: Sequence[str] | None = None,
    units: Sequence[str] | None = None,
) -> Path:
    """The briefing workbook: sheets 责任人 (per leader), 单元覆盖 (per unit), 缺口清单 (gaps).

    Frozen header row, autofilter, column widths; every text cell is stored as text (a name such
    as ``=HYPERLINK(...)`` is never a formula). ``leaders`` / ``units`` restrict the rows to those
    ids / codes.
    """
    from gridmgr.export.office import Sheet, write_workbook

    data = data.with_coverage()
    lt = leader_table(data)
    ut = unit_table(data)
    gt = gap_table(data)
    if leaders is not None:
        keep = {str(x) for x in leaders}
        lt = lt[lt["id"].astype(str).isin(keep)]
        gt = gt[gt["leader_id"].isin(keep)]
    if units is not None:
        keep_u = {str(x) for x in units}
        ut = ut[ut["code"].astype(str).isin(keep_u)]
        if leaders is None:
            lt = lt[lt["home_unit"].astype(str).isin(keep_u)]
            gt = gt[gt["unit_code"].isin(keep_u)]
    sheets = [
        Sheet(t("责任人", "leaders"), LEADER_COLUMNS, lt),
        Sheet(t("单元覆盖", "unit coverage"), UNIT_COLUMNS, ut),
        Sheet(t("缺口清单", "gap list"), GAP_COLUMNS, gt),
    ]
    return write_workbook(
        Path(out), sheets, title=t("网格化管理汇报表", "grid management briefing tables")
    )
