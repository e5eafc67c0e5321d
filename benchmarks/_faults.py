"""Fault injection: SIGKILL a write command at a random moment, then check the store.

Shared by ``tests/gridmgr/store/test_faults.py`` (a handful of trials) and
``benchmarks/bench_faults.py`` (≥ 30 trials per command and backend).

Each write command starts from a *before* state (a template: a SQLite file copied, or a PostGIS
database cloned with ``CREATE DATABASE … TEMPLATE``). A calibration run lets the command finish
and records the *after* state and its duration; every trial then runs the command in a forked
child (``gridmgr.cli.main`` with the command's arguments, so the shell's own transaction handling
is what is tested) and kills it with SIGKILL after a random delay in [0, 1.1 × duration]. The store
is then checked against the same invariants each time:

1. every piece has exactly one assignment row (no piece without, none for a missing piece);
2. the history replays to the current state (``owners_at(now)`` equals the assignments);
3. the whole store is exactly the before or the after state: row counts of every data table and
   a digest of their contents (time stamps and random change-set ids left out) — so no
   half-loaded layers, half-imported leaders, half-applied plans or half-disabled users.

Forking (not a fresh interpreter) puts the kill inside the command's work rather than inside
Python's start-up; the child opens its own store connection.

Examples
--------
>>> [c.name for c in COMMANDS]  # doctest: +NORMALIZE_WHITESPACE
['load', 'reload', 'leaders import', 'assign auto', 'assign import', 'plan apply',
 'users disable']
"""

from __future__ import annotations

import csv
import hashlib
import multiprocessing as mp
import os
import random
import shutil
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: Columns whose values differ between two runs of the same command (clock, random ids): only
#: whether they are set counts.
_VOLATILE = (
    "_at",
    "at",
    "created",
    "updated",
    "expires",
    "last_used",
    "changeset",
    "hash",
    "undo",
    "report",
)


@dataclass(frozen=True)
class Command:
    """A write command: its name, the template it starts from, its CLI arguments."""

    name: str
    template: str
    args: Callable[[Path], list[str]]


def _shipped() -> Path:
    from gridmgr import settings

    return Path(settings.DEFAULT_LAYERS)


COMMANDS = (
    Command("load", "empty", lambda d: ["load", "--layers", str(d / "layers")]),
    Command(
        "reload",
        "assigned",
        lambda d: ["load", "--layers", str(d / "layers"), "--res", "9", "--force"],
    ),
    Command("leaders import", "loaded", lambda d: ["leaders", "import", str(d / "leaders.csv")]),
    Command("assign auto", "leaders", lambda d: ["assign", "auto"]),
    Command(
        "assign import",
        "assigned",
        lambda d: ["assign", "import", str(d / "assignments.csv"), "--reason", "faults"],
    ),
    Command(
        "plan apply",
        "assigned",
        lambda d: [
            "rebalance",
            "apply",
            (d / "plan_id.txt").read_text().strip(),
            "--reason",
            "faults",
        ],
    ),
    Command("users disable", "assigned", lambda d: ["users", "disable", "fault_user"]),
)


# ------------------------------------------------------------------------------ data


def write_layers(work: Path, communities: list[str] | None = None) -> None:
    """The shipped layers (only the given communities, their street and district, when given)
    and their leaders, into ``work``."""
    import geopandas as gpd
    import shapely

    src = _shipped()
    out = work / "layers"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "departments.json", out / "departments.json")
    units = gpd.read_file(src / "units.geojson")
    places = gpd.read_file(src / "key_places.geojson")
    if communities is not None:
        comm = units.loc[units["code"].isin(communities)]
        above = set(comm["parent"]) | {None}
        above |= set(units.loc[units["code"].isin(above), "parent"])
        units = units.loc[units["code"].isin(communities) | units["code"].isin(above)].copy()
        area = shapely.union_all(comm.geometry.values)
        units.loc[~units["code"].isin(communities), "geometry"] = area
        places = places.loc[places.within(area)]
    units.to_file(out / "units.geojson", driver="GeoJSON")
    places.to_file(out / "key_places.geojson", driver="GeoJSON")
    codes = set(units["code"].astype(str))
    with (src / "leaders_sample.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows = [r for r in rows if set(r["unit_packages"].split(";")) <= codes]
    for r in rows:
        places_ok = [c for c in r["place_packages"].split(";") if c in set(places["code"])]
        r["place_packages"] = ";".join(places_ok)
    with (work / "leaders.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _cli(url: str, *args: str) -> None:
    """Run ``gridmgr`` on ``url`` to its end in a forked child (building templates)."""
    _, _, code = run_command(url, list(args), None)
    if code != 0:
        raise RuntimeError(f"gridmgr {' '.join(args)} failed (exit {code}) on {url}")


def _edited_assignments(url: str, work: Path) -> None:
    """An assignments export with one grid leader's pieces given to a neighbour of the same
    community (a valid edit of a few hundred rows)."""
    _cli(url, "assign", "export", "--out", str(work / "export.csv"))
    with (work / "export.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    by_unit: dict[str, list[str]] = {}
    for r in rows:
        if r["leader_id"] and r["fallback"] == "False":
            by_unit.setdefault(r["unit_code"], [])
            if r["leader_id"] not in by_unit[r["unit_code"]]:
                by_unit[r["unit_code"]].append(r["leader_id"])
    unit, (giver, taker, *_) = next((u, ls) for u, ls in sorted(by_unit.items()) if len(ls) > 1)
    for r in rows:
        if r["unit_code"] == unit and r["leader_id"] == giver:
            r["leader_id"] = taker
    with (work / "assignments.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _plan(url: str, work: Path) -> None:
    """A proposed plan: the first community's second grid leader leaves."""
    with (work / "leaders.csv").open(encoding="utf-8") as fh:
        grid = [r for r in csv.DictReader(fh) if r["role"] == "grid_leader"]
    first = grid[0]["unit_packages"]
    leaving = [r["id"] for r in grid if r["unit_packages"] == first][1]
    _cli(url, "rebalance", "propose", "--scope", first, "--leaders-remove", leaving)
    from sqlalchemy import select

    from gridmgr.store import open_store
    from gridmgr.store.schema import plans

    s = open_store(url)
    with s.engine.connect() as conn:
        plan_id = conn.execute(select(plans.c.id).where(plans.c.status == "proposed")).scalar_one()
    s.close()
    (work / "plan_id.txt").write_text(str(plan_id))


# ------------------------------------------------------------------------------ backends


class Backend:
    """Templates and clones of one backend."""

    name = ""

    def template(self, key: str, base: str | None) -> str:  # pragma: no cover - interface
        """A new template database ``key``, a copy of template ``base`` (or migrated empty)."""
        raise NotImplementedError

    def freeze(self, key: str, url: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def clone(self, key: str) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def drop(self, url: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        """Remove the templates."""


class SQLiteBackend(Backend):
    """Templates are files; a clone is a copy."""

    name = "sqlite"

    def __init__(self, work: Path) -> None:
        self.dir = work / "sqlite"
        self.dir.mkdir(parents=True, exist_ok=True)

    def template(self, key: str, base: str | None) -> str:
        if base is not None:
            shutil.copyfile(self.dir / f"{base}.db", self.dir / f"{key}.db")
        return f"sqlite:///{self.dir / f'{key}.db'}"

    def freeze(self, key: str, url: str) -> None:
        from gridmgr.store import open_store

        s = open_store(url)
        with s.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        s.close()

    def clone(self, key: str) -> str:
        target = self.dir / f"trial_{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(self.dir / f"{key}.db", target)
        return f"sqlite:///{target}"

    def drop(self, url: str) -> None:
        path = Path(url.removeprefix("sqlite:///"))
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
            p.unlink(missing_ok=True)


class PostGISBackend(Backend):
    """Templates are databases; a clone is ``CREATE DATABASE … TEMPLATE``."""

    name = "postgis"

    def __init__(self, admin_url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool

        self.base = make_url(admin_url)
        self.admin = create_engine(self.base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.tag = uuid.uuid4().hex[:8]
        self.made: list[str] = []
        self.pool = ThreadPoolExecutor(max_workers=4)
        self.pending: list[Future[None]] = []

    def _url(self, db: str) -> str:
        return self.base.set(database=db).render_as_string(hide_password=False)

    def _exec(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(sql)

    def template(self, key: str, base: str | None) -> str:
        db = f"gridmgr_fault_{self.tag}_{key}"
        if base is not None:
            self._exec(f'CREATE DATABASE "{db}" TEMPLATE "gridmgr_fault_{self.tag}_{base}"')
            self.made.append(db)
            return self._url(db)
        self._exec(f'CREATE DATABASE "{db}"')
        self.made.append(db)
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        eng = create_engine(self._url(db), poolclass=NullPool)
        with eng.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        eng.dispose()
        return self._url(db)

    def freeze(self, key: str, url: str) -> None:
        """Nothing to do: templates are not opened again (clones need no open connection)."""

    def clone(self, key: str) -> str:
        db = f"gridmgr_fault_{self.tag}_t{uuid.uuid4().hex[:8]}"
        self._exec(f'CREATE DATABASE "{db}" TEMPLATE "gridmgr_fault_{self.tag}_{key}"')
        return self._url(db)

    def drop(self, url: str) -> None:
        """Drop a clone in the background (a drop waits for a checkpoint: ~1 s)."""
        from sqlalchemy.engine import make_url

        db = make_url(url).database
        self.pending.append(
            self.pool.submit(self._exec, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        )

    def close(self) -> None:
        for fut in self.pending:
            fut.result()
        self.pool.shutdown()
        for db in self.made:
            self._exec(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        self.admin.dispose()


def build_templates(backend: Backend, work: Path) -> None:
    """The before states: ``empty`` → ``loaded`` → ``leaders`` → ``assigned`` (with a proposed
    plan and a user ``fault_user`` holding a token)."""

    prev: str | None = None
    steps: list[tuple[str, list[list[str]]]] = [
        ("empty", [["db", "upgrade"]]),
        ("loaded", [["load", "--layers", str(work / "layers")]]),
        ("leaders", [["leaders", "import", str(work / "leaders.csv")]]),
        ("assigned", [["assign", "auto"], ["users", "add", "fault_user", "--role", "viewer"]]),
    ]
    for key, commands in steps:
        url = backend.template(key, prev)
        for args in commands:
            _cli(url, *args)
        if key == "assigned":
            _plan(url, work)
            _edited_assignments(url, work)
        backend.freeze(key, url)
        prev = key


# ------------------------------------------------------------------------------ the checks


def fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Per data table: row count and a digest of its rows (time stamps and random ids only as
    set or not set)."""
    from sqlalchemy import select

    from gridmgr.store import open_store
    from gridmgr.store.schema import DATA_TABLES

    s = open_store(url)
    out: dict[str, tuple[int, str]] = {}
    try:
        with s.engine.connect() as conn:
            for table in DATA_TABLES:
                cols = list(table.columns)
                vol = [_volatile(c.name, str(c.type)) for c in cols]
                rows = conn.execute(select(*cols)).all()
                keys = sorted(
                    repr(
                        tuple((v is None) if x else _stable(v) for v, x in zip(r, vol, strict=True))
                    )
                    for r in rows
                )
                digest = hashlib.sha1("\n".join(keys).encode()).hexdigest()[:16]
                out[table.name] = (len(rows), digest)
    finally:
        s.close()
    return out


def _volatile(name: str, type_: str) -> bool:
    n = name.lower()
    if n == "id" and type_.upper() in ("TEXT", "VARCHAR"):
        return True  # random change-set ids
    return any(n == v or n.endswith(v) or n.startswith(v) for v in _VOLATILE)


def _stable(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, memoryview):
        return bytes(v)
    return v


def invariants(url: str) -> list[str]:
    """Violations of invariants 1 and 2 (empty when the store is sound)."""
    from sqlalchemy import func, select

    from gridmgr.store import open_store
    from gridmgr.store import schema as sch

    s = open_store(url)
    bad: list[str] = []
    try:
        with s.engine.connect() as conn:
            p, a = sch.pieces, sch.assignments
            n_p = conn.execute(select(func.count()).select_from(p)).scalar_one()
            missing = conn.execute(
                select(func.count())
                .select_from(p.outerjoin(a, a.c.piece_id == p.c.id))
                .where(a.c.piece_id.is_(None))
            ).scalar_one()
            extra = conn.execute(
                select(func.count())
                .select_from(a.outerjoin(p, a.c.piece_id == p.c.id))
                .where(p.c.id.is_(None))
            ).scalar_one()
            now = {
                int(r.piece_id): (r.leader_id, bool(r.fallback))
                for r in conn.execute(select(a.c.piece_id, a.c.leader_id, a.c.fallback))
            }
        if n_p and missing:
            bad.append(f"{missing} of {n_p} pieces have no assignment row")
        if extra:
            bad.append(f"{extra} assignment rows name no piece")
        import datetime as dt

        replay = s.owners_at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5))
        rep = {
            int(i): (None if ld is None else str(ld), bool(fb))
            for i, ld, fb in zip(
                replay["piece_id"], replay["leader_id"], replay["fallback"], strict=True
            )
        }
        rep = {k: v for k, v in rep.items() if k in now}
        if rep != now:
            diff = sum(1 for k in now if rep.get(k, (None, False)) != now[k])
            bad.append(f"history replays to another state ({diff} pieces differ)")
    finally:
        s.close()
    return bad


# ------------------------------------------------------------------------------ trials


def _child(url: str, args: list[str]) -> None:  # pragma: no cover - runs in the forked child
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.environ["GRIDMGR_DATABASE_URL"] = url
    os.environ["GRIDMGR_ACTOR"] = "faults"
    sys.argv = ["gridmgr", *args]
    from gridmgr.cli import main

    try:
        main()
    except SystemExit as exc:
        os._exit(int(exc.code or 0) if isinstance(exc.code, int) else 1)
    os._exit(0)


def _warm() -> None:
    """Import what the commands import, once, so forked children start at the command's work."""
    import importlib

    for name in (
        "gridmgr.cli",
        "gridmgr.io.layers",
        "gridmgr.grid.pieces",
        "gridmgr.grid.piece_graph",
        "gridmgr.store",
        "gridmgr.assign.auto",
        "gridmgr.rebalance.plans",
        "gridmgr.accounts.users",
        "psycopg2",
    ):
        importlib.import_module(name)


def run_command(url: str, args: list[str], kill_after: float | None) -> tuple[float, bool, int]:
    """Run the command in a forked child; SIGKILL it after ``kill_after`` seconds (``None``: let
    it finish). Returns (seconds, killed, exit code)."""
    _warm()
    ctx = mp.get_context("fork")
    proc = ctx.Process(target=_child, args=(url, args))
    t0 = time.perf_counter()
    proc.start()
    proc.join(kill_after)
    killed = False
    if proc.is_alive():
        os.kill(proc.pid or 0, signal.SIGKILL)
        killed = True
        proc.join()
    return time.perf_counter() - t0, killed, int(proc.exitcode or 0)


@dataclass
class Outcome:
    """Trials of one command on one backend."""

    command: str
    backend: str
    seconds: float = 0.0
    trials: int = 0
    killed: int = 0
    before: int = 0
    after: int = 0
    violations: list[str] = field(default_factory=list)


@contextmanager
def _clone(backend: Backend, key: str) -> Iterator[str]:
    url = backend.clone(key)
    try:
        yield url
    finally:
        backend.drop(url)


def trials(backend: Backend, work: Path, command: Command, n: int, seed: int) -> Outcome:
    """Calibrate ``command`` then run ``n`` killed trials; the outcome of each."""
    out = Outcome(command.name, backend.name)
    args = command.args(work)
    with _clone(backend, command.template) as url:
        before = fingerprint(url)
        secs, _, code = run_command(url, args, None)
        if code != 0:
            raise RuntimeError(f"{command.name} failed on {backend.name} (exit {code})")
        after = fingerprint(url)
    out.seconds = secs
    if before == after:
        raise RuntimeError(f"{command.name} changed nothing: the trial would prove nothing")
    rng = random.Random(seed)
    for _ in range(n):
        with _clone(backend, command.template) as url:
            _, killed, _ = run_command(url, args, rng.uniform(0.0, 1.1 * secs))
            out.trials += 1
            out.killed += killed
            problems = invariants(url)
            state = fingerprint(url)
            if state == before:
                out.before += 1
            elif state == after:
                out.after += 1
            else:
                torn = sorted(k for k in state if state[k] not in (before[k], after[k]))
                problems.append(f"neither before nor after: {', '.join(torn) or 'mixed tables'}")
            out.violations += [f"{command.name} [{backend.name}]: {p}" for p in problems]
    return out
