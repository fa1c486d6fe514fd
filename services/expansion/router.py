"""HTTP routes of the expansion service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.expansion.serving import ServingExpansion
from shared.dependencies import get_serving
from shared.protocol.expansion import ExpandRequest, ExpandResponse

router = APIRouter(prefix="/v1", tags=["expansion"])


ServingDep = Annotated[ServingExpansion, Depends(get_serving)]


@router.post("/expand", response_model=ExpandResponse)
async def expand(body: ExpandRequest, serving: ServingDep) -> ExpandResponse:
    """One referring expression `Name (TYPE) – description` per entity."""
    return await serving.expand(body)
