"""List modules, classes and functions of gridmgr/ and api/ past the size limits.

Limits (docs/architecture.md, "Size"): a module ~600 lines, a class ~300, a function ~100.
Exits 1 when anything passes a limit and is not in :data:`EXCEPTIONS` (each with its reason,
repeated in docs/architecture.md). Run by scripts/check.sh.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMITS = {"module": 600, "class": 300, "function": 100}
#: "kind path:name" -> why it must stay that long
EXCEPTIONS: dict[str, str] = {
    "class gridmgr/store/_store.py:Store": (
        "the facade: 45 public methods, each opening a transaction and delegating to a repository"
    ),
}


def findings(root: Path = ROOT) -> list[tuple[str, int]]:
    """``("kind path:name", lines)`` for everything past its limit."""
    out: list[tuple[str, int]] = []
    for pkg in ("gridmgr", "api"):
        for path in sorted((root / pkg).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            text = path.read_text(encoding="utf-8")
            n = text.count("\n")
            if n > LIMITS["module"]:
                out.append((f"module {rel}", n))
            for node in ast.walk(ast.parse(text)):
                kind = _kind(node)
                if kind is None:
                    continue
                size = int(node.end_lineno or node.lineno) - node.lineno + 1  # type: ignore[attr-defined]
                if size > LIMITS[kind]:
                    out.append((f"{kind} {rel}:{node.name}", size))  # type: ignore[attr-defined]
    return out


def _kind(node: ast.AST) -> str | None:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return "function"
    if isinstance(node, ast.ClassDef):
        return "class"
    return None


def main() -> int:
    bad = 0
    for what, lines in findings():
        why = EXCEPTIONS.get(what)
        print(f"{lines:5d}  {what}" + (f"  (allowed: {why})" if why else ""))
        bad += why is None
    if bad:
        print(f"{bad} past the limits of docs/architecture.md (split them, or add a reason)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
