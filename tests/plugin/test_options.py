"""The plugin's options."""
import psycopg2
import pytest

from .helpers import opts, rows, subscribe


def test_unknown_option_is_an_error(db, slot):
    with pytest.raises(psycopg2.Error) as err:
        slot.get(**{"include-unmached": "true"})
    assert 'unknown option "include-unmached"' in str(err.value)
    assert "include-unmatched" in err.value.diag.message_hint


@pytest.mark.parametrize("name,value", [("include-unmatched", "maybe"),
                                        ("subscription-events", "2"),
                                        ("max-record-bytes", "0"),
                                        ("max-record-bytes", "1MB")])
def test_bad_option_values_are_errors(db, slot, name, value):
    with pytest.raises(psycopg2.Error) as err:
        slot.get(**{name: value})
    assert f'option "{name}"' in str(err.value)


def test_include_unmatched(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    db.execute("CREATE TABLE quiet (id int)")
    sub = subscribe(db, "n", "t", "k=eq.1")
    db.execute("INSERT INTO t VALUES (1, 1), (2, 2)")
    db.execute("INSERT INTO quiet VALUES (1)")
    assert [d["record"]["id"] for d in rows(slot.peek())] == [1]
    everything = rows(slot.get(**opts(include_unmatched=True)))
    assert [(d["table"], d["record"]["id"], d["targets"]) for d in everything] == [
        ("t", 1, {"n": [sub]}), ("t", 2, {}), ("quiet", 1, {})]
