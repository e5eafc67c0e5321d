"""Who am I (API)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser
from api.routers._common import problems
from api.schemas import Me

router = APIRouter(tags=["auth"])


@router.get("/me", response_model=Me, responses=problems(401))
def me(user: CurrentUser) -> Me:
    """The authenticated user and role."""
    return Me(name=user.name, role=user.role, leader_id=user.leader_id)
