"""``gridmgr users …`` and ``gridmgr serve`` (the CLI of the service), on both backends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner


@pytest.fixture
def cli(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    from gridmgr.cli import app
    from gridmgr.store import open_store

    monkeypatch.setenv("GRIDMGR_DATABASE_URL", store_url)
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Any:
        return runner.invoke(app, list(args), input=input)

    run.store = lambda: open_store(store_url)  # type: ignore[attr-defined]
    return run


def test_users_add_token_list(cli: Any) -> None:
    from api import security

    r = cli("users", "add", "boss", "--role", "admin", "--password-stdin", input="s3cret-pass\n")
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("gm_")
    store = cli.store()
    try:
        assert store.user_for_token(security.hash_token(token))["name"] == "boss"
        assert security.verify_password("s3cret-pass", store.get_user("boss")["password_hash"])
    finally:
        store.close()
    r2 = cli("users", "token", "boss")
    assert r2.exit_code == 0 and r2.stdout.strip() != token
    listed = json.loads(cli("users", "list", "--json").stdout)
    assert [(u["name"], u["role"]) for u in listed] == [("boss", "admin")]
    again = cli("users", "add", "boss", "--role", "viewer")
    assert again.exit_code == 1 and "boss" in again.output
    bad = cli("users", "add", "x", "--role", "leader")  # a leader needs --leader
    assert bad.exit_code == 1
    assert cli("users", "token", "nobody").exit_code == 1


def test_serve_refuses_default_secret_in_production(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDMGR_ENV", "production")
    monkeypatch.delenv("GRIDMGR_SECRET_KEY", raising=False)
    r = cli("serve", "--port", "1")
    assert r.exit_code == 1 and "GRIDMGR_SECRET_KEY" in r.output
