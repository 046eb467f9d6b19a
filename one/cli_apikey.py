"""`one apikey ...`: a creator's keys for the web API (create shows the key once; list; revoke)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from one.cli_shared import CreatorFlag, JsonFlag, wired_app
from ontology.records import ApiKey

__all__ = ["apikey_app"]

apikey_app = typer.Typer(help="API keys for the web API (/api/...), one creator each.", no_args_is_help=True)

SHOWN_ONCE = "store this key now: it cannot be shown again (only its hash is kept)"


def _doc(key: ApiKey) -> dict[str, Any]:
    return {
        "id": str(key.id),
        "name": key.name,
        "prefix": key.prefix,
        "creator_id": str(key.creator_id),
        "created_at": key.created_at.isoformat(),
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


def _line(key: ApiKey) -> str:
    used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
    revoked = f"  revoked {key.revoked_at.isoformat(timespec='seconds')}" if key.revoked_at else ""
    return f"{key.id}  one_{key.prefix}_…  {key.name:<20} last used {used}{revoked}"


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option("--name", help="what the key is for, e.g. 'dashboard'")],
    creator: CreatorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an API key; it is printed once and cannot be shown again."""
    from one.api_keys import create_api_key
    from one.runtime import default_creator

    with wired_app() as wired:
        key, record = create_api_key(wired.store, default_creator(wired, creator), name)
    if as_json:
        typer.echo(json.dumps({**_doc(record), "key": key, "warning": SHOWN_ONCE}, ensure_ascii=False))
    else:
        typer.echo(key)
        typer.echo(f"created API key {record.name!r} {record.id}; {SHOWN_ONCE}", err=True)


@apikey_app.command("list")
def apikey_list(
    creator: CreatorFlag = None,
    include_revoked: Annotated[bool, typer.Option("--all", help="include revoked keys")] = False,
    as_json: JsonFlag = False,
) -> None:
    """The creator's API keys (prefix, name, last use; never the key)."""
    from one.api_keys import list_api_keys
    from one.runtime import default_creator

    with wired_app() as wired:
        keys = list_api_keys(wired.store, default_creator(wired, creator), include_revoked=include_revoked)
    if as_json:
        typer.echo(json.dumps([_doc(k) for k in keys], ensure_ascii=False))
    else:
        for key in keys:
            typer.echo(_line(key))


@apikey_app.command("revoke")
def apikey_revoke(
    key: Annotated[str, typer.Argument(metavar="ID|PREFIX", help="the key's id or its prefix")],
    creator: CreatorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke an API key at once: requests presenting it get 401 from now on."""
    from one.api_keys import revoke_api_key
    from one.runtime import default_creator

    with wired_app() as wired:
        revoked = revoke_api_key(wired.store, default_creator(wired, creator), key)
    if as_json:
        typer.echo(json.dumps(_doc(revoked), ensure_ascii=False))
    else:
        typer.echo(f"revoked API key {revoked.name!r} {revoked.id} (one_{revoked.prefix}_…)")
