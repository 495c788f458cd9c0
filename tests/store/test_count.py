"""``WatchStore.count``: as many as ``watched`` with the same filters returns, on each backend."""

from __future__ import annotations

import itertools

from tests.store.conftest import Backend
from waypost.carriers.base import Query
from waypost.models import Shipment, Status


def test_count_agrees_with_watched_under_every_filter(backend: Backend) -> None:
    with backend.open() as store:
        for i, (carrier, status) in enumerate(
            itertools.product(
                ("ils", "trackingmore"), (Status.IN_TRANSIT, Status.DELIVERED, Status.PENDING)
            )
        ):
            number = f"3676E40{i:05d}"
            shipment = Shipment(tracking_number=number, carrier=carrier, found=True, status=status)
            store.add([shipment], Query(number, carrier), None, now=100.0 + i)
        first = store.watched()[0]
        store.set_archived([first.id], 200.0)
        for include_final, status, carrier, archived in itertools.product(
            (True, False),
            (None, "delivered", "in_transit"),
            (None, "ils", "trackingmore"),
            (False, True, None),
        ):
            filters = dict(include_final=include_final, status=status, carrier=carrier)
            rows = store.watched(**filters, archived=archived)  # type: ignore[arg-type]
            assert store.count(**filters, archived=archived) == len(rows), filters  # type: ignore[arg-type]
        assert store.count(include_final=False, carrier="trackingmore") == 2
