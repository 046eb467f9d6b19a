"""Stripe's routes on `one run`'s web app: the signed webhook, the pages Checkout returns the buyer to,
and, in local mode only, the local checkout page that stands in for Stripe's hosted one.

    POST /stripe/webhook            raw body + Stripe-Signature -> 200 {"received": true, "status": ...}
                                    400 forged, missing or stale signature (nothing written),
                                    503 no webhook secret, 500 the event could not be applied (Stripe retries)
    GET  /checkout/success          "thank you" page (Checkout's success_url)
    GET  /checkout/cancelled        "nothing was charged" page (cancel_url)
    GET  /one/checkout/{session}    local mode: the session's amount and a Pay button
    POST /one/checkout/{session}    local mode: pay with the test card; the completion is applied at once
"""

from __future__ import annotations

import html
import logging

import anyio
import anyio.to_thread
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from commerce.catalog import format_price
from commerce.stripe_events import StripeEventApplier
from providers.stripe import (
    LocalStripe,
    StripeCardDeclined,
    StripeNotConfigured,
    StripeRejected,
    StripeSignatureInvalid,
)

__all__ = ["stripe_routes"]

log = logging.getLogger(__name__)

DEFAULT_WEBHOOK_WORKERS = 16  # when the store's pool does not say its size


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body style='font-family:sans-serif;max-width:32rem;margin:3rem auto'><h1>{html.escape(title)}</h1>"
        f"{body}</body></html>",
        status_code=status,
    )


def stripe_routes(
    applier: StripeEventApplier, *, local: LocalStripe | None = None, workers: int | None = None
) -> list[BaseRoute]:
    """The routes above; the local checkout page only when `local` (the local Stripe) is given.

    Deliveries are applied in at most `workers` threads at once (default: the store's connection pool
    size, so a delivery that has a thread does not also wait for a connection; measured: 4, 8 and 16
    threads at concurrency 16 within 8% of each other, 16 best), apart from other sync routes' threads."""
    if workers is None:
        size = getattr(applier.store.engine.pool, "size", None)
        workers = size() if callable(size) else DEFAULT_WEBHOOK_WORKERS
    router = APIRouter()
    limiter: list[anyio.CapacityLimiter] = []  # made on first use, inside the server's event loop

    async def stripe_webhook(request: Request) -> Response:
        """One Stripe delivery: verified on its raw body, applied once."""
        payload = await request.body()
        signature = request.headers.get("stripe-signature")
        try:
            if not limiter:
                limiter.append(anyio.CapacityLimiter(max(1, workers)))
            outcome = await anyio.to_thread.run_sync(applier.receive, payload, signature, limiter=limiter[0])
        except (StripeSignatureInvalid, StripeRejected) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        except StripeNotConfigured as error:
            return JSONResponse({"error": str(error)}, status_code=503)
        except Exception:  # logged by the applier with its cause; Stripe retries on a 5xx
            return JSONResponse({"error": "the event could not be applied; retry later"}, status_code=500)
        return JSONResponse({"received": True, "status": outcome.status, "event": outcome.event_id})

    # A plain Starlette route: it takes nothing FastAPI would parse or inject (the raw body is the
    # input), and skipping FastAPI's per-request handling saves CPU on every delivery.
    webhook = Route("/stripe/webhook", stripe_webhook, methods=["POST"])

    @router.get("/checkout/success")
    def checkout_success() -> HTMLResponse:
        """Where Checkout sends a buyer who paid."""
        return _page("Thank you!", "<p>Your payment went through. A confirmation is on its way to your chat.</p>")

    @router.get("/checkout/cancelled")
    def checkout_cancelled() -> HTMLResponse:
        """Where Checkout sends a buyer who left without paying."""
        return _page("Checkout cancelled", "<p>Nothing was charged. You can ask for a new link any time.</p>")

    if local is not None:
        _local_checkout(router, applier, local)
    return [webhook, *router.routes]


def _local_checkout(router: APIRouter, applier: StripeEventApplier, local: LocalStripe) -> None:
    @router.get("/one/checkout/{session_id}")
    def local_checkout_page(session_id: str) -> HTMLResponse:
        """The local stand-in for Stripe's hosted checkout page."""
        try:
            session = local.retrieve_checkout_session(session_id)
        except StripeRejected as error:
            return _page("Checkout not found", f"<p>{html.escape(str(error))}</p>", 404)
        if session.status != "open":
            return _page("Checkout closed", f"<p>This checkout is {html.escape(str(session.status))}.</p>", 410)
        price = format_price(session.amount_total, session.currency)
        return _page(
            "Local checkout (no real money)",
            f"<p>Amount: <b>{html.escape(price)}</b> ({html.escape(str(session.mode))}).</p>"
            f"<form method='post'><button type='submit'>Pay with the test card</button></form>"
            "<p><small>ONE runs Stripe locally: this page stands in for Stripe Checkout.</small></p>",
        )

    @router.post("/one/checkout/{session_id}")
    def local_checkout_pay(session_id: str) -> Response:
        """Pay a local session; its checkout.session.completed is applied before the redirect."""
        try:
            signed = local.complete_checkout_session(session_id)
        except (StripeRejected, StripeCardDeclined) as error:
            return _page("Payment not completed", f"<p>{html.escape(str(error))}</p>", 400)
        applier.receive(signed.payload, signed.signature_header)
        session = local.retrieve_checkout_session(session_id)
        success = str(signed.event.data_object.get("success_url") or "/checkout/success")
        return RedirectResponse(success.replace("{CHECKOUT_SESSION_ID}", session.id), status_code=303)
