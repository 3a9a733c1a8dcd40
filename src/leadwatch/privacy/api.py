"""HTTP API of data-subject requests (admin scope): ``GET /api/v1/privacy/subjects``
exports what is stored about a person, ``DELETE`` erases it. The subject is named in
the query string, like every other admin lookup; the audit row keeps only its hash."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from leadwatch.privacy.subjects import Subject, SubjectError
from leadwatch.runtime import Runtime
from leadwatch.web.deps import get_runtime, require_scope
from leadwatch.web.errors import ERROR_RESPONSES, ApiError

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"], responses=ERROR_RESPONSES,
                   dependencies=[Depends(require_scope("admin"))])


class Erasure(BaseModel):
    request_id: int = Field(description="The audit row of this erasure.")
    counts: dict[str, int] = Field(description="Rows anonymised or deleted, per table.")


def subject(
    email: Annotated[str, Query(max_length=254, description="The person's e-mail address.")],
    runtime: Runtime = Depends(get_runtime),
    phone: Annotated[str | None, Query(max_length=50, description="Also match leads with this phone number (its digits).")] = None,
    site: Annotated[str | None, Query(max_length=63, description="Only this site (default: every site).")] = None,
) -> Subject:
    if site is not None and site not in runtime.site_ids:
        raise ApiError(422, f"no site {site!r}", fields={"query.site": "not a configured site id"})
    try:
        return Subject.parse(email, phone, site)
    except SubjectError as exc:
        raise ApiError(422, f"invalid {exc.field}: {exc}", fields={f"query.{exc.field}": str(exc)}) from None


@router.get("/subjects", summary="Export everything stored about a person (GDPR Art. 15/20, CCPA)")
async def export_subject(who: Subject = Depends(subject), runtime: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    return await run_in_threadpool(runtime.privacy.export, who, "api")


@router.delete("/subjects", response_model=Erasure,
               summary="Erase a person: anonymise their leads, drop undelivered messages (GDPR Art. 17, CCPA)")
async def erase_subject(who: Subject = Depends(subject), runtime: Runtime = Depends(get_runtime)) -> Erasure:
    done = await run_in_threadpool(runtime.privacy.erase, who, "api")
    assert done.request_id is not None  # an erasure is always recorded
    return Erasure(request_id=done.request_id, counts=done.counts)
