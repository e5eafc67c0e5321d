"""Problems at scale: a quarter's assessment and the overdue list as of a time, on SQLite and
PostGIS, side by side with the same figures from one raw SQL query per metric in PostgreSQL.

What it does
------------
1. Generates ``--n`` problems (default 1,000,000) over the year 2025 for ``--leaders`` leaders
   (default 5,000; 25 per community, 20 communities per street, 9 departments), vectorised with
   numpy: deadlines of 1–5 working days on the official calendar (``gridmgr.problems.workdays``),
   90 % of the dispatched ones handled on time, 10 % late; 10 % of the last three weeks' still
   running; 3 % rejected, 4 % not yet dispatched, 5 % reworked, 3 % repeats.
2. Loads them into a fresh migrated SQLite file and a fresh PostGIS database
   ``gridmgr_bench_<hex>`` (COPY; dropped at the end). Loading is set-up, not measured.
3. Measures, best of ``--repeat`` runs:

   * gridmgr ``assess(store, "2025-Q2", group="leader")`` (one GROUP BY through SQLAlchemy Core,
     then the score in pandas) on SQLite and on PostGIS;
   * gridmgr ``listing(overdue_at=…)`` on both, as of a past time (2025-06-18 10:00 +08:00: from
     the times alone) and as of now (after every handling: the state index);
   * the peer: one hand-written SQL query per metric (problems, dispatched, on time, overdue,
     closed, working days to close, rework, repeats) and one per overdue list, in PostgreSQL
     through psycopg2.

4. Checks the figures are equal (every metric of every leader; the overdue ids) and prints a
   table. Targets: assessment < 3 s and overdue list < 0.2 s on PostGIS.

Run: ``python benchmarks/bench_problems.py [--n 1000000] [--leaders 5000] [--repeat 3]`` (needs
PostGIS on ``GRIDMGR_TEST_PG_URL``, default ``postgresql+psycopg2://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text

from gridmgr.problems import workdays as wd
from gridmgr.problems.assessment import assess, period_bounds
from gridmgr.problems.categories import Rules
from gridmgr.store import open_store
from gridmgr.store import problems as repo

PG_ADMIN = os.environ.get(
    "GRIDMGR_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
BJ = wd.BEIJING
AS_OF = dt.datetime(2025, 6, 18, 10, 0, tzinfo=BJ).astimezone(dt.UTC)
#: Just after the last report and every handling in the data: the board "as of now".
AS_OF_END = dt.datetime(2025, 12, 8, 10, 0, tzinfo=BJ).astimezone(dt.UTC)
PERIOD = "2025-Q2"
COLS = [
    "id",
    "code",
    "category",
    "text",
    "source",
    "reporter",
    "reported_at",
    "lng",
    "lat",
    "piece_id",
    "unit_code",
    "community_code",
    "street_code",
    "leader_id",
    "fallback",
    "department",
    "repeat_of",
    "state",
    "version",
    "assignee_department",
    "assignee_leader_id",
    "workdays",
    "dispatched_at",
    "due_at",
    "handled_at",
    "closed_at",
    "close_workdays",
    "rework",
    "sample",
    "updated_at",
]


def generate(n: int, leaders: int, seed: int = 7) -> pd.DataFrame:
    """``n`` synthetic problems of 2025 (vectorised)."""
    rng = np.random.default_rng(seed)
    t0 = dt.datetime(2025, 1, 1, tzinfo=BJ).timestamp()
    span = 365 * 86400 - 40 * 86400  # leave room for deadlines inside the calendar's years
    rep = np.sort(t0 + rng.random(n) * span)
    lead = rng.integers(0, leaders, n)
    comm, street = lead // 25, lead // 500
    disp = rep + rng.uniform(3600, 4 * 3600, n)
    days = rng.integers(1, 6, n)
    # due: 24:00 Beijing of the n-th working day after the dispatch day, via the calendar table
    table_days, cum = wd._table()
    d_ord = (
        pd.to_datetime(disp, unit="s", utc=True)
        .tz_convert(BJ)
        .normalize()
        .tz_localize(None)
        .to_numpy()
        .astype("datetime64[D]")
        .astype(np.int64)
        + 719163
    )
    last = table_days[np.searchsorted(cum, cum[d_ord - table_days[0]] + days)]
    due = (last - 719163 + 1) * 86400.0 - 8 * 3600
    u = rng.random(n)
    state = np.where(
        u < 0.03,
        "rejected",
        np.where(u < 0.05, "reported", np.where(u < 0.07, "registered", "closed")),
    )
    has_due = np.isin(state, ["closed"])
    late = rng.random(n) < 0.10
    handled = np.where(
        late,
        due + rng.uniform(3600, 5 * 86400, n),
        disp + (due - disp) * rng.uniform(0.05, 0.95, n),
    )
    handled = np.where(has_due, handled, np.nan)
    closed = handled + rng.uniform(3600, 86400, n)
    # 10 % of the last three weeks' problems are still running (past their deadline by the end);
    # every earlier one was handled (on time or late)
    open_ = has_due & (rep > t0 + span - 21 * 86400) & (rng.random(n) < 0.1)
    state = np.where(open_, "dispatched", state)
    handled = np.where(open_, np.nan, handled)
    closed = np.where(state == "closed", closed, np.nan)
    cw = np.full(n, -1, dtype=np.int64)
    cl = state == "closed"
    close_ord = (
        pd.to_datetime(closed[cl], unit="s", utc=True)
        .tz_convert(BJ)
        .normalize()
        .tz_localize(None)
        .to_numpy()
        .astype("datetime64[D]")
        .astype(np.int64)
        + 719163
    )
    cw[cl] = wd.workdays_between_many(d_ord[cl], close_ord)
    ids = np.arange(1, n + 1)
    rep_of = np.where(rng.random(n) < 0.03, np.maximum(1, ids - rng.integers(1, 1000, n)), -1)
    rep_of[0] = -1

    def ts(a: np.ndarray) -> pd.Series:
        return pd.Series(pd.to_datetime(a, unit="s", utc=True))

    dispatched = np.where(has_due | open_, disp, np.nan)
    return pd.DataFrame(
        {
            "id": ids,
            "code": [f"WT{i:07d}" for i in ids],
            "category": np.array([f"C{k:02d}" for k in range(18)])[rng.integers(0, 18, n)],
            "text": "x",
            "source": "patrol",
            "reporter": "bench",
            "reported_at": ts(rep),
            "lng": 125.3,
            "lat": 43.85,
            "piece_id": rng.integers(1, 7000, n),
            "unit_code": [f"U{c:04d}" for c in comm],
            "community_code": [f"U{c:04d}" for c in comm],
            "street_code": [f"S{c:02d}" for c in street],
            "leader_id": [f"L{i:04d}" for i in lead],
            "fallback": False,
            "department": np.array([f"D{k}" for k in range(9)])[rng.integers(0, 9, n)],
            "repeat_of": pd.array(np.where(rep_of > 0, rep_of, pd.NA), dtype="Int64"),
            "state": state,
            "version": 5,
            "assignee_department": None,
            "assignee_leader_id": None,
            "workdays": pd.array(np.where(~np.isnan(dispatched), days, pd.NA), dtype="Int64"),
            "dispatched_at": ts(dispatched),
            "due_at": ts(np.where(~np.isnan(dispatched), due, np.nan)),
            "handled_at": ts(handled),
            "closed_at": ts(closed),
            "close_workdays": pd.array(np.where(cw >= 0, cw, pd.NA), dtype="Int64"),
            "rework": (rng.random(n) < 0.05).astype(int) * cl,
            "sample": True,
            "updated_at": ts(rep),
        }
    )[COLS]


def load_pg(url: str, df: pd.DataFrame) -> None:
    eng = create_engine(url)
    raw = eng.raw_connection()
    try:
        cur = raw.cursor()
        buf = io.StringIO()
        df.to_csv(buf, index=False, header=False, date_format="%Y-%m-%d %H:%M:%S.%f+00")
        buf.seek(0)
        cur.copy_expert(f"COPY problems ({','.join(COLS)}) FROM STDIN WITH (FORMAT csv)", buf)
        cur.execute("ANALYZE problems")
        raw.commit()
    finally:
        raw.close()
        eng.dispose()


def load_sqlite(store: Any, df: pd.DataFrame) -> None:
    out = df.copy()
    for c in ("reported_at", "dispatched_at", "due_at", "handled_at", "closed_at", "updated_at"):
        out[c] = out[c].dt.tz_localize(None).astype(str).replace("NaT", None)
    rows = out.astype(object).where(out.notna(), None).itertuples(index=False, name=None)
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            f"INSERT INTO problems ({','.join(COLS)}) VALUES ({','.join('?' * len(COLS))})",
            list(rows),
        )
        conn.exec_driver_sql("ANALYZE")


PEER_METRICS = {
    "problems": "count(*)",
    "dispatched": "count(*) FILTER (WHERE due_at IS NOT NULL)",
    "on_time": "count(*) FILTER (WHERE handled_at <= due_at)",
    "overdue": "count(*) FILTER (WHERE due_at IS NOT NULL AND coalesce(handled_at, :asof) > due_at)",
    "closed": "count(*) FILTER (WHERE state = 'closed')",
    "close_workdays_sum": "coalesce(sum(close_workdays), 0)",
    "rework": "sum(rework)",
    "repeats": "count(repeat_of)",
}


def peer_assessment(
    conn: Any, t0: dt.datetime, t1: dt.datetime, as_of: dt.datetime
) -> pd.DataFrame:
    """One SQL query per metric, grouped by leader."""
    out = None
    for name, expr in PEER_METRICS.items():
        rows = conn.execute(
            text(
                f"SELECT leader_id, {expr} FROM problems WHERE reported_at >= :t0 AND reported_at < :t1 AND state <> 'rejected' GROUP BY leader_id"
            ),
            {"t0": t0, "t1": t1, "asof": as_of},
        ).all()
        col = pd.DataFrame(rows, columns=["key", name]).set_index("key")
        out = col if out is None else out.join(col, how="outer")
    assert out is not None
    return out.fillna(0).astype("int64").sort_index()


PEER_OVERDUE = "SELECT id FROM problems WHERE due_at < :t AND dispatched_at <= :t AND (handled_at IS NULL OR handled_at > :t) AND state <> 'rejected'"
#: As of now (after every handling): what is still running and past its deadline.
PEER_OVERDUE_NOW = (
    "SELECT id FROM problems WHERE state IN ('dispatched', 'extension_requested') AND due_at < :t"
)
OVERDUE_LABEL = {
    "mid": "overdue list as of 2025-06-18 10:00+08",
    "end": "overdue list as of now (2025-12-08 10:00+08)",
}


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--leaders", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rules = Rules()
    t = time.perf_counter()
    df = generate(args.n, args.leaders)
    print(
        f"generated {len(df):,} problems for {args.leaders:,} leaders in {time.perf_counter() - t:.1f} s"
    )
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"gridmgr_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    pg_url = admin.url.set(database=name).render_as_string(hide_password=False)
    with create_engine(pg_url, isolation_level="AUTOCOMMIT").connect() as c:
        c.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    tmp = Path(tempfile.mkdtemp())
    try:
        stores = {
            "SQLite": open_store(f"sqlite:///{tmp / 'bench.db'}"),
            "PostGIS": open_store(pg_url),
        }
        for label, st in stores.items():
            st.upgrade()
            t = time.perf_counter()
            (load_sqlite(st, df) if label == "SQLite" else load_pg(pg_url, df))
            print(f"loaded into {label} in {time.perf_counter() - t:.1f} s (set-up, not measured)")
        t0, t1 = period_bounds(PERIOD)
        rows: list[tuple[str, str, float, str]] = []
        ours: dict[str, Any] = {}
        for label, st in stores.items():
            sec, res = best(
                lambda st=st: assess(
                    st, PERIOD, group="leader", rules=rules, as_of=AS_OF, patrol_coverage=None
                ),
                args.repeat,
            )
            ours[f"assess {label}"] = res
            rows.append(
                (
                    "assessment of 2025-Q2 by leader",
                    f"gridmgr {label}",
                    sec,
                    f"{len(res):,} leaders",
                )
            )

            for when, what in ((AS_OF, "mid"), (AS_OF_END, "end")):

                def overdue(st: Any = st, when: dt.datetime = when) -> pd.DataFrame:
                    with st.engine.connect() as conn:
                        return repo.listing(conn, overdue_at=when)

                sec, res = best(overdue, args.repeat)
                ours[f"overdue {what} {label}"] = res
                rows.append(
                    (OVERDUE_LABEL[what], f"gridmgr {label}", sec, f"{len(res):,} problems")
                )
        peer = create_engine(pg_url)
        with peer.connect() as conn:
            sec, pa = best(lambda: peer_assessment(conn, t0, t1, AS_OF), args.repeat)
            rows.append(
                (
                    "assessment of 2025-Q2 by leader",
                    "raw SQL, one query per metric (PostgreSQL)",
                    sec,
                    f"{len(pa):,} leaders",
                )
            )
            po = {}
            for when, what, sql in (
                (AS_OF, "mid", PEER_OVERDUE),
                (AS_OF_END, "end", PEER_OVERDUE_NOW),
            ):
                sec, po[what] = best(
                    lambda sql=sql, when=when: conn.execute(text(sql), {"t": when}).scalars().all(),
                    args.repeat,
                )
                rows.append(
                    (
                        OVERDUE_LABEL[what],
                        "raw SQL (PostgreSQL)",
                        sec,
                        f"{len(po[what]):,} problems",
                    )
                )
        peer.dispose()
        # the figures must be equal
        metrics = list(PEER_METRICS)
        for label in stores:
            mine = ours[f"assess {label}"].set_index("key")[metrics].sort_index().astype("int64")
            pd.testing.assert_frame_equal(mine, pa[metrics], check_names=False)
            for what in ("mid", "end"):
                assert set(ours[f"overdue {what} {label}"]["id"].astype(int)) == set(po[what]), (
                    label
                )
        print(
            f"\nfigures equal: {len(metrics)} metrics × {len(pa):,} leaders and {len(po['mid']):,} + {len(po['end']):,} overdue ids, on SQLite and PostGIS, vs the peer\n"
        )
        print(f"{'measure':46} {'implementation':44} {'best s':>8}  result")
        for what, who, sec, res in rows:
            print(f"{what:46} {who:44} {sec:8.3f}  {res}")
        for st in stores.values():
            st.close()
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
