import time
import uuid

from refuge.core.ids import time_ordered_uuid


def test_time_ordered_ids_are_version_7_uuids():
    value = time_ordered_uuid()
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_time_ordered_ids_sort_in_the_order_they_were_made():
    first = time_ordered_uuid()
    time.sleep(0.002)
    second = time_ordered_uuid()
    assert str(first) < str(second)
    assert first.hex < second.hex  # SQLite stores the hex form, PostgreSQL the bytes


def test_time_ordered_ids_made_in_the_same_millisecond_differ():
    assert len({time_ordered_uuid() for _ in range(1000)}) == 1000


def test_a_time_ordered_id_carries_the_unix_time_in_milliseconds():
    before = time.time_ns() // 1_000_000
    value = time_ordered_uuid()
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after
