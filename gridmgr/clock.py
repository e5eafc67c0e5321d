"""Times as people read them: stored in UTC, shown in Beijing time (Asia/Shanghai) with the zone.

Examples
--------
>>> import datetime as dt
>>> beijing_text(dt.datetime(2026, 12, 5, 16, 30, tzinfo=dt.UTC))
'2026-12-06 00:30 (北京时间)'
>>> beijing_text("2026-12-05T16:30:00+00:00", lang="en")
'2026-12-06 00:30 (Beijing time)'
>>> beijing_text(dt.datetime(2026, 12, 5, 16, 30))  # naive values are UTC (SQLite)
'2026-12-06 00:30 (北京时间)'
>>> beijing_text(None)
''
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")


def to_beijing(value: dt.datetime | str) -> dt.datetime:
    """A timestamp (aware, naive UTC, or ISO text) in Beijing time."""
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(BEIJING)


def beijing_text(value: Any, *, lang: str = "zh") -> str:
    """``YYYY-MM-DD HH:MM (北京时间)``; empty for ``None``/NaT; other values as text."""
    if value is None or (hasattr(value, "isoformat") and str(value) == "NaT"):
        return ""
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if not isinstance(value, dt.datetime | str):
        return str(value)
    try:
        when = to_beijing(value)
    except ValueError:
        return str(value)
    zone = "Beijing time" if lang == "en" else "北京时间"
    return f"{when:%Y-%m-%d %H:%M} ({zone})"
