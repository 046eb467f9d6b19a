"""The web app `one run` serves: health, Prometheus metrics, the adapters' webhooks and the creator API.

    GET  /healthz                 200 {"status": "ok", "database": "ok", <adapter>: <state>...}; 503 with the reason
    GET  /metrics                 Prometheus text (the outbox gauge is refreshed on each scrape)
    *    <adapter routes>         mounted as given (/slack/events, /telegram/webhook)
    GET  /api/me                  the key's creator
    GET  /api/fans                the creator's followers, keyset pages (?limit=&after=)
    GET  /api/metrics             business figures (tools.analytics.compute_metrics, ?days=)
    GET  /api/conversations       recent fan turns with the clone: time, fan, platform, tokens (no text)
    POST /api/commands            {"command": "..."} -> {"agent", "answer", "runId"}
    GET  /api/approvals           ?status=&limit=
    POST /api/approvals/{id}      {"decision": "approve"|"reject", "code": "123456"} (or {"approve": true|false});
                                  a step-up approval without its code: 202, a code is sent to the creator
                                  (`stepUp` says where); a wrong code: 403, nothing done
    POST /sendgrid/events         SendGrid's signed event webhook (403 forged, 400 stale or malformed)
    GET  /api/outbox              the creator's outgoing messages, metadata only (?status=&limit=)

Every /api route needs `Authorization: Bearer <API key>` (`one apikey create`) and sees only the
key's creator. Errors are JSON `{"error": "..."}`: 401 (no or bad key), 404 (NotFound, or another
creator's row), 409 (already decided, ConstraintViolation), 422 (InvalidInput, bad parameters),
503 (a part this process does not run), 500 for anything unexpected (logged, never detailed).
The store is synchronous: handlers are plain functions FastAPI runs in its thread pool, and the
async ones hand their database calls to threads, so no request blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, StrictBool, model_validator
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agents import clone_of_creator
from bots.metrics import Metrics
from commerce.email_events import AppliedEmailEvents, record_email_events
from commerce.step_up import StepUpNoChannel, StepUpRefused, StepUpThrottled
from graphs.commands import AgentRun
from one.api_keys import InvalidApiKey, authenticate
from ontology import ConstraintViolation, InvalidInput, NotFound, OneError, Store
from ontology.records import ApiKey, Approval, OutboxMessage
from providers.errors import ProviderNotConfigured
from providers.sendgrid import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    EmailProvider,
    SendGridWebhookForged,
    SendGridWebhookInvalid,
)
from tools.analytics import compute_metrics
from tools.approvals import StepUpRequired
from tools.context import NotAllowed

__all__ = ["ApprovalDecider", "CommandRunner", "build_web_app"]

log = logging.getLogger(__name__)

DATABASE_TIMEOUT_S = 5.0
OUTBOX_STATUSES = ("pending", "sending", "delivered", "failed", "cancelled")
APPROVAL_STATUSES = ("pending", "approved", "rejected", "executed", "failed")
MAX_COMMAND_CHARS = 4000
INTERNAL_ERROR = "internal error: the server log has the details"
SENDGRID_EVENTS_PATH = "/sendgrid/events"
MAX_WEBHOOK_BYTES = 5 * 1024 * 1024


class CommandRunner(Protocol):
    """What runs a creator's command (graphs.commands.AgentCommands)."""

    def command(self, creator_id: uuid.UUID, command: str) -> AgentRun:
        """Route the command to an agent, run it, and return the run."""
        ...


class ApprovalDecider(Protocol):
    """What decides an approval (tools.approvals.ApprovalDesk)."""

    def decide(self, approval_id: uuid.UUID, *, approve: bool, by: str, code: str | None = None) -> Approval:
        """Approve (and run the action once) or reject a pending approval; a step-up approval needs
        `code` (without it: StepUpRequired after sending one; a wrong one: StepUpRefused)."""
        ...


class CommandBody(BaseModel):
    """POST /api/commands."""

    command: str = Field(min_length=1, max_length=MAX_COMMAND_CHARS)


class DecisionBody(BaseModel):
    """POST /api/approvals/{id}: `decision` (or the older `approve` flag), and the step-up `code`."""

    decision: Literal["approve", "reject"] | None = None
    approve: StrictBool | None = None
    code: str | None = Field(default=None, min_length=1, max_length=32)

    @model_validator(mode="after")
    def _one_decision(self) -> DecisionBody:
        if (self.decision is None) == (self.approve is None):
            raise ValueError('give either "decision": "approve"|"reject" or "approve": true|false')
        return self

    @property
    def approving(self) -> bool:
        """Whether the body approves."""
        return self.decision == "approve" if self.decision is not None else bool(self.approve)


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=dict(headers or {}))


class _InternalErrors:
    """Outermost of our middleware: an unexpected exception is logged once and answered with a generic
    JSON 500 (Starlette's own handler would answer in plain text and raise it again to the server)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if started:
                raise
            await _error(500, INTERNAL_ERROR)(scope, receive, send)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _approval_doc(approval: Approval) -> dict[str, Any]:
    return {
        "id": str(approval.id),
        "action": approval.action,
        "summary": approval.summary,
        "arguments": approval.arguments,
        "status": approval.status,
        "createdAt": _iso(approval.created_at),
        "decidedBy": approval.decided_by,
        "decidedAt": _iso(approval.decided_at),
        "result": approval.result,
        "finishedAt": _iso(approval.finished_at),
    }


def _outbox_doc(row: OutboxMessage) -> dict[str, Any]:
    # Metadata only: the text (a fan's reply, a broadcast) stays out of the API.
    return {
        "id": row.id,
        "platform": row.platform,
        "kind": row.kind,
        "status": row.status,
        "attempts": row.attempts,
        "createdAt": _iso(row.created_at),
        "sentAt": _iso(row.sent_at),
        "error": row.error,
    }


def _one_of(value: str | None, allowed: Sequence[str], name: str) -> str | None:
    if value is not None and value not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _caller(request: Request) -> ApiKey:
    """The API key presented as `Authorization: Bearer <key>`, or 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            401, "send Authorization: Bearer <API key> (`one apikey create`)", {"WWW-Authenticate": "Bearer"}
        )
    try:
        return authenticate(request.app.state.store, token)
    except InvalidApiKey as error:
        raise HTTPException(401, str(error), {"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None


Caller = Annotated[ApiKey, Depends(_caller)]


def _api_router(store: Store, commands: CommandRunner | None, approvals: ApprovalDecider | None) -> APIRouter:
    api = APIRouter(prefix="/api")

    @api.get("/me")
    def me(key: Caller) -> dict[str, Any]:
        """The creator the key belongs to."""
        with store.unit_of_work() as uow:
            creator = uow.entities.get(key.creator_id)
        return {"id": str(creator.id), "name": creator.name, "handle": creator.properties.get("handle")}

    @api.get("/fans")
    def fans(key: Caller, limit: int = 50, after: str | None = None) -> dict[str, Any]:
        """The creator's followers in the order they followed; pass `next` as `after` for the next page."""
        with store.unit_of_work() as uow:
            page = uow.entities.neighbours(
                key.creator_id, "following", direction="in", types=["audience_member"], limit=limit, after=after
            )
        return {
            "fans": [
                {
                    "id": str(n.entity.id),
                    "name": n.entity.name,
                    "status": n.entity.status,
                    "platforms": sorted(n.entity.properties.get("identities") or {}),
                    "followedAt": _iso(n.connection.created_at),
                }
                for n in page
            ],
            "next": str(page[-1].connection.id) if len(page) == limit else None,
        }

    @api.get("/metrics")
    def business_metrics(key: Caller, days: int = 30) -> dict[str, Any]:
        """Revenue, payments, fans, leads, content and enrolments now and over the last `days` days."""
        if not 1 <= days <= 365:
            raise InvalidInput(f"days must be from 1 to 365, got {days}")
        with store.unit_of_work() as uow:
            return compute_metrics(uow, key.creator_id, days)

    @api.get("/conversations")
    def conversations(key: Caller, limit: int = 50) -> dict[str, Any]:
        """The latest fan turns with the creator's clone, newest first (never the messages' text)."""
        clone = clone_of_creator(store, key.creator_id)
        if clone is None:
            return {"conversations": []}
        with store.unit_of_work() as uow:
            events = uow.events.query(type="clone_interaction", target_id=clone.id, limit=limit)
        return {
            "conversations": [
                {
                    "time": _iso(e.timestamp),
                    "fanId": str(e.actor_id) if e.actor_id else None,
                    "platform": e.metadata.get("platform"),
                    "tokensIn": e.metadata.get("tokensIn"),
                    "tokensOut": e.metadata.get("tokensOut"),
                    "model": e.metadata.get("model"),
                }
                for e in events
            ]
        }

    @api.post("/commands")
    def command(key: Caller, body: CommandBody) -> dict[str, Any]:
        """Give the business agents a command and wait for the answer (runs in a worker thread)."""
        if commands is None:
            raise HTTPException(503, "agent commands are not running in this process")
        run = commands.command(key.creator_id, body.command)
        return {"agent": run.agent_type, "answer": run.answer, "runId": str(run.run_id)}

    @api.get("/approvals")
    def list_approvals(key: Caller, status: str | None = None, limit: int = 100) -> dict[str, Any]:
        """The creator's approvals, oldest first, optionally of one status."""
        wanted = _one_of(status, APPROVAL_STATUSES, "status")
        with store.unit_of_work() as uow:
            found = uow.approvals.query(creator_id=key.creator_id, status=wanted, limit=limit)
        return {"approvals": [_approval_doc(a) for a in found]}

    @api.post("/approvals/{approval_id}")
    def decide(key: Caller, approval_id: uuid.UUID, body: DecisionBody) -> Any:
        """Approve or reject one of the creator's pending approvals."""
        if approvals is None:
            raise HTTPException(503, "approvals are not running in this process")
        with store.unit_of_work() as uow:
            current = uow.approvals.get(approval_id)
        if current.creator_id != key.creator_id:
            raise NotFound(f"no approval {approval_id}")  # another creator's: as if it did not exist
        if current.status != "pending":
            raise HTTPException(409, f"approval {approval_id} was already decided: {current.status}")
        try:
            with_code = {"code": body.code} if body.code is not None else {}
            decided = approvals.decide(approval_id, approve=body.approving, by=f"api key {key.prefix}", **with_code)
        except StepUpRequired as needed:
            sent = needed.sent
            step_up = {"sent": sent.fresh, "via": sent.via, "to": sent.to, "expiresAt": _iso(sent.expires_at)}
            document = {**_approval_doc(needed.approval), "stepUp": step_up, "error": str(needed)}
            return JSONResponse(document, status_code=202)
        return _approval_doc(decided)

    @api.get("/outbox")
    def outbox(key: Caller, status: str | None = None, limit: int = 100) -> dict[str, Any]:
        """The creator's outgoing messages in queue order: where each stands, never what it says."""
        wanted = _one_of(status, OUTBOX_STATUSES, "status")
        with store.unit_of_work() as uow:
            rows = uow.outbox.query(creator_id=key.creator_id, status=wanted, limit=limit)
        return {"messages": [_outbox_doc(row) for row in rows]}

    return api


def _install_error_handlers(app: FastAPI) -> None:
    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        if error.status_code == 204 or error.status_code < 200:
            return Response(status_code=error.status_code, headers=error.headers)
        return _error(error.status_code, str(error.detail), error.headers)

    async def bad_request(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path"))
            problems.append(f"{where}: {item.get('msg', 'invalid')}" if where else str(item.get("msg", "invalid")))
        return _error(422, "; ".join(problems) or "invalid request")

    def status_of(code: int) -> Callable[[Request, Exception], Any]:
        async def handler(request: Request, error: Exception) -> Response:
            return _error(code, str(error))

        return handler

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_exception_handler(InvalidInput, status_of(422))
    app.add_exception_handler(NotFound, status_of(404))
    app.add_exception_handler(ConstraintViolation, status_of(409))
    app.add_exception_handler(NotAllowed, status_of(403))
    app.add_exception_handler(StepUpRefused, status_of(403))  # a wrong, used, expired or locked code
    app.add_exception_handler(StepUpThrottled, status_of(429))
    app.add_exception_handler(StepUpNoChannel, status_of(422))


def build_web_app(
    *,
    store: Store,
    metrics: Metrics,
    routes: Sequence[BaseRoute] = (),
    health: Callable[[], Mapping[str, str]] | None = None,
    commands: CommandRunner | None = None,
    approvals: ApprovalDecider | None = None,
    email: Callable[[], EmailProvider] | None = None,
) -> FastAPI:
    """The ASGI app of one `one run` process, over its store and metrics; `routes` are the adapters'
    webhooks, `health()` their states for /healthz; without `commands` or `approvals` those API
    routes answer 503; `email()` gives the email provider that verifies SendGrid's event webhook
    (without it, POST /sendgrid/events answers 503)."""
    app = FastAPI(title="ONE", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    _install_error_handlers(app)
    app.add_middleware(_InternalErrors)

    @app.get("/healthz")
    async def healthz() -> Response:
        """Whether the database answers, and the adapters' states."""
        adapters = dict(health()) if health is not None else {}
        try:
            # asyncio's executor, not anyio's: a database that hangs must not hang the answer too.
            await asyncio.wait_for(asyncio.to_thread(store.ping), DATABASE_TIMEOUT_S)
        except TimeoutError:
            reason = f"the database did not answer within {DATABASE_TIMEOUT_S:g} s"
        except OneError as error:
            reason = str(error)
        else:
            return JSONResponse({"status": "ok", "database": "ok", **adapters})
        reason = " ".join(reason.split())
        log.warning("health check: %s", reason)
        return JSONResponse({"status": "unavailable", "database": reason, **adapters}, status_code=503)

    def outbox_counts() -> dict[str, int]:
        with store.unit_of_work() as uow:
            return uow.outbox.counts()

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Prometheus text format; the outbox gauge is counted from the database on each scrape."""
        try:
            counts = await asyncio.wait_for(asyncio.to_thread(outbox_counts), DATABASE_TIMEOUT_S)
        except (TimeoutError, OneError) as error:  # the other figures are still worth scraping
            log.warning("outbox counts for /metrics failed: %s", error or type(error).__name__)
        else:
            for status in {*OUTBOX_STATUSES, *counts}:
                metrics.outbox.labels(status=status).set(counts.get(status, 0))
        return Response(generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.post(SENDGRID_EVENTS_PATH)
    async def sendgrid_events(request: Request) -> Response:
        """SendGrid's signed event webhook: verified, then each event applied once (commerce.email_events)."""
        if email is None:
            return _error(503, "SendGrid events are not handled by this process")
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return _error(413, f"an event webhook request is at most {MAX_WEBHOOK_BYTES} bytes")
        signature, timestamp = request.headers.get(SIGNATURE_HEADER), request.headers.get(TIMESTAMP_HEADER)

        def apply() -> AppliedEmailEvents:
            return record_email_events(store, email().parse_events(body, signature, timestamp))

        try:
            done = await asyncio.to_thread(apply)
        except SendGridWebhookForged as error:
            log.warning("sendgrid events: refused a request: %s", error)
            return _error(403, str(error))
        except SendGridWebhookInvalid as error:
            log.warning("sendgrid events: refused a request: %s", error)
            return _error(400, str(error))
        except ProviderNotConfigured as error:
            return _error(503, str(error))
        return JSONResponse({"applied": done.applied, "duplicates": done.duplicates, "ignored": done.ignored})

    app.router.routes.extend(routes)
    app.include_router(_api_router(store, commands, approvals))
    return app
