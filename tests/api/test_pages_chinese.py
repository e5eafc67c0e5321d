"""Chinese pages show names, not English identifiers (statuses, metrics, levels, roles)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from apihelpers import PASSWORD

from gridmgr import glossary

#: Groups whose codes must never be read raw on a Chinese page.
CHECKED = ("plan_status", "metric", "level", "leader_role")
COMMUNITY = "220173001001"


def visible_text(html: str) -> str:
    """The text a person reads: no scripts, styles, tags, attributes or code-styled ids."""
    html = re.sub(r"(?is)<(script|style|iframe)\b.*?</\1>", " ", html)
    html = re.sub(r'(?is)<small class="code">.*?</small>', " ", html)
    html = re.sub(r'(?is)<td class="code">.*?</td>', " ", html)
    return unescape(re.sub(r"(?s)<[^>]+>", " ", html))


def english_identifiers(text: str) -> list[str]:
    found = []
    for group in CHECKED:
        for code in glossary.codes(group):
            if re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text):
                found.append(f"{group}:{code}")
    return found


@pytest.fixture
def planner_pages(api: Any) -> Any:
    c = api.client
    c.cookies.clear()
    r = c.post("/login", data={"username": "planner", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    return c


def test_no_english_identifiers_on_chinese_pages(planner_pages: Any) -> None:
    c = planner_pages
    proposed = c.post(
        "/rebalance",
        data={"scope": COMMUNITY, "target_ratio": "1.02"},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert proposed.status_code == 303, proposed.text
    plan_url = proposed.headers["location"]
    for url in ("/", "/dashboard", f"/dashboard?scope={COMMUNITY}", "/rebalance", plan_url):
        r = c.get(url)
        assert r.status_code == 200, url
        text = visible_text(r.text)
        assert english_identifiers(text) == [], url
        assert "规划人员" in text  # the role, in Chinese
    plan = visible_text(c.get(plan_url).text)
    assert "待应用" in plan and "最大负载比" in plan and "调整汇总" in plan


def test_the_checker_catches_an_identifier() -> None:
    assert sorted(english_identifiers(visible_text("<td>proposed</td><td>street</td>"))) == [
        "level:street",
        "plan_status:proposed",
    ]
    assert english_identifiers(visible_text('<td class="code">max_ratio</td>')) == []
