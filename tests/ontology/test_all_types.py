"""Every one of the 46/24/38 types is created through the store and read back."""

import pytest

from ontology import REGISTRY, Store


@pytest.mark.parametrize("spec", REGISTRY.specs("entity"), ids=lambda s: s.name)
def test_entity_type_round_trips(store: Store, spec) -> None:  # type: ignore[no-untyped-def]
    with store.unit_of_work() as uow:
        example = dict(spec.example)
        if spec.unique_keys:  # creators: unique email/handle per test
            example |= {"email": f"{spec.name}@types.test", "handle": f"{spec.name}-types"}
        entity = uow.entities.insert(spec.name, f"a {spec.name}", example)
        uow.commit()
    with store.unit_of_work() as uow:
        read = uow.entities.get(entity.id)
    assert read == entity and read.type == spec.name
    assert read.status == ("draft" if spec.category == "content" else "active")
    for key, value in spec.example.items():
        if key not in spec.unique_keys:
            assert read.properties[key] == value


@pytest.mark.parametrize("spec", REGISTRY.specs("connection"), ids=lambda s: s.name)
def test_connection_type_round_trips(store: Store, spec) -> None:  # type: ignore[no-untyped-def]
    from_type, to_type = sorted(spec.from_types)[0], sorted(spec.to_types)[-1]
    with store.unit_of_work() as uow:
        source = uow.entities.insert(from_type, f"from {spec.name}")
        target = uow.entities.insert(to_type, f"to {spec.name}")
        connection = uow.connections.insert(source.id, target.id, spec.name, dict(spec.example), strength=0.5)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.connections.get(connection.id) == connection
        [neighbour] = uow.entities.neighbours(source.id, spec.name)
    assert neighbour.entity.id == target.id and neighbour.connection.strength == 0.5
    assert (connection.from_type, connection.to_type) == (from_type, to_type)


@pytest.mark.parametrize("spec", REGISTRY.specs("event"), ids=lambda s: s.name)
def test_event_type_round_trips(store: Store, spec) -> None:  # type: ignore[no-untyped-def]
    with store.unit_of_work() as uow:
        actor = uow.entities.insert("audience_member", f"actor of {spec.name}")
        event = uow.events.insert(spec.name, actor_id=actor.id, metadata=dict(spec.example))
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.events.get(event.id) == event
        assert [e.type for e in uow.events.query(actor_id=actor.id)] == [spec.name]
