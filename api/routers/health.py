"""``GET /healthz``: the service and its store answer."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import IndexDep, StoreDep
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get(
    "/healthz", response_model=Health, responses={503: {"description": "store unavailable"}}
)
def healthz(store: StoreDep, index: IndexDep) -> Health:
    """Liveness and readiness: checks the store's schema revision with a real query."""
    from gridmgr.errors import SchemaError
    from gridmgr.store.schema import HEAD_REVISION

    rev = store.revision()  # a real query: the check must touch the database
    if rev != HEAD_REVISION:
        raise SchemaError(
            f"{store!r} is at schema revision {rev}, expected {HEAD_REVISION}; "
            "run `gridmgr db upgrade`"
        )
    return Health(status="ok", backend=store.backend, res=index.res, pieces=len(index.piece_ids))
