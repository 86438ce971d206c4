"""REST routes for sharing: links, email blocks, diagrams and herd7 export (the lead includes `router`).

Everything that compiles scenario text runs in a worker job (tasks.py); decoding a link only
reads it (bounded by the link limits) and runs here."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ..formats.email import find_block
from ..formats.link import LINK_VERSION, load
from ..limits import LIMITS
from . import tasks
from .problem import error_responses
from .routing import one_job, schedule_steps
from .scenario import resolve

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["share"])


class ShareRequest(BaseModel):
    # strict: no coercion, `false` is not a loop bound
    model_config = ConfigDict(strict=True, json_schema_extra={"examples": [
        {"scenario": "bias-unsynchronized", "model": "sc", "schedule": "1 1 0 1", "base": "http://127.0.0.1:8000/"}]})

    scenario: str = Field(description="a built-in protocol name or scenario source text")
    model: str = Field("sc", description="sc, tso or lkmm")
    schedule: str | list = Field("", description="text ('0 1 1 0', '0:0 0:flush') or a list of steps")
    loop_bound: int | None = Field(None, ge=0, le=LIMITS.loop_bound)
    base: str = Field("", max_length=2000, description="the app's address, prefixed to '#s=...'")


class ShareResponse(BaseModel):
    token: str = Field(description="the part after '#s='")
    fragment: str
    url: str
    email: str = Field(description="the same payload as a wrapped email block")
    builtin: str | None = Field(None, description="the built-in referenced by name and hash, if any")
    hash: str | None = None
    length: int
    version: int


class DecodeRequest(BaseModel):
    # strict: no coercion, `false` is not a loop bound
    model_config = ConfigDict(strict=True, json_schema_extra={"examples": [
        {"link": "http://127.0.0.1:8000/#s=AU3JQQqAIBBA0avErAvURGugw2gqSVmh7qK7N5ui3ef9Cywg2GhKZ03O0efuPEr1DlpY6CgvvOqdHPQ"
                  "siBLRtqZEeVIGJ4QclNEzV0SFiGGPOUxxj7XhyH-tv2bIfj6-DfcD0Ol90w"}]})

    link: str = Field(max_length=4 * LIMITS.link_chars, description="a URL, '#s=...', the token, or an email block")


class DecodeResponse(BaseModel):
    scenario: str
    label: str
    model: str
    schedule: str
    builtin: str | None = None
    hash: str | None = None
    loop_bound: int | None = None
    prelude: str | None = Field(None, description="the archived prelude the scenario needs, when it changed since")
    warnings: list[str] = []
    version: int


class DiagramImportRequest(BaseModel):
    # strict: no coercion, `false` is not a loop bound
    model_config = ConfigDict(strict=True, json_schema_extra={"examples": [
        {"scenario": "bias-unsynchronized", "model": "sc",
         "diagram": "CPU0               | CPU1\n"
                    "                   | r1 = TestSetPageWriteback(page)\n"
                    "                   | atomic_read(&page->_refcount)\n"
                    "get_page_pin(page) |\n"
                    "                   | atomic_read(&page->_mapcount)\n"}]})

    scenario: str
    diagram: str = Field(max_length=LIMITS.source_chars, description="the pasted diagram; quote markers are fine")
    model: str = Field("sc", pattern="^(sc|tso)$")
    complete: bool = Field(True, description="run what CPUs have left after the last row")
    loop_bound: int | None = Field(None, ge=0, le=LIMITS.loop_bound)


class DiagramImportResponse(BaseModel):
    schedule: str
    rows: list[dict]
    trailing: str
    cpus: int


class DiagramExportRequest(BaseModel):
    # strict: no coercion, `false` is not a loop bound
    model_config = ConfigDict(strict=True, json_schema_extra={"examples": [
        {"scenario": "bias-unsynchronized", "schedule": "1 1 0 1", "model": "sc", "width": 72}]})

    scenario: str
    schedule: str | list
    model: str = Field("sc", pattern="^(sc|tso)$")
    width: int = Field(72, ge=20, le=400)
    loop_bound: int | None = Field(None, ge=0, le=LIMITS.loop_bound)


class ExportRequest(BaseModel):
    # strict: no coercion, `false` is not a loop bound
    model_config = ConfigDict(strict=True, json_schema_extra={"examples": [{"scenario": "bias-barrier-posted"}]})

    scenario: str
    loop_bound: int | None = Field(None, ge=0, le=LIMITS.loop_bound)


class ExportResponse(BaseModel):
    name: str
    litmus: str


@router.post("/share", response_model=ShareResponse, responses=error_responses(404, 422, 429, 503),
             summary="A link (and email block) carrying a scenario, model and schedule")
async def share(req: ShareRequest, request: Request) -> ShareResponse:
    sc = resolve(req.scenario)
    steps = schedule_steps(req.schedule)
    return await one_job(request, tasks.share_answer, sc.text, sc.builtin, req.model, steps, req.loop_bound, req.base,
                      what="making the link")


def _decode(text: str) -> DecodeResponse:
    tok = find_block(text)
    d = load(tok if tok is not None else text).to_dict()
    d["version"] = LINK_VERSION
    return DecodeResponse(**d)


@router.get("/share/decode", response_model=DecodeResponse, responses=error_responses(422),
            summary="The scenario, model and schedule a link carries")
def share_decode(s: str = Query(max_length=LIMITS.link_chars, description="the part after '#s='")) -> DecodeResponse:
    return _decode(s)


@router.post("/share/decode", response_model=DecodeResponse, responses=error_responses(422),
             summary="Decode a link, fragment or email block sent in the body")
def share_decode_post(req: DecodeRequest) -> DecodeResponse:
    return _decode(req.link)


@router.post("/diagram/import", response_model=DiagramImportResponse, responses=error_responses(404, 422, 429, 503),
             summary="Read a pasted CPU0 | CPU1 diagram as a schedule of a protocol")
async def diagram_import(req: DiagramImportRequest, request: Request) -> DiagramImportResponse:
    sc = resolve(req.scenario)
    return await one_job(request, tasks.diagram_import_answer, sc.text, req.model, req.diagram, req.complete,
                      req.loop_bound, what="reading the diagram")


@router.post("/diagram/export", responses=error_responses(404, 422, 429, 503),
             summary="Draw a schedule as a diagram in the mailing-list style")
async def diagram_export(req: DiagramExportRequest, request: Request) -> dict:
    sc = resolve(req.scenario)
    steps = schedule_steps(req.schedule)
    return await one_job(request, tasks.diagram_export_answer, sc.text, req.model, steps, req.width, req.loop_bound,
                      what="drawing the diagram")


@router.post("/export/litmus", response_model=ExportResponse, responses=error_responses(404, 422, 429, 503),
             summary="The scenario as plain herd7 LKMM litmus C")
async def export_herd(req: ExportRequest, request: Request) -> ExportResponse:
    sc = resolve(req.scenario)
    return await one_job(request, tasks.export_answer, sc.text, req.loop_bound, what="exporting the scenario")
