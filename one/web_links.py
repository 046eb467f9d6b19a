"""The public links ONE issues to people: referral links and magic links (HTML, no API key).

    GET  /r/{code}    records the click, then 302 to the bot's deep link t.me/<bot>?start=ref_CODE
                      (or, without a known bot username, a page that says what to send the bot);
                      404 page for an unknown or expired code
    GET  /m/{token}   a confirm page with one button: nothing is used yet, so a mail client's link
                      scanner that fetches it burns nothing
    POST /m/{token}   uses the link once: registers the person as a fan (commerce.magic_links);
                      404 (no such link) or 410 (used or expired) pages, nothing written

Every page escapes what it shows. Handlers are plain functions: FastAPI runs them in its thread
pool, so the synchronous store never blocks the event loop.
"""

from __future__ import annotations

import html
import logging
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from commerce.magic_links import MagicLinkRefused, check_magic_link, redeem_magic_link
from commerce.referrals import START_PREFIX, ReferralRefused, clean_code, record_click
from ontology import Store

__all__ = ["links_router"]

log = logging.getLogger(__name__)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<meta name='robots' content='noindex'><title>{html.escape(title)}</title></head>"
        f"<body style='font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem'>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(
        document, status_code=status, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


def links_router(store: Store, *, telegram_bot: str | None = None) -> APIRouter:
    """The /r and /m routes over `store`; `telegram_bot` is the bot's username for deep links."""
    links = APIRouter()

    @links.get("/r/{code}", include_in_schema=False)
    def referral_link(code: str) -> Response:
        """A referral link was opened: count the click and send the visitor to the creator's bot."""
        try:
            value = clean_code(code)
            with store.unit_of_work() as uow:
                record_click(uow, value)
                uow.commit()
        except ReferralRefused:
            return _page("Invite not found", "<p>This invite link is not valid any more.</p>", 404)
        start = f"{START_PREFIX}{value}"
        if telegram_bot:
            return RedirectResponse(f"https://t.me/{quote(telegram_bot)}?start={quote(start)}", status_code=302)
        return _page(
            "You're invited",
            f"<p>Open the creator's bot on Telegram and send:</p><p><code>/start {html.escape(start)}</code></p>",
        )

    @links.get("/m/{token}", include_in_schema=False)
    def magic_link_page(token: str) -> Response:
        """The confirm page of a magic link (uses nothing)."""
        try:
            creator, email = check_magic_link(store, token)
        except MagicLinkRefused as error:
            return _page("Link not usable", f"<p>{html.escape(str(error))}.</p>", error.status)
        body = (
            f"<p>Join <b>{html.escape(creator)}</b> as {html.escape(email)}?</p>"
            f"<form method='post' action='/m/{quote(token)}'><button type='submit'>Yes, join</button></form>"
        )
        return _page("Confirm", body)

    @links.post("/m/{token}", include_in_schema=False)
    def magic_link_use(token: str) -> Response:
        """Use the magic link: the person becomes a fan of the creator (once)."""
        try:
            redeem_magic_link(store, token)
        except MagicLinkRefused as error:
            return _page("Link not usable", f"<p>{html.escape(str(error))}.</p>", error.status)
        return _page("You're in", "<p>Thanks for confirming: you're now on the list.</p>")

    return links
