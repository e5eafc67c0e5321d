"""Service settings (pydantic-settings, prefix ``GRIDMGR_``), passed explicitly to ``create_app``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: Environments: ``local`` (development, plain HTTP) and ``production`` (behind HTTPS).
ENVS = ("local", "production")


class ServiceSettings(BaseSettings):
    """Settings of the HTTP service.

    ``env`` is ``local`` (development: cookies not ``Secure``, for plain HTTP) or ``production``
    (cookies ``Secure``: serve behind HTTPS). There is no signing secret to configure: sessions
    are random ids kept server-side (:mod:`gridmgr.accounts.sessions`), API tokens are random
    and stored hashed. Limits bound request bodies, pages, bounding boxes and resolutions.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDMGR_", extra="ignore")

    env: str = Field(default="local", description="local | production")
    database_url: str | None = Field(
        default=None, description="store URL; None → sqlite:///./gridmgr.db"
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default=["localhost", "127.0.0.1", "::1"],
        description="host names the service answers for (comma-separated in the environment); * for any",
    )
    tianditu_key: str | None = None
    basemap: str = Field(
        default="vector",
        description="basemap of the web maps: vector (offline roads)|local|tianditu|osm|amap|none",
    )
    tiles: str | None = Field(
        default=None,
        description="offline tile file (.mbtiles or .pmtiles) served at /api/tiles for basemap local",
    )
    max_body_bytes: int = 2_000_000
    max_page_size: int = 1000
    default_page_size: int = 100
    max_bbox_deg2: float = 1.0
    min_res: int = 7
    max_res: int = 12
    session_hours: int = 12
    token_cache_seconds: float = Field(
        default=5.0, description="how long one worker trusts a token lookup (revocation delay)"
    )
    locate_refresh_seconds: float = 5.0
    login_account_limit: int = Field(
        default=5, description="failed logins per user name per window"
    )
    login_client_limit: int = Field(default=20, description="failed logins per client per window")
    login_window_seconds: float = 900.0
    login_concurrent_hashes: int = Field(default=2, description="password checks run at once")
    access_log: bool = True

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        """``GRIDMGR_ALLOWED_HOSTS=a.example.cn,10.1.2.3`` → a list."""
        if isinstance(value, str):
            return [h.strip() for h in value.split(",") if h.strip()]
        return value

    @property
    def local(self) -> bool:
        """True in local development (``GRIDMGR_ENV=local``)."""
        return self.env == "local"

    def check(self) -> None:
        """Refuse an unknown environment name (a typo must not fall back to ``local``)."""
        if self.env not in ENVS:
            msg = f"GRIDMGR_ENV={self.env!r} is unknown; use one of {', '.join(ENVS)}"
            raise ValueError(msg)
