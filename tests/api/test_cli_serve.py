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
    from gridmgr.accounts import credentials as security

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


def test_app_factory_refuses_a_bad_environment_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.main import app_from_env

    monkeypatch.setenv("GRIDMGR_ENV", "prod")
    with pytest.raises(SystemExit) as exc:
        app_from_env()
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "GRIDMGR_ENV='prod'" in err and "Traceback" not in err


def test_passwd_disable_enable_revoke(cli: Any) -> None:
    from gridmgr.accounts import sessions

    assert (
        cli(
            "users", "add", "ann", "--role", "viewer", "--password-stdin", input="first-pass\n"
        ).exit_code
        == 0
    )
    store = cli.store()
    try:
        token = sessions.start_session(store, int(store.get_user("ann")["id"]), hours=1)
        assert sessions.session_user(store, token)["name"] == "ann"
        short = cli("users", "passwd", "ann", input="short\n")
        assert short.exit_code == 1 and "8" in short.output
        assert sessions.authenticate(store, "ann", "first-pass") is not None  # unchanged
        r = cli("users", "passwd", "ann", input="second-pass\n")
        assert r.exit_code == 0, r.output
        assert sessions.session_user(store, token) is None  # a new password ends sessions
        assert sessions.authenticate(store, "ann", "first-pass") is None
        assert sessions.authenticate(store, "ann", "second-pass") is not None
        token = sessions.start_session(store, int(store.get_user("ann")["id"]), hours=1)
        assert cli("users", "disable", "ann").exit_code == 0
        assert sessions.session_user(store, token) is None
        assert sessions.authenticate(store, "ann", "second-pass") is None
        assert cli("users", "enable", "ann").exit_code == 0
        assert sessions.authenticate(store, "ann", "second-pass") is not None
        token = sessions.start_session(store, int(store.get_user("ann")["id"]), hours=1)
        assert cli("users", "revoke", "ann").exit_code == 0
        assert sessions.session_user(store, token) is None
        assert cli("users", "disable", "nobody").exit_code == 1
    finally:
        store.close()
