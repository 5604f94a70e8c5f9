import numpy as np
import pytest

from indw.clean import KEY_DTYPE
from indw.dedup import (
    bucket_bounds,
    find_exact_duplicates,
    load_duplicates,
    save_duplicates,
)


def write_keys(path, keys):
    """Write (hi, lo, line) tuples as a shard key file sorted like clean_shard."""
    array = np.empty(len(keys), dtype=KEY_DTYPE)
    for ordinal, (hi, lo, line) in enumerate(keys):
        array[ordinal] = (hi, lo, ordinal, line)
    array = array[np.lexsort((array["ordinal"], array["lo"], array["hi"]))]
    np.save(path, array)
    return path


@pytest.fixture
def key_files(tmp_path):
    top = 1 << 63
    first = write_keys(tmp_path / "a.keys.npy", [(5, 1, 1), (top, 9, 2), (5, 1, 3)])
    second = write_keys(tmp_path / "b.keys.npy", [(top, 9, 1), (7, 7, 2), (5, 1, 4)])
    return [first, second]


def all_duplicates(key_files, buckets):
    parts = [find_exact_duplicates(key_files, b, buckets) for b in range(buckets)]
    merged = np.concatenate(parts)
    return sorted(tuple(int(v) for v in row) for row in merged)


def test_survivor_is_first_in_global_order(key_files):
    found = all_duplicates(key_files, 1)
    # (shard, ordinal, line, survivor_shard, survivor_line)
    assert found == [(0, 2, 3, 0, 1), (1, 0, 1, 0, 2), (1, 2, 4, 0, 1)]


@pytest.mark.parametrize("buckets", [2, 4, 16, 256])
def test_bucket_count_does_not_change_result(key_files, buckets):
    assert all_duplicates(key_files, buckets) == all_duplicates(key_files, 1)


def test_bucket_bounds_cover_each_key_once():
    hi = np.sort(np.array([0, 1, 2**62, 2**63, 2**64 - 1], dtype=np.uint64))
    for buckets in (1, 2, 4, 8):
        spans = [bucket_bounds(hi, b, buckets) for b in range(buckets)]
        assert spans[0][0] == 0
        assert spans[-1][1] == len(hi)
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end == start


def test_bucket_count_must_be_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        bucket_bounds(np.zeros(1, dtype=np.uint64), 0, 3)


def test_duplicates_round_trip(tmp_path, key_files):
    records = find_exact_duplicates(key_files, 0, 1)
    save_duplicates(tmp_path / "d.npz", records, ["a", "b"])
    loaded, names = load_duplicates(tmp_path / "d.npz")
    assert names == ["a", "b"]
    assert loaded.tolist() == records.tolist()
