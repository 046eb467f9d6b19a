"""`one fan ...`, `one creator ...` and `one team ...`: people on the chat platforms.

    one fan forget ID|PLATFORM:ACCOUNT [--yes]     erase a fan everywhere
    one creator init --name NAME --handle HANDLE  register yourself as a creator
    one creator link PLATFORM ACCOUNT [--creator]  the creator's own Slack/Telegram/Discord account
    one team add|remove PLATFORM ACCOUNT [--creator]  who may command the creator's agents

Errors are one line and an exit code (one/cli_errors.py translates them for every command). The
work is done by bots/identity.py (imported when a command runs: `one --help` stays quick).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from typing import Annotated, Any

import typer

from one.bootstrap import App
from one.cli_shared import CreatorFlag, JsonFlag, wired_app
from ontology import Entity, InvalidInput

__all__ = ["creator_app", "fan_app", "team_app"]

fan_app = typer.Typer(help="Fans: the people talking to the clone.", no_args_is_help=True)
creator_app = typer.Typer(help="The creator: register, and link your own chat accounts.", no_args_is_help=True)
team_app = typer.Typer(help="The creator's team: who may command the agents from Slack.", no_args_is_help=True)

Platform = Annotated[str, typer.Argument(metavar="PLATFORM", help="telegram, discord or slack")]
Account = Annotated[str, typer.Argument(metavar="ACCOUNT", help="the platform's user id")]


def _emit(as_json: bool, document: Any, line: str) -> None:
    typer.echo(json.dumps(document, ensure_ascii=False) if as_json else line)


def _fan_id(app: App, target: str) -> uuid.UUID:
    """A fan id from an id or PLATFORM:ACCOUNT; NotFound when no fan has that account."""
    try:
        return uuid.UUID(target)
    except ValueError:
        pass
    platform, sep, account = target.partition(":")
    if not sep or not platform.strip() or not account.strip():
        raise InvalidInput(f"give a fan id or PLATFORM:ACCOUNT (e.g. telegram:12345), got {target!r}")
    with app.store.unit_of_work() as uow:
        return uow.entities.by_identity("audience_member", platform.strip().lower(), account.strip()).id


@fan_app.command("forget")
def fan_forget(
    target: Annotated[str, typer.Argument(metavar="ID|PLATFORM:ACCOUNT", help="the fan's id or one of their accounts")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Erase a fan everywhere: memory with every clone, messages, codes, accounts, personal connections.
    Events stay, anonymous. Cannot be undone."""
    from bots.identity import forget_fan
    from ontology.checkpoints import open_checkpointer

    with wired_app() as wired:
        fan_id = _fan_id(wired, target)
        if not yes:
            typer.confirm(f"Forget fan {fan_id} everywhere? This cannot be undone", abort=True)
        pool, saver = open_checkpointer(wired.engine.url.render_as_string(hide_password=False), max_size=2)
        try:
            report = forget_fan(wired.store, saver, fan_id)
        finally:
            pool.close()
    document = {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in asdict(report).items()}
    if report.found:
        line = (
            f"forgot fan {fan_id}: {report.threads} clone threads, {report.inbox} incoming and "
            f"{report.outbox} outgoing messages, {report.connections} connections, {report.leads} leads"
        )
    else:
        line = f"nothing left to forget for {fan_id} (unknown, or forgotten before); leftovers were cleaned"
    _emit(as_json, document, line)


def _creator(app: App, creator: str | None) -> uuid.UUID:
    from one.runtime import default_creator

    return default_creator(app, creator)


def _people(entity: Entity) -> dict[str, Any]:
    props = entity.properties
    return {"creator": str(entity.id), "identities": props.get("identities") or {}, "team": props.get("team") or {}}


@creator_app.command("init")
def creator_init(
    name: Annotated[str, typer.Option("--name", help="your name, as fans know you")],
    handle: Annotated[str, typer.Option("--handle", help="a short unique handle, e.g. ava")],
    email: Annotated[str | None, typer.Option("--email", help="where ONE reaches you (optional)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register yourself as a creator: the first of four steps to a live clone (then `one content add
    ./my-posts`, `one clone build`, and `ONE_TELEGRAM_BOT_TOKEN=... one run`)."""
    from ontology import register_creator

    with wired_app() as wired:
        created = register_creator(wired.store, name.strip(), email=email, handle=handle.strip().removeprefix("@"))
    _emit(
        as_json,
        {"creator": str(created.id), "name": created.name, "handle": created.properties["handle"]},
        f"created creator {created.name!r} (@{created.properties['handle']}) {created.id}\n"
        "next: one content add ./my-posts, then one clone build",
    )


@creator_app.command("contact")
def creator_contact(
    phone: Annotated[
        str | None, typer.Option("--phone", help="E.164 mobile number, e.g. +14155550100: step-up codes go there")
    ] = None,
    email: Annotated[str | None, typer.Option("--email", help="email address (codes go there without a phone)")] = None,
    creator: CreatorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Set where ONE reaches you: the one-time codes that approve money actions (refunds, price
    changes, token mints, big broadcasts) go by SMS to --phone, else by email to --email."""
    from one.cli_errors import BAD_INPUT, fail

    if phone is None and email is None:
        raise fail("give --phone and/or --email", BAD_INPUT)
    changes = {k: v.strip() for k, v in (("phone", phone), ("email", email)) if v is not None}
    with wired_app() as wired:
        creator_id = _creator(wired, creator)
        with wired.store.unit_of_work() as uow:
            updated = uow.entities.update(creator_id, properties=changes)
            uow.events.insert("creator_updated", actor_id=creator_id, target_id=creator_id)
            uow.commit()
    document = {"creator": str(updated.id), **{k: updated.properties.get(k) for k in ("phone", "email")}}
    _emit(as_json, document, f"updated how ONE reaches {updated.name!r}: {', '.join(sorted(changes))}")


@creator_app.command("link")
def creator_link(platform: Platform, account: Account, creator: CreatorFlag = None, as_json: JsonFlag = False) -> None:
    """Link the creator's own account on a platform (it may then command the agents there)."""
    from bots.identity import link_creator_account

    with wired_app() as wired:
        updated = link_creator_account(wired.store, _creator(wired, creator), platform, account)
    _emit(as_json, _people(updated), f"linked {platform} account {account} to creator {updated.name!r}")


@team_app.command("add")
def team_add(platform: Platform, account: Account, creator: CreatorFlag = None, as_json: JsonFlag = False) -> None:
    """Add a team member's platform account: they may command the creator's agents."""
    from bots.identity import add_team_account

    with wired_app() as wired:
        updated = add_team_account(wired.store, _creator(wired, creator), platform, account)
    _emit(as_json, _people(updated), f"added {platform} account {account} to {updated.name!r}'s team")


@team_app.command("remove")
def team_remove(platform: Platform, account: Account, creator: CreatorFlag = None, as_json: JsonFlag = False) -> None:
    """Remove a team member's platform account."""
    from bots.identity import remove_team_account

    with wired_app() as wired:
        updated = remove_team_account(wired.store, _creator(wired, creator), platform, account)
    _emit(as_json, _people(updated), f"removed {platform} account {account} from {updated.name!r}'s team")
