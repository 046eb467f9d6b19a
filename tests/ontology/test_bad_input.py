"""Bad input gets a typed error with a clear message and writes nothing; odd but valid strings round-trip."""

import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from ontology import ConstraintViolation, InvalidInput, KnowledgeBase, NotFound, Store, UnitOfWork

TABLES = ("entities", "connections", "events", "tags", "knowledge_chunks")
MEGABYTE = "x" * (1024 * 1024)


def snapshot(store: Store) -> list[int]:
    with store.unit_of_work() as uow:
        return [int(uow.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in TABLES]


@pytest.fixture(scope="module")
def people(store: Store) -> dict[str, uuid.UUID]:
    with store.unit_of_work() as uow:
        creator = uow.entities.insert("creator", "Bad Input", {"email": "bad@input.test", "handle": "bad-input"})
        fan = uow.entities.insert("audience_member", "Fan")
        product = uow.entities.insert("digital_product", "Guide", {"price": 4900, "currency": "USD"})
        uow.commit()
    return {"creator": creator.id, "fan": fan.id, "product": product.id}


@pytest.fixture
def writes_nothing(store: Store) -> Iterator[None]:
    before = snapshot(store)
    yield
    assert snapshot(store) == before


def attempt(store: Store, write: Callable[[UnitOfWork], object]) -> None:
    with store.unit_of_work() as uow:
        write(uow)
        uow.commit()


CASES: list[tuple[str, type[Exception], str, Callable[[UnitOfWork, dict[str, uuid.UUID]], object]]] = [
    (
        "unknown entity type",
        InvalidInput,
        "unknown entity type 'dragon'",
        lambda u, p: u.entities.insert("dragon", "x"),
    ),
    (
        "unknown connection type",
        InvalidInput,
        "unknown connection type 'loves'",
        lambda u, p: u.connections.insert(p["fan"], p["creator"], "loves"),
    ),
    ("unknown event type", InvalidInput, "unknown event type 'exploded'", lambda u, p: u.events.insert("exploded")),
    (
        "wrong property type",
        InvalidInput,
        "email: Input should be a valid string",
        lambda u, p: u.entities.insert("creator", "x", {"email": 42}),
    ),
    ("float price", InvalidInput, "price", lambda u, p: u.entities.insert("membership", "x", {"price": 9.99})),
    (
        "bool price",
        InvalidInput,
        r"price: Input should be a valid integer \(got bool True\)\. Allowed keys: currency, description",
        lambda u, p: u.entities.insert("digital_product", "x", {"price": True}),
    ),
    (
        "string price",
        InvalidInput,
        r"price: Input should be a valid integer \(got str '4900'\)\. Allowed keys: currency, description",
        lambda u, p: u.entities.insert("digital_product", "x", {"price": "4900"}),
    ),
    (
        "misspelt property",
        InvalidInput,
        r"unknown key 'prce'\. Allowed keys: currency, description, interval, price$",
        lambda u, p: u.entities.insert("digital_product", "x", {"prce": 4900}),
    ),
    (
        "misspelt property in an update",
        InvalidInput,
        r"unknown key 'prce'",
        lambda u, p: u.entities.update(p["creator"], properties={"prce": 4900}),
    ),
    (
        "string amount in connection metadata",
        InvalidInput,
        r"connection 'transacted' metadata: amount: Input should be a valid integer \(got str '4900'\)",
        lambda u, p: u.connections.insert(
            p["fan"], p["product"], "transacted", {"transactionType": "payment", "amount": "4900", "currency": "USD"}
        ),
    ),
    (
        "bool amount in connection metadata",
        InvalidInput,
        r"amount: Input should be a valid integer \(got bool True\)",
        lambda u, p: u.connections.insert(
            p["fan"], p["product"], "transacted", {"transactionType": "payment", "amount": True, "currency": "USD"}
        ),
    ),
    (
        "misspelt connection metadata",
        InvalidInput,
        r"unknown key 'revenueshare'\. Allowed keys: revenueShare$",
        lambda u, p: u.connections.insert(p["creator"], p["product"], "owns", {"revenueshare": 0.5}),
    ),
    (
        "string amount in event metadata",
        InvalidInput,
        r"event 'payment_processed' metadata: amount: Input should be a valid integer \(got str '4900'\)",
        lambda u, p: u.events.insert(
            "payment_processed", metadata={"amount": "4900", "currency": "USD", "status": "completed"}
        ),
    ),
    (
        "bool amount in event metadata",
        InvalidInput,
        r"amount: Input should be a valid integer \(got bool True\)",
        lambda u, p: u.events.insert(
            "payment_processed", metadata={"amount": True, "currency": "USD", "status": "completed"}
        ),
    ),
    (
        "misspelt event metadata",
        InvalidInput,
        r"unknown key 'amout'\. Allowed keys: amount, currency, productId, providerRef, reason, refundId, status$",
        lambda u, p: u.events.insert(
            "payment_processed", metadata={"amout": 4900, "amount": 4900, "currency": "USD", "status": "completed"}
        ),
    ),
    (
        "bad status",
        InvalidInput,
        "unknown status 'alive'",
        lambda u, p: u.entities.insert("video", "x", status="alive"),
    ),
    (
        "properties not an object",
        InvalidInput,
        "must be a JSON object",
        lambda u, p: u.entities.insert("video", "x", ["a"]),
    ),  # type: ignore[arg-type]
    (
        "wrong connection ends",
        InvalidInput,
        "cannot go from a audience_member to a audience_member",
        lambda u, p: u.connections.insert(p["fan"], p["fan"], "clone_of"),
    ),
    (
        "bad connection metadata",
        InvalidInput,
        "referralType",
        lambda u, p: u.connections.insert(p["fan"], p["creator"], "referred", {"referralType": "bribe"}),
    ),
    (
        "strength out of range",
        InvalidInput,
        "strength",
        lambda u, p: u.connections.insert(p["fan"], p["creator"], "following", strength=7),
    ),
    (
        "missing connection end",
        NotFound,
        "no entity with id",
        lambda u, p: u.connections.insert(p["fan"], uuid.uuid4(), "following"),
    ),
    (
        "missing event actor",
        NotFound,
        "no entity for actor_id",
        lambda u, p: u.events.insert("user_joined", actor_id=uuid.uuid4()),
    ),
    ("missing entity", NotFound, "no entity with id", lambda u, p: u.entities.get(uuid.uuid4())),
    ("malformed id", InvalidInput, "not a valid id", lambda u, p: u.entities.get("1; DROP TABLE entities")),
    ("tag on missing entity", NotFound, "no entity", lambda u, p: u.tags.add(uuid.uuid4(), "topic", "x")),
    (
        "duplicate email",
        ConstraintViolation,
        "email already exists",
        lambda u, p: u.entities.insert("creator", "Twin", {"email": "BAD@input.test"}),
    ),
    ("NUL in name", InvalidInput, "NUL", lambda u, p: u.entities.insert("video", "a\x00b")),
    ("NUL in properties", InvalidInput, "NUL", lambda u, p: u.entities.insert("video", "x", {"body": "a\x00b"})),
    (
        "NUL in property key",
        InvalidInput,
        "NUL",
        lambda u, p: u.entities.insert("audience_member", "x", {"identities": {"a\x00": "1"}}),
    ),
    ("NUL in tag", InvalidInput, "NUL", lambda u, p: u.tags.add(p["fan"], "topic", "\x00")),
    (
        "1 MB properties",
        InvalidInput,
        "limit is 262,144",
        lambda u, p: u.entities.insert("blog_post", "big", {"body": MEGABYTE}),
    ),
    ("1 MB name", InvalidInput, "limit is 500", lambda u, p: u.entities.insert("blog_post", MEGABYTE)),
    (
        "1 MB event metadata",
        InvalidInput,
        "limit",
        lambda u, p: u.events.insert("lead_captured", metadata={"source": MEGABYTE}),
    ),
    ("empty name", InvalidInput, "name must not be empty", lambda u, p: u.entities.insert("video", "   ")),
    ("negative limit", InvalidInput, "limit must be an integer from 1", lambda u, p: u.entities.query(limit=-1)),
    ("huge limit", InvalidInput, "limit", lambda u, p: u.events.query(limit=10**9)),
    ("empty name search", InvalidInput, "query must not be empty", lambda u, p: u.entities.search_names("")),
    ("connection query without an end", InvalidInput, "give from_id or to_id", lambda u, p: u.connections.query()),
    (
        "NaN strength",
        InvalidInput,
        "strength",
        lambda u, p: u.connections.insert(p["fan"], p["creator"], "following", strength=float("nan")),
    ),
]


@pytest.mark.parametrize(("name", "error", "message", "write"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_typed_and_writes_nothing(
    store: Store,
    people: dict[str, uuid.UUID],
    writes_nothing: None,
    name: str,
    error: type[Exception],
    message: str,
    write: Callable[[UnitOfWork, dict[str, uuid.UUID]], object],
) -> None:
    with pytest.raises(error, match=message):
        attempt(store, lambda uow: write(uow, people))


ODD = [
    "Robert'); DROP TABLE entities;--",
    '" OR 1=1 --',
    "100% _wild_ \\ back\\slash $1 :param %(x)s",
    "emoji 🎉💪🏽 and 中文 and עברית",
    "quotes ' \" ` and newline\nand tab\t",
]


@pytest.mark.parametrize("value", ODD)
def test_odd_strings_round_trip_exactly(store: Store, value: str) -> None:
    with store.unit_of_work() as uow:
        entity = uow.entities.insert("social_post", value, {"body": value, "summary": value})
        uow.tags.add(entity.id, "topic", value)
        uow.events.insert("user_joined", actor_id=entity.id, metadata={"platform": value})
        uow.commit()
    with store.unit_of_work() as uow:
        read = uow.entities.get(entity.id)
        assert (read.name, read.properties["body"], read.properties["summary"]) == (value, value, value)
        assert [e.id for e in uow.entities.by_tag("topic", value)] == [entity.id]
        assert uow.events.query(actor_id=entity.id)[0].metadata == {"platform": value}
    assert snapshot(store)[0] > 0


def test_search_rejects_bad_queries(store: Store, knowledge: KnowledgeBase, people: dict[str, uuid.UUID]) -> None:
    with pytest.raises(InvalidInput, match="search query must not be empty"):
        knowledge.search(people["creator"], "  ")
    with pytest.raises(InvalidInput, match="NUL"):
        knowledge.search(people["creator"], "a\x00b")
    with pytest.raises(InvalidInput, match="limit"):
        knowledge.search(people["creator"], "protein", limit=-3)
    with pytest.raises(InvalidInput, match="not a content type"):
        knowledge.search(people["creator"], "protein", content_types=["creator"])
    with pytest.raises(InvalidInput, match="not a valid id"):
        knowledge.search("not-a-uuid", "protein")
    with pytest.raises(NotFound):
        knowledge.search(uuid.uuid4(), "protein")
    with pytest.raises(InvalidInput, match="is not a creator"):
        knowledge.search(people["fan"], "protein")
