"""The TrackingMore emulator's account (``sandbox.trackingmore.Account``) finds numbers and ids
through its lookups exactly as a walk over every tracking in the account's order would, after
any adds, replacements, courier changes, fetches and removals; and it lists the trackings not
fetched yet as that walk would."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from waypost.sandbox.trackingmore import Account, Tracking

NUMBERS = ["N1", "N2", "N3", "N4"]
COURIERS = ["a", "b", "c"]
OPS = st.lists(
    st.tuples(
        st.sampled_from(["put", "pop", "del", "move", "fetch"]),
        st.sampled_from(NUMBERS),
        st.sampled_from(COURIERS),
        st.sampled_from(COURIERS),
    ),
    max_size=40,
)


@given(ops=OPS, wanted=st.sets(st.sampled_from([*NUMBERS, "N9"])))
def test_lookups_find_what_a_walk_over_the_account_finds(
    ops: list[tuple[str, str, str, str]], wanted: set[str]
) -> None:
    account = Account()
    made: list[str] = []  # every id ever used (unique, as the emulator's are)
    for op, number, courier, other in ops:
        key = (number, courier)
        if op == "put":
            made.append(f"id{len(made)}")
            fetched = other == "a"
            account[key] = Tracking(made[-1], number, courier, 0.0, 0.0, fetched=fetched)
        elif op == "pop":
            account.pop(key, None)
        elif op == "del" and key in account:
            del account[key]
        elif op == "move" and key in account:  # a courier change, as the emulator makes it
            tracking = account.pop(key)
            tracking.courier = other
            account[(number, other)] = tracking
        elif op == "fetch" and key in account:  # only ever set, never unset
            account[key].fetched = True
    walked = [t for t in account.values() if t.number in wanted]
    assert account.numbered(wanted) == walked
    unfetched = account.unfetched()
    assert len(unfetched) == len({id(t) for t in unfetched})  # each once, in no given order
    assert {t.id for t in unfetched} == {t.id for t in account.values() if not t.fetched}
    for tracking in account.values():
        assert account.with_id(tracking.id) is tracking
    gone = set(made) - {t.id for t in account.values()}
    assert all(account.with_id(i) is None for i in gone)
