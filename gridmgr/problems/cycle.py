"""The rectification cycle as data: states, actions, and which role may take which action.

Following the digital city-management case cycle (数字化城市管理案件流程)::

    reported ─register→ registered ─dispatch→ dispatched ─handle→ handled ─verify-pass→ closed
       └─reject→ rejected                 ↑  │ └─request-extension→ extension_requested
                                           │  └──────────── verify-fail (返工) ←─ handled
                                           └── extend / deny-extension (supervisor)

Roles of the cycle (not the service's user roles; :func:`cycle_roles` maps those):
``reporter`` (who reports: any leader), ``center`` (指挥中心: registers, rejects, dispatches),
``handler`` (the department or leader the problem was dispatched to), ``supervisor`` (督导:
verifies, approves extensions), ``viewer`` (reads only).

Examples
--------
>>> check("handled", "verify-pass", {"supervisor"}).to_state
'closed'
>>> allowed("handled", "verify-pass", "handler")
False
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gridmgr.errors import ConflictError, PermissionDeniedError
from gridmgr.i18n import t

STATES: dict[str, tuple[str, str]] = {
    "reported": ("已上报", "reported"),
    "registered": ("已立案", "registered"),
    "rejected": ("不予立案", "rejected"),
    "dispatched": ("已派遣（整改中）", "dispatched"),
    "extension_requested": ("申请延期", "extension requested"),
    "handled": ("已处置（待核查）", "handled"),
    "closed": ("已结案", "closed"),
}
#: States in which the deadline runs (the problem is not yet handled).
RUNNING = ("dispatched", "extension_requested")
OPEN = ("reported", "registered", *RUNNING, "handled")
ROLES: dict[str, tuple[str, str]] = {
    "reporter": ("上报人", "reporter"),
    "center": ("指挥中心", "dispatch centre"),
    "handler": ("责任单位", "handler"),
    "supervisor": ("督导", "supervisor"),
    "viewer": ("查看", "viewer"),
}


@dataclass(frozen=True)
class Action:
    """One step: from which states, to which state, for which roles, needing what."""

    name: str
    zh: str
    en: str
    from_states: tuple[str, ...]
    to_state: str
    roles: frozenset[str]
    needs_note: bool = False
    needs_workdays: bool = False
    needs_photo: bool = False


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action(
            "register",
            "立案",
            "register",
            ("reported",),
            "registered",
            frozenset({"center", "supervisor"}),
        ),
        Action(
            "reject",
            "不予立案",
            "reject",
            ("reported",),
            "rejected",
            frozenset({"center", "supervisor"}),
            needs_note=True,
        ),
        Action(
            "dispatch",
            "派遣",
            "dispatch",
            ("registered",),
            "dispatched",
            frozenset({"center", "supervisor"}),
        ),
        Action(
            "handle", "处置", "handle", RUNNING, "handled", frozenset({"handler"}), needs_photo=True
        ),
        Action(
            "request-extension",
            "申请延期",
            "request extension",
            ("dispatched",),
            "extension_requested",
            frozenset({"handler"}),
            needs_note=True,
            needs_workdays=True,
        ),
        Action(
            "extend",
            "批准延期",
            "extend",
            RUNNING,
            "dispatched",
            frozenset({"supervisor"}),
            needs_workdays=True,
        ),
        Action(
            "deny-extension",
            "驳回延期",
            "deny extension",
            ("extension_requested",),
            "dispatched",
            frozenset({"supervisor"}),
            needs_note=True,
        ),
        Action(
            "verify-pass",
            "核查通过（结案）",
            "verify: pass",
            ("handled",),
            "closed",
            frozenset({"supervisor"}),
        ),
        Action(
            "verify-fail",
            "核查不通过（返工）",
            "verify: fail (rework)",
            ("handled",),
            "dispatched",
            frozenset({"supervisor"}),
            needs_note=True,
        ),
    )
}


def label(kind: Mapping[str, tuple[str, str]], key: str) -> str:
    """Chinese-first label of a state or role."""
    zh, en = kind.get(key, (key, key))
    return t(zh, en)


def allowed(state: str, action: str, role: str) -> bool:
    """May ``role`` take ``action`` in ``state``?"""
    a = ACTIONS.get(action)
    return a is not None and state in a.from_states and role in a.roles


def check(state: str, action: str, roles: Iterable[str]) -> Action:
    """The action, if one of ``roles`` may take it in ``state``; else a clear error.

    A wrong state is a :class:`ConflictError` (HTTP 409), a wrong role a
    :class:`PermissionDeniedError` (403); either way nothing changes.
    """
    a = ACTIONS.get(action)
    if a is None:
        known = "、".join(ACTIONS)
        raise ConflictError(
            t(f"未知操作 {action!r}；可用：{known}", f"unknown action {action!r}; known: {known}")
        )
    if state not in a.from_states:
        now = label(STATES, state)
        need = "、".join(label(STATES, s) for s in a.from_states)
        raise ConflictError(
            t(
                f"问题当前为「{now}」，不能执行「{a.zh}」（仅适用于：{need}）；未作任何更改",
                f"the problem is {now}; '{a.en}' applies only when {need}; nothing changed",
            )
        )
    roles = set(roles)
    if not roles & a.roles:
        who = "、".join(label(ROLES, r) for r in sorted(a.roles))
        mine = "、".join(label(ROLES, r) for r in sorted(roles)) or t("无", "none")
        raise PermissionDeniedError(
            t(
                f"「{a.zh}」只能由 {who} 执行（您的角色：{mine}）；未作任何更改",
                f"'{a.en}' may be taken only by {who} (your roles: {mine}); nothing changed",
            )
        )
    return a


def cycle_roles(
    user_role: str,
    *,
    leader_id: str | None,
    leader_department: str | None,
    problem: Mapping[str, Any] | None,
) -> set[str]:
    """Roles of the cycle a service user holds for ``problem``.

    ``admin`` → center + supervisor + reporter; ``planner`` → center + reporter; ``leader`` →
    reporter, and handler when the problem is dispatched to them or to their department;
    ``viewer`` → viewer.
    """
    if user_role == "admin":
        return {"center", "supervisor", "reporter"}
    if user_role == "planner":
        return {"center", "reporter"}
    if user_role != "leader":
        return {"viewer"}
    roles = {"reporter"}
    if problem is not None:
        if leader_id and problem.get("assignee_leader_id") == leader_id:
            roles.add("handler")
        dept = problem.get("assignee_department")
        if leader_department and dept and dept == leader_department:
            roles.add("handler")
    return roles


def may_see(
    user_role: str,
    *,
    user_name: str,
    leader_id: str | None,
    leader_department: str | None,
    problem: Mapping[str, Any],
) -> bool:
    """May this user see ``problem`` (and its photos)? Everyone but a leader sees all; a leader
    sees what they reported, hold (territory, key place, dispatch) or their department owns."""
    if user_role != "leader":
        return True
    mine = {user_name, leader_id} - {None}
    if problem.get("reporter") in mine:
        return True
    if leader_id and leader_id in {
        problem.get("leader_id"),
        problem.get("place_leader_id"),
        problem.get("assignee_leader_id"),
    }:
        return True
    return bool(leader_department) and leader_department in {
        problem.get("department"),
        problem.get("assignee_department"),
    }
