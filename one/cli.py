"""The `one` command line. Errors print one line to stderr and exit 2 (bad input) or 1 (other)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from one.cli_apikey import apikey_app
from one.cli_approvals import approvals_app
from one.cli_errors import BAD_INPUT, FAILURE, OneCommandGroup, fail, set_debug
from one.cli_people import creator_app, fan_app, team_app
from one.cli_products import product_app
from one.cli_shared import CreatorFlag, JsonFlag, wired_app
from one.cli_tokens import token_app
from ontology import REGISTRY, OneError, to_json
from ontology.types import KINDS

app = typer.Typer(
    help="ONE: a creator runs a business with AI.",
    no_args_is_help=True,
    add_completion=False,
    cls=OneCommandGroup,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
entity_app = typer.Typer(help="Entities of the ontology.", no_args_is_help=True)
clone_app = typer.Typer(help="The creator's AI clone.", no_args_is_help=True)
agents_app = typer.Typer(help="The ten business agents.", no_args_is_help=True)
content_app = typer.Typer(help="The creator's own content: import files, list, publish, remove.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(entity_app, name="entity")
app.add_typer(clone_app, name="clone")
app.add_typer(agents_app, name="agents")
app.add_typer(content_app, name="content")
app.add_typer(apikey_app, name="apikey")
app.add_typer(fan_app, name="fan")
app.add_typer(creator_app, name="creator")
app.add_typer(team_app, name="team")
app.add_typer(approvals_app, name="approvals")
app.add_typer(product_app, name="product")
app.add_typer(token_app, name="token")

EXISTING_FILE: dict[str, Any] = {"exists": True, "dir_okay": False, "readable": True}
IMPORT_ACTIONS = ("added", "updated", "unchanged", "failed")


def _fail(message: str, code: int) -> NoReturn:
    raise fail(message, code)


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", envvar="ONE_DEBUG", help="print the traceback of an error above its line")
    ] = False,
) -> None:
    """ONE: a creator runs a business with AI."""
    set_debug(ctx, debug)


def _parse_json(value: str | None, option: str) -> dict[str, Any]:
    if value is None:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        _fail(f"{option} is not valid JSON: {error}", BAD_INPUT)
    if not isinstance(parsed, dict):
        _fail(f"{option} must be a JSON object", BAD_INPUT)
    return parsed


def _emit(as_json: bool, document: Any, human: Callable[[], None]) -> None:
    if as_json:
        typer.echo(json.dumps(document, ensure_ascii=False))
    else:
        human()


@app.command()
def demo() -> None:
    """Build a demo creator with content of all 7 types, tag it, and run semantic searches."""
    from one.demo import run_demo

    with wired_app() as wired:
        run_demo(wired, typer.echo)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema (idempotent; safe to run from several processes at once)."""
    with wired_app(migrate=True) as wired:
        url = wired.engine.url.render_as_string(hide_password=True)
        typer.echo(f"schema is current on {url}")


@app.command("providers")
def providers_status(as_json: JsonFlag = False) -> None:
    """List the 14 providers: live or local, and the settings live mode still needs."""
    from one.providers import status
    from one.settings import Settings

    rows = status(Settings())

    def human() -> None:
        for row in rows:
            if "error" in row:
                typer.echo(f"{row['name']:<11} error  {row['error']}")
                continue
            missing = f"  live needs: {'; '.join(row['missing_for_live'])}" if row["missing_for_live"] else ""
            typer.echo(f"{row['name']:<11} {row['mode']:<6} {row['purpose']}{missing}")
            if row["mode"] == "local":
                typer.echo(f"{'':<18} local: {row['local_means']}")

    _emit(as_json, rows, human)
    errors = [row["error"] for row in rows if "error" in row]
    if errors:
        _fail("; ".join(errors), BAD_INPUT)


@app.command()
def types(
    kind: Annotated[str | None, typer.Option(help="entity, connection or event")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the ontology's types (46 entity, 24 connection, 38 event)."""
    if kind is not None and kind not in KINDS:
        _fail(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}", BAD_INPUT)
    kinds = [kind] if kind else list(KINDS)
    specs = [spec for k in kinds for spec in REGISTRY.specs(k)]  # type: ignore[arg-type]

    def human() -> None:
        for spec in specs:
            typer.echo(f"{spec.kind:<10} {spec.name:<26} {spec.description}")

    _emit(as_json, [spec.describe() for spec in specs], human)


@entity_app.command("create")
def entity_create(
    type: Annotated[str, typer.Option("--type", help="entity type, see `one types --kind entity`")],
    name: Annotated[str, typer.Option("--name")],
    props: Annotated[str | None, typer.Option("--props", help="properties as a JSON object")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an entity of any type."""
    properties = _parse_json(props, "--props")
    with wired_app() as wired, wired.store.unit_of_work() as uow:
        entity = uow.entities.insert(type, name, properties, status)
        uow.commit()
    _emit(as_json, to_json(entity), lambda: typer.echo(f"created {entity.type} {entity.name!r} {entity.id}"))


@entity_app.command("get")
def entity_get(id: str, as_json: JsonFlag = False) -> None:
    """Show one entity."""
    with wired_app() as wired, wired.store.unit_of_work() as uow:
        entity = uow.entities.get(id)
    _emit(as_json, to_json(entity), lambda: typer.echo(json.dumps(to_json(entity), indent=2, ensure_ascii=False)))


@entity_app.command("list")
def entity_list(
    type: Annotated[str | None, typer.Option("--type")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List live entities by type and/or status, oldest first."""
    with wired_app() as wired, wired.store.unit_of_work() as uow:
        found = uow.entities.query(type=type, status=status, limit=limit)

    def human() -> None:
        for e in found:
            typer.echo(f"{e.id}  {e.type:<18} {e.status:<10} {e.name}")

    _emit(as_json, [to_json(e) for e in found], human)


@app.command()
def connect(
    from_id: Annotated[str, typer.Argument(metavar="FROM")],
    to_id: Annotated[str, typer.Argument(metavar="TO")],
    type: Annotated[str, typer.Option("--type", help="connection type, see `one types --kind connection`")],
    meta: Annotated[str | None, typer.Option("--meta", help="metadata as a JSON object")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Connect two entities (the registry decides which ends each type allows)."""
    metadata = _parse_json(meta, "--meta")
    with wired_app() as wired, wired.store.unit_of_work() as uow:
        connection = uow.connections.insert(from_id, to_id, type, metadata)
        uow.commit()
    _emit(
        as_json,
        to_json(connection),
        lambda: typer.echo(
            f"{connection.from_type} -{connection.relationship_type}-> {connection.to_type} {connection.id}"
        ),
    )


@app.command()
def search(
    query: str,
    creator: CreatorFlag = None,
    limit: Annotated[int, typer.Option("--limit")] = 5,
    content_type: Annotated[list[str] | None, typer.Option("--type", help="keep only this content type")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="keep only content tagged key=value")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Semantic search over one creator's knowledge."""
    from one.runtime import default_creator
    from ontology.validation import MAX_QUERY_CHARS, clean_text

    clean_text(query, "search query", max_chars=MAX_QUERY_CHARS)  # a bad query is reported before the creator
    with wired_app() as wired:
        hits = wired.knowledge.search(
            default_creator(wired, creator), query, limit=limit, content_types=content_type, tags=tag
        )

    def human() -> None:
        for hit in hits:
            typer.echo(f"{hit.score:.3f}  [{hit.content_type}] {hit.text[:100]}")

    _emit(as_json, [to_json(hit) for hit in hits], human)


@contextmanager
def _runtime() -> Iterator[Any]:
    """The app plus the clone and agents runtime, for one command."""
    from one.runtime import build_runtime

    with wired_app() as wired:
        runtime = build_runtime(wired)
        try:
            yield runtime
        finally:
            runtime.pool.close()


@clone_app.command("build")
def clone_build(
    creator: CreatorFlag = None,
    voice: Annotated[
        list[Path] | None, typer.Option("--voice", help="a voice sample (audio file); repeatable", **EXISTING_FILE)
    ] = None,
    portrait: Annotated[
        Path | None, typer.Option("--portrait", help="a portrait image for the avatar", **EXISTING_FILE)
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Build (or refresh) the creator's AI clone from their content, voice samples and portrait."""
    from agents import build_clone
    from one.runtime import default_creator

    with wired_app() as wired:
        creator_id = default_creator(wired, creator)
        samples = [path.read_bytes() for path in voice or []]
        llm = wired.providers.get("openai") if wired.providers.mode("openai") == "live" else None
        result = build_clone(
            wired.store,
            wired.knowledge,
            wired.providers,
            creator_id,
            voice_samples=samples,
            portrait=portrait.read_bytes() if portrait else None,
            llm=llm,
        )
    doc = {**to_json(result.clone), "voice": result.voice_status, "appearance": result.appearance_status}
    _emit(
        as_json,
        doc,
        lambda: typer.echo(
            f"clone {result.clone.id} of {result.persona.name}: voice "
            f"{result.voice_status}, appearance {result.appearance_status}"
        ),
    )


@agents_app.command("register")
def agents_register(creator: CreatorFlag = None, as_json: JsonFlag = False) -> None:
    """Register the ten business agents for a creator (idempotent)."""
    from agents import register_team
    from one.runtime import default_creator

    with wired_app() as wired:
        team = register_team(wired.store, default_creator(wired, creator))
    ids = {agent_type: str(agent.id) for agent_type, agent in team.items()}
    _emit(as_json, ids, lambda: typer.echo("\n".join(f"{t:<20} {i}" for t, i in ids.items())))


@app.command()
def ask(command: str, creator: CreatorFlag = None, as_json: JsonFlag = False) -> None:
    """Give one command to the business agents, e.g. "marketing: draft 3 posts about my course"."""
    from one.runtime import default_creator

    with _runtime() as runtime:
        run = runtime.commands.command(default_creator(runtime.app, creator), command)
    doc = {
        "run_id": str(run.run_id),
        "agent": run.agent_type,
        "answer": run.answer,
        "tools": list(run.tool_calls),
        "tokens_in": run.tokens_in,
        "tokens_out": run.tokens_out,
        "cost": run.cost,
    }
    _emit(as_json, doc, lambda: typer.echo(f"[{run.agent_type}] {run.answer}"))


@app.command()
def chat(
    as_: Annotated[str, typer.Option("--as", help="fan (talk to the clone) or creator (command the agents)")] = "fan",
    name: Annotated[str, typer.Option("--name", help="who you are, as a fan")] = "console-fan",
    creator: CreatorFlag = None,
) -> None:
    """Talk to the clone as a fan, or command the business agents as the creator, in the terminal."""
    from bots import IncomingMessage, OutgoingMessage, run_console
    from one.runtime import default_creator

    if as_ not in {"fan", "creator"}:
        _fail(f"--as must be fan or creator, got {as_!r}", BAD_INPUT)
    with _runtime() as runtime:
        creator_id = default_creator(runtime.app, creator)

        def as_fan(message: IncomingMessage) -> OutgoingMessage:
            reply = runtime.conversations.reply(
                creator_id, message.platform, message.account, message.text, display_name=message.display_name
            )
            return OutgoingMessage(reply.text, f"fallback: {reply.fallback}" if reply.fallback else None)

        def as_creator(message: IncomingMessage) -> OutgoingMessage:
            run = runtime.commands.command(creator_id, message.text)
            return OutgoingMessage(run.answer, f"{run.agent_type}; tools: {', '.join(run.tool_calls) or 'none'}")

        typer.echo("Type a message; 'exit' or Ctrl-D to leave.")
        if as_ == "fan":
            run_console(as_fan, account=name, speaker="clone", display_name=name)
        else:
            run_console(as_creator, account="creator", speaker="agents")


def _tags(values: list[str] | None) -> dict[str, list[str] | str]:
    tags: dict[str, list[str]] = {}
    for value in values or []:
        key, sep, tag = value.partition("=")
        if not sep or not key.strip() or not tag.strip():
            _fail(f"--tag must be key=value, got {value!r}", BAD_INPUT)
        tags.setdefault(key.strip(), []).append(tag.strip())
    return dict(tags)


@content_app.command("add")
def content_add(
    paths: Annotated[list[Path], typer.Argument(help="files, or directories to walk for supported files")],
    content_type: Annotated[
        str | None, typer.Option("--type", help="content type (default: video for subtitles, else blog_post)")
    ] = None,
    status: Annotated[str, typer.Option("--status", help="published or draft")] = "published",
    tag: Annotated[list[str] | None, typer.Option("--tag", help="key=value; repeatable")] = None,
    creator: CreatorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Import Markdown, text, HTML, SRT/VTT subtitles and PDF as content; the same file twice changes nothing,
    a changed file replaces its text. Supported: .md .markdown .txt .text .html .htm .srt .vtt .pdf"""
    from one.cli_errors import describe
    from one.content_files import find_content_files, read_content_file
    from one.runtime import default_creator
    from ontology import import_content
    from ontology.types import CONTENT_TYPES

    if content_type is not None and content_type not in CONTENT_TYPES:
        _fail(f"--type must be one of {', '.join(sorted(CONTENT_TYPES))}, got {content_type!r}", BAD_INPUT)
    if status not in {"published", "draft"}:
        _fail(f"--status must be published or draft, got {status!r}", BAD_INPUT)
    tags = _tags(tag)
    files, missing = find_content_files(paths)
    results: list[dict[str, Any]] = [
        {"path": str(path), "action": "failed", "error": f"{path}: no such file or directory", "code": BAD_INPUT}
        for path in missing
    ]
    if not files and not missing:
        _fail(f"no supported files in {', '.join(map(str, paths))}", BAD_INPUT)
    with wired_app() as wired:
        creator_id = default_creator(wired, creator)
        for result in results:
            typer.echo(f"error: {result['error']}", err=True)
        show_bar = len(files) > 1 and sys.stderr.isatty()
        with typer.progressbar(files, label="importing", file=sys.stderr, hidden=not show_bar) as bar:
            for path in bar:
                try:
                    item = read_content_file(path)
                    action, entity = import_content(
                        wired.store,
                        wired.knowledge,
                        creator_id,
                        type=content_type or item.type,
                        title=item.title,
                        body=item.text,
                        source_path=str(item.path),
                        source_hash=item.sha256,
                        status=status,
                        tags=tags,
                    )
                except OneError as error:  # one bad file is reported, the others still import
                    code, message = describe(error)
                    results.append({"path": str(path), "action": "failed", "error": message, "code": code})
                    typer.echo(f"error: {' '.join(message.split())}", err=True)
                    continue
                done = {"path": str(path), "action": action, "id": str(entity.id), "type": entity.type}
                results.append({**done, "title": entity.name, "status": entity.status})
                if not show_bar and not as_json and action != "unchanged":
                    typer.echo(f"{action} {entity.type} {entity.name!r} {entity.id}")
    counts = {action: sum(r["action"] == action for r in results) for action in IMPORT_ACTIONS}
    _emit(
        as_json,
        {**counts, "files": [{k: v for k, v in r.items() if k != "code"} for r in results]},
        lambda: typer.echo(", ".join(f"{action} {n}" for action, n in counts.items())),
    )
    failures = [r["code"] for r in results if r["action"] == "failed"]
    if failures:
        raise typer.Exit(1 if FAILURE in failures else BAD_INPUT)


@content_app.command("list")
def content_list(
    status: Annotated[str | None, typer.Option("--status")] = None,
    content_type: Annotated[str | None, typer.Option("--type")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    creator: CreatorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """The creator's content, by status and type, oldest first."""
    from one.runtime import default_creator
    from ontology import list_content

    with wired_app() as wired:
        found = list_content(
            wired.store, default_creator(wired, creator), status=status, type=content_type, limit=limit
        )

    def human() -> None:
        for e in found:
            source = f"  ({e.properties['sourcePath']})" if e.properties.get("sourcePath") else ""
            typer.echo(f"{e.id}  {e.type:<12} {e.status:<10} {e.name}{source}")

    _emit(as_json, [to_json(e) for e in found], human)


def _set_status(content_id: str, status: str, verb: str, as_json: bool) -> None:
    from ontology import set_content_status

    with wired_app() as wired:
        content = set_content_status(wired.store, content_id, status)
    _emit(as_json, to_json(content), lambda: typer.echo(f"{verb} {content.type} {content.name!r} {content.id}"))


@content_app.command("publish")
def content_publish(content_id: Annotated[str, typer.Argument(metavar="ID")], as_json: JsonFlag = False) -> None:
    """Publish content: fans and the clone may use it."""
    _set_status(content_id, "published", "published", as_json)


@content_app.command("unpublish")
def content_unpublish(content_id: Annotated[str, typer.Argument(metavar="ID")], as_json: JsonFlag = False) -> None:
    """Take content back to draft: out of fans' and the clone's reach."""
    _set_status(content_id, "draft", "unpublished", as_json)


@content_app.command("remove")
def content_remove(content_id: Annotated[str, typer.Argument(metavar="ID")], as_json: JsonFlag = False) -> None:
    """Remove content (soft delete): its knowledge is gone from every search."""
    from ontology import remove_content

    with wired_app() as wired:
        content = remove_content(wired.store, content_id)
    _emit(as_json, to_json(content), lambda: typer.echo(f"removed {content.type} {content.name!r} {content.id}"))


@app.command("run")
def run_command() -> None:
    """Run ONE for real: the chat platforms whose tokens are set (Telegram, Discord, Slack), the outbox
    sender and the web app (/healthz, /metrics, /api, webhooks) in one process, until Ctrl-C."""
    import asyncio
    import logging

    from one.run import run
    from one.settings import Settings

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run(Settings()))


def main() -> None:
    """Entry point used by `python -m one`."""
    app(prog_name="one")
