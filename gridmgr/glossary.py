"""One glossary: the Chinese and English names of every code a person may read.

Statuses, metric names, unit levels and roles are stored and exchanged as English identifiers
(``proposed``, ``max_ratio``, ``street`` …); people read them through this table, in the CLI, on
the web pages and in exports alike (:func:`gridmgr.i18n.term` in the current language,
:func:`label` in a given one). A code missing from the table reads as itself.

Examples
--------
>>> label("level", "street", "zh"), label("plan_status", "applied", "en")
('街道/乡镇', 'applied')
>>> label("metric", "max_ratio", "zh")
'最大负载比（最大/平均）'
>>> label("level", "province", "zh")  # unknown codes pass through
'province'
"""

from __future__ import annotations

from collections.abc import Mapping

Pair = tuple[str, str]

GLOSSARY: Mapping[str, Mapping[str, Pair]] = {
    "level": {
        "district": ("区", "district"),
        "street": ("街道/乡镇", "street/township"),
        "community": ("社区/村", "community/village"),
        "grid": ("网格", "grid"),
    },
    "user_role": {
        "admin": ("管理员", "admin"),
        "planner": ("规划人员", "planner"),
        "leader": ("网格长", "leader"),
        "viewer": ("只读用户", "viewer"),
    },
    "leader_role": {
        "grid_leader": ("网格长", "grid leader"),
        "package_leader": ("包保领导", "package leader"),
    },
    "plan_status": {
        "proposed": ("待应用", "proposed"),
        "applied": ("已应用", "applied"),
        "discarded": ("已放弃", "discarded"),
        "undone": ("已撤销", "undone"),
    },
    "changeset_kind": {
        "edit": ("编辑", "edit"),
        "auto": ("自动分配", "auto-assign"),
        "plan": ("调整方案", "plan"),
        "undo": ("撤销", "undo"),
        "import": ("导入", "import"),
        "load": ("图层载入", "layers load"),
        "leaders": ("领导名单", "leaders"),
        "deactivate": ("停用领导", "deactivate"),
    },
    "assignment_event": {
        "assign": ("分配", "assign"),
        "orphan": ("地块删除", "piece removed"),
    },
    "leader_event": {
        "created": ("新增", "created"),
        "updated": ("更新", "updated"),
        "deactivated": ("停用", "deactivated"),
        "reactivated": ("重新启用", "reactivated"),
    },
    "metric": {
        "max_ratio": ("最大负载比（最大/平均）", "max/mean load"),
        "min_ratio": ("最小负载比（最小/平均）", "min/mean load"),
        "std_ratio": ("负载比标准差", "std of load ratio"),
        "disconnected": ("不连通的责任区", "disconnected territories"),
        "boundary_edges_per_piece": ("每地块边界边数（越低越紧凑）", "boundary edges per piece"),
        "unassigned_pieces": ("无人负责的地块", "pieces without a leader"),
        "unassigned_load": ("无人负责的负载", "load without a leader"),
        "n_leaders": ("参与的领导", "leaders taking part"),
        "pieces": ("地块数", "pieces"),
        "moved_pieces": ("调整地块", "moved pieces"),
        "moved_area_m2": ("调整面积（平方米）", "moved area (m²)"),
        "target_ratio": ("目标负载比", "target ratio"),
    },
}


def label(group: str, code: str, lang: str) -> str:
    """The name of ``code`` in ``group`` in ``lang`` (``zh`` or ``en``); the code if unknown."""
    pair = GLOSSARY.get(group, {}).get(code)
    if pair is None:
        return code
    return pair[1] if lang == "en" else pair[0]


def codes(group: str) -> tuple[str, ...]:
    """Every code of a group (tests check no page shows them raw)."""
    return tuple(GLOSSARY.get(group, {}))
