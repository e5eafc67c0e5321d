"""Least privilege for leaders: their own ground in detail, other ground only as aggregates."""

from __future__ import annotations

from typing import Any


def test_a_leader_exports_only_their_own_units(api: Any) -> None:
    own = api.as_("leader", "GET", "/api/exports/units/220173001001?format=xlsx")
    assert own.status_code == 200, own.text
    other = api.as_("leader", "GET", "/api/exports/units/220173001002?format=xlsx")
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    street = api.as_("leader", "GET", "/api/exports/units/220173001?format=xlsx")
    assert street.status_code == 403  # the street shows every territory in it
    assert (
        api.as_("viewer", "GET", "/api/exports/units/220173001002?format=xlsx").status_code == 200
    )
    assert api.as_("leader", "GET", "/api/maps/leaders/G02_1").status_code == 403
    assert api.as_("leader", "GET", "/api/coverage").status_code == 200  # aggregates stay open
