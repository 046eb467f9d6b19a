"""Store behaviour: units of work, queries by every index, updates and soft deletes."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from ontology import ConstraintViolation, InvalidInput, NotFound, Store, TransactionFailed


def count(store: Store, table: str) -> int:
    with store.unit_of_work() as uow:
        return int(uow.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_leaving_without_commit_rolls_back(store: Store) -> None:
    before = count(store, "entities")
    with store.unit_of_work() as uow:
        uow.entities.insert("audience_member", "ghost")
    assert count(store, "entities") == before


def test_a_failure_midway_leaves_no_row_behind(store: Store) -> None:
    before = [count(store, t) for t in ("entities", "connections", "events", "tags")]
    with pytest.raises(InvalidInput), store.unit_of_work() as uow:
        creator = uow.entities.insert("creator", "Half", {"email": "half@x.test", "handle": "half"})
        post = uow.entities.insert("blog_post", "Draft")
        uow.connections.insert(creator.id, post.id, "owns")
        uow.tags.add(post.id, "topic", "x")
        uow.events.insert("content_changed", actor_id=creator.id, metadata={"action": "created"})
        uow.connections.insert(post.id, creator.id, "manages")  # a blog post cannot manage: InvalidInput
        uow.commit()
    assert [count(store, t) for t in ("entities", "connections", "events", "tags")] == before


def test_database_failure_in_unit_of_work_is_typed_and_rolls_back(store: Store) -> None:
    before = count(store, "entities")
    with pytest.raises(TransactionFailed, match="statement timeout"), store.unit_of_work() as uow:
        uow.entities.insert("audience_member", "doomed")
        uow.execute(text("SET LOCAL statement_timeout = 10"))
        uow.execute(text("SELECT pg_sleep(1)"))
    assert count(store, "entities") == before


def test_commit_keeps_writes_together(store: Store) -> None:
    with store.unit_of_work() as uow:
        a = uow.entities.insert("audience_member", "A")
        b = uow.entities.insert("audience_member", "B")
        uow.commit()
    with store.unit_of_work() as uow:
        assert set(uow.entities.get_many([a.id, b.id])) == {a.id, b.id}


def test_unique_creator_email_and_handle_case_insensitive(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.entities.insert("creator", "Ava", {"email": "ava@unique.test", "handle": "ava-u"})
        uow.commit()
    for props, what in [({"email": "AVA@unique.test"}, "email"), ({"handle": "AVA-U"}, "handle")]:
        with pytest.raises(ConstraintViolation, match=f"a creator with this {what} already exists"):
            with store.unit_of_work() as uow:
                uow.entities.insert("creator", "Copy", props)
                uow.commit()
    with store.unit_of_work() as uow:
        assert uow.entities.by_unique_key("creator", "email", "ava@UNIQUE.test").name == "Ava"


def test_update_merges_and_revalidates_properties(store: Store) -> None:
    with store.unit_of_work() as uow:
        product = uow.entities.insert("digital_product", "Guide", {"price": 1900, "currency": "USD"})
        updated = uow.entities.update(product.id, properties={"price": 2900}, status="published", name="Guide v2")
        uow.commit()
    assert updated.properties == {"price": 2900, "currency": "USD"}
    assert (updated.status, updated.name) == ("published", "Guide v2")
    assert updated.updated_at >= product.updated_at
    with pytest.raises(InvalidInput, match="price"), store.unit_of_work() as uow:
        uow.entities.update(product.id, properties={"price": -5})


def test_soft_delete_hides_from_every_query(store: Store) -> None:
    with store.unit_of_work() as uow:
        creator = uow.entities.insert("creator", "Del", {"email": "del@x.test", "handle": "del"})
        post = uow.entities.insert("blog_post", "Soon gone unique-word-zebra")
        uow.connections.insert(creator.id, post.id, "owns")
        uow.tags.add(post.id, "topic", "zebra")
        uow.entities.delete(post.id)
        uow.commit()
    with store.unit_of_work() as uow:
        with pytest.raises(NotFound):
            uow.entities.get(post.id)
        assert uow.entities.neighbours(creator.id, "owns") == []
        assert uow.entities.by_tag("topic", "zebra") == []
        assert uow.entities.search_names("zebra") == []
        assert post.id not in {e.id for e in uow.entities.query(type="blog_post", limit=1000)}
        with pytest.raises(NotFound):
            uow.entities.delete(post.id)
    with pytest.raises(ConstraintViolation, match="email"), store.unit_of_work() as uow:  # still taken
        uow.entities.insert("creator", "Del2", {"email": "del@x.test"})
        uow.commit()


def test_query_by_type_and_status_pages_in_creation_order(store: Store) -> None:
    with store.unit_of_work() as uow:
        made = [uow.entities.insert("consultation", f"call {i}", status="scheduled") for i in range(5)]
        uow.entities.insert("consultation", "archived call", status="archived")
        uow.commit()
    with store.unit_of_work() as uow:
        first = uow.entities.query(type="consultation", status="scheduled", limit=3)
        rest = uow.entities.query(type="consultation", status="scheduled", limit=3, after=first[-1].id)
        archived = uow.entities.query(status="archived", type="consultation")
    assert [e.id for e in first + rest] == [e.id for e in made]
    assert [e.name for e in archived] == ["archived call"]


def test_neighbours_both_directions_and_connection_updates(store: Store) -> None:
    with store.unit_of_work() as uow:
        clone = uow.entities.insert("ai_clone", "Clone")
        creator = uow.entities.insert("creator", "Owner", {"handle": "owner-n"})
        agent = uow.entities.insert("sales_agent", "Sales")
        c1 = uow.connections.insert(clone.id, creator.id, "clone_of")
        uow.connections.insert(agent.id, creator.id, "manages")
        uow.commit()
    with store.unit_of_work() as uow:
        incoming = uow.entities.neighbours(creator.id, direction="in")
        assert {n.entity.name for n in incoming} == {"Clone", "Sales"}
        assert [n.entity.name for n in uow.entities.neighbours(creator.id, "manages", direction="in")] == ["Sales"]
        assert [n.entity.name for n in uow.entities.neighbours(clone.id, direction="both")] == ["Owner"]
        assert [c.id for c in uow.connections.query(to_id=creator.id, type="clone_of")] == [c1.id]
        closed = uow.connections.update(c1.id, strength=0.2, valid_to=datetime.now(UTC) + timedelta(days=1))
        assert closed.strength == 0.2 and closed.valid_to is not None
        uow.connections.delete(c1.id)
        with pytest.raises(NotFound):
            uow.connections.get(c1.id)


def test_neighbours_filter_by_status_in_the_database_and_page_with_a_cursor(store: Store) -> None:
    with store.unit_of_work() as uow:
        hub = uow.entities.insert("creator", "Hub", {"handle": "hub-pages"})
        made = []
        for i in range(7):  # owned posts, alternately published and draft, with a follower between each
            post = uow.entities.insert("blog_post", f"post {i}", status="published" if i % 2 == 0 else "draft")
            uow.connections.insert(hub.id, post.id, "owns")
            fan = uow.entities.insert("audience_member", f"fan {i}")
            uow.connections.insert(fan.id, hub.id, "following")
            made += [post, fan]
        uow.commit()
    with store.unit_of_work() as uow:
        published = uow.entities.neighbours(hub.id, "owns", statuses=["published"], limit=2)
        assert [n.entity.name for n in published] == ["post 0", "post 2"]
        after = uow.entities.neighbours(
            hub.id, "owns", statuses=["published"], limit=2, after=published[-1].connection.id
        )
        assert [n.entity.name for n in after] == ["post 4", "post 6"]
        walked = list(uow.entities.iter_neighbours(hub.id, direction="both", page=3))
        assert [n.entity.id for n in walked] == [e.id for e in made]  # both directions, one connection order
        drafts = uow.entities.iter_neighbours(hub.id, "owns", types=["blog_post"], statuses=["draft"], page=1)
        assert [n.entity.name for n in drafts] == ["post 1", "post 3", "post 5"]
        with pytest.raises(InvalidInput, match="unknown status 'live'"):
            uow.entities.neighbours(hub.id, statuses=["live"])
        with pytest.raises(InvalidInput, match="after"):
            uow.entities.neighbours(hub.id, after="page-2")


def test_update_revalidates_properties_read_back_from_jsonb(store: Store) -> None:
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    with store.unit_of_work() as uow:
        referral = uow.entities.insert("referral", "code", {"referrerCode": "AB12", "expiresAt": expires})
        uow.commit()
    with store.unit_of_work() as uow:  # the stored ISO string goes through the strict model again on merge
        updated = uow.entities.update(referral.id, properties={"status": "converted", "tokensEarned": 5})
        uow.commit()
    assert datetime.fromisoformat(updated.properties["expiresAt"]) == expires
    assert updated.properties | {"expiresAt": None} == {
        "referrerCode": "AB12",
        "expiresAt": None,
        "status": "converted",
        "tokensEarned": 5,
    }


def test_events_by_actor_target_type_and_time_range(store: Store) -> None:
    now = datetime.now(UTC)
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", "Fan")
        post = uow.entities.insert("video", "Clip")
        for days in (3, 2, 1):
            uow.events.insert(
                "content_interacted",
                actor_id=fan.id,
                target_id=post.id,
                metadata={"interactionType": "viewed"},
                timestamp=now - timedelta(days=days),
            )
        uow.commit()
    with store.unit_of_work() as uow:
        window = uow.events.query(actor_id=fan.id, since=now - timedelta(days=2, hours=1), until=now)
        assert [e.timestamp for e in window] == [now - timedelta(days=1), now - timedelta(days=2)]
        assert len(uow.events.query(target_id=post.id, type="content_interacted")) == 3
        assert uow.events.query(target_id=post.id, type="user_joined") == []
        uow.events.delete(window[0].id)
        assert len(uow.events.query(actor_id=fan.id)) == 2


def test_tags_are_idempotent_and_editable(store: Store) -> None:
    with store.unit_of_work() as uow:
        course = uow.entities.insert("course", "Course")
        first = uow.tags.add(course.id, "skill", "squat")
        again = uow.tags.add(course.id, "skill", "squat")
        other = uow.tags.add(course.id, "audience", "beginners")
        assert first.id == again.id
        assert uow.tags.update(other.id, "parents").value == "parents"
        assert [(t.key, t.value) for t in uow.tags.of_entity(course.id)] == [
            ("audience", "parents"),
            ("skill", "squat"),
        ]
        assert [e.id for e in uow.entities.by_tag("skill", "squat", type="course")] == [course.id]
        uow.tags.delete(first.id)
        assert uow.entities.by_tag("skill", "squat") == []
        extra = uow.tags.add(course.id, "audience", "teens")
        with pytest.raises(ConstraintViolation, match="already has that tag"):
            uow.tags.update(extra.id, "parents")


def test_full_text_search_on_names(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.entities.insert("podcast", "Kettlebell swings for runners")
        uow.entities.insert("podcast", "Running in winter")
        uow.commit()
        names = [e.name for e in uow.entities.search_names("kettlebell runners")]
        assert names == ["Kettlebell swings for runners"]
        assert uow.entities.search_names("winter", type="blog_post") == []


def test_totals_and_counts_are_scoped_to_what_an_owner_owns(store: Store) -> None:
    with store.unit_of_work() as uow:
        ann = uow.entities.insert("creator", "Ann", {"handle": "ann-totals"})
        bob = uow.entities.insert("creator", "Bob", {"handle": "bob-totals"})
        fan = uow.entities.insert("audience_member", "Fan")
        uow.connections.insert(fan.id, ann.id, "following")
        for owner, amounts in ((ann, [1900, 4900, 1200]), (bob, [99_900])):
            for amount in amounts:
                payment = uow.entities.insert("payment", "p", {"amount": amount, "currency": "USD"})
                uow.connections.insert(owner.id, payment.id, "owns")
                meta = {"amount": amount, "currency": "USD", "status": "completed"}
                uow.events.insert("payment_processed", actor_id=fan.id, target_id=payment.id, metadata=meta)
        uow.entities.insert("video", "Not owned by anyone")
        uow.commit()
    with store.unit_of_work() as uow:
        [total] = uow.events.totals(
            "payment_processed", owned_by=ann.id, group_by=("status", "currency"), sum_of="amount"
        )
        assert (total.group, total.count, total.sum) == (("completed", "USD"), 3, 8000)
        assert uow.events.totals("payment_processed", owned_by=ann.id, where={"status": "refunded"}) == []
        assert uow.entities.count_neighbours(ann.id, "owns") == {("payment", "active"): 3}
        assert uow.entities.count_neighbours(ann.id, "following", direction="in") == {("audience_member", "active"): 1}
        assert [n.entity.type for n in uow.entities.neighbours(bob.id, "owns", types=["payment"])] == ["payment"]
        assert uow.entities.neighbours(bob.id, "owns", types=["video"]) == []


def test_neighbours_page_in_connection_order_with_every_filter(store: Store) -> None:
    """The prebuilt neighbour statements return the same rows, records and order as the query they
    replaced: whole records, connection order, the limit, relationship, entity types, both sides,
    and soft-deleted neighbours left out."""
    with store.unit_of_work() as uow:
        owner = uow.entities.insert("creator", "Pager", {"handle": "pager-n"})
        posts = [uow.entities.insert("blog_post", f"post {i}", {"body": str(i)}) for i in range(5)]
        video = uow.entities.insert("video", "clip")
        owns = [uow.connections.insert(owner.id, item.id, "owns", {"revenueShare": 1.0}) for item in [*posts, video]]
        fan = uow.entities.insert("audience_member", "reader")
        follows = uow.connections.insert(fan.id, owner.id, "following")
        uow.entities.delete(posts[2].id)
        uow.commit()
    live = [c for c in owns if c.to_entity != posts[2].id]
    with store.unit_of_work() as uow:
        page = uow.entities.neighbours(owner.id, "owns", limit=3)
        assert [n.connection for n in page] == live[:3]
        assert [n.entity for n in page] == [uow.entities.get(c.to_entity) for c in live[:3]]
        assert [n.connection.id for n in uow.entities.neighbours(owner.id, "owns")] == [c.id for c in live]
        assert [n.entity.name for n in uow.entities.neighbours(owner.id, types=["video"])] == ["clip"]
        assert uow.entities.neighbours(owner.id, "owns", types=[]) == []
        assert uow.entities.neighbours(owner.id, "following") == []
        both = uow.entities.neighbours(owner.id, direction="both")
        assert [n.connection.id for n in both] == [c.id for c in live] + [follows.id]
        assert [n.connection.id for n in uow.entities.neighbours(owner.id, direction="both", limit=2)] == [
            c.id for c in live[:2]
        ]
        assert [n.entity.id for n in uow.entities.neighbours(owner.id, direction="in", types=["audience_member"])] == [
            fan.id
        ]


def test_records_list_their_fields_in_the_tables_column_order() -> None:
    """Neighbour pages build records from row positions: a column added to a table must be added to
    its record at the same place."""
    from dataclasses import fields

    from ontology import tables
    from ontology.records import Connection, Entity

    for record, table in ((Entity, tables.entities), (Connection, tables.connections)):
        assert [f.name for f in fields(record)] == [c.name for c in table.columns]


def test_owned_mentioning_finds_only_the_owners_live_things_in_the_given_statuses(store: Store) -> None:
    link = "mayastone.example/plan-" + datetime.now(UTC).strftime("%H%M%S%f")
    with store.unit_of_work() as uow:
        maya = uow.entities.insert("creator", "Maya M", {"email": f"m-{link[-6:]}@x.test"})
        other = uow.entities.insert("creator", "Other O", {"email": f"o-{link[-6:]}@x.test"})
        published = uow.entities.insert("blog_post", "Plan", {"body": f"Read https://{link} now"}, "published")
        draft = uow.entities.insert("blog_post", "Draft", {"body": f"https://{link}"}, "draft")
        gone = uow.entities.insert("blog_post", "Gone", {"body": f"https://{link}"}, "published")
        theirs = uow.entities.insert("blog_post", "Theirs", {"body": f"https://{link}"}, "published")
        unrelated = uow.entities.insert("blog_post", "Other", {"body": "no links here"}, "published")
        for post in (published, draft, gone, unrelated):
            uow.connections.insert(maya.id, post.id, "owns")
        uow.connections.insert(other.id, theirs.id, "owns")
        uow.entities.delete(gone.id)
        uow.commit()
    with store.unit_of_work() as uow:
        found = uow.entities.owned_mentioning(maya.id, [link], types={"blog_post"}, statuses={"published"})
        assert [e.id for e in found] == [published.id]
        assert uow.entities.owned_mentioning(maya.id, [link], types={"video"}, statuses={"published"}) == []
        assert uow.entities.owned_mentioning(maya.id, [], types={"blog_post"}, statuses={"published"}) == []
        assert uow.entities.owned_mentioning(maya.id, ["%"], types={"blog_post"}, statuses={"published"}) == []


def test_a_single_statement_unit_of_work_runs_one_statement_and_refuses_a_second(store: Store) -> None:
    with store.single_statement() as uow:
        creator = uow.entities.insert("creator", "One Shot", {"handle": "one-shot"})
    with store.unit_of_work() as uow:  # it committed as it ran
        assert uow.entities.get(creator.id).name == "One Shot"
    with pytest.raises(TransactionFailed, match="second statement"), store.single_statement() as uow:
        uow.entities.get(creator.id)
        uow.entities.update(creator.id, name="Changed")  # two statements need a real unit of work
    with store.unit_of_work() as uow:
        assert uow.entities.get(creator.id).name == "One Shot"
