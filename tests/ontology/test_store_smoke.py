from ontology import Store


def test_unit_of_work_commits_and_reads_back(store: Store) -> None:
    with store.unit_of_work() as uow:
        creator = uow.entities.insert("creator", "Ava", {"email": "ava@example.com", "handle": "ava"})
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.entities.get(creator.id).properties["handle"] == "ava"
