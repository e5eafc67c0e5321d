"""Service settings (pydantic-settings, prefix ``GRIDMGR_``), passed explicitly to ``create_app``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The placeholder secret; refused outside local development.
DEV_SECRET = "dev-only-change-me"


class ServiceSettings(BaseSettings):
    """Settings of the HTTP service.

    ``env`` is ``local`` (development: default secret allowed, cookies not ``Secure``) or
    ``production``. Limits bound request bodies, pages, bounding boxes and resolutions.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDMGR_", extra="ignore")

    env: str = Field(default="local", description="local | production")
    database_url: str | None = Field(
        default=None, description="store URL; None → sqlite:///./gridmgr.db"
    )
    secret_key: str = Field(default=DEV_SECRET, description="signs session cookies")
    tianditu_key: str | None = None
    basemap: str = Field(
        default="osm", description="basemap of the web maps: tianditu|osm|amap|none"
    )
    max_body_bytes: int = 2_000_000
    max_page_size: int = 1000
    default_page_size: int = 100
    max_bbox_deg2: float = 1.0
    min_res: int = 7
    max_res: int = 12
    session_hours: int = 12
    token_cache_seconds: float = 30.0
    locate_refresh_seconds: float = 5.0
    access_log: bool = True

    @property
    def local(self) -> bool:
        """True in local development (``GRIDMGR_ENV=local``)."""
        return self.env == "local"

    def check(self) -> None:
        """Refuse placeholder secrets outside local development."""
        if not self.local and (self.secret_key == DEV_SECRET or len(self.secret_key) < 32):
            msg = (
                "GRIDMGR_SECRET_KEY is the development placeholder or shorter than 32 characters; "
                "set a random secret (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`) "
                "before running with GRIDMGR_ENV=production"
            )
            raise RuntimeError(msg)
