import json
import subprocess
import sys

import pytest
from conftest import clean_environment

pytestmark = pytest.mark.slow


def indw(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "indw", *args],
        capture_output=True,
        text=True,
        env=clean_environment(env),
        timeout=600,
    )


def test_probe_prints_choice_and_reasons():
    result = indw("probe", "--json")
    assert result.returncode == 0
    choice = json.loads(result.stdout)
    assert choice["workers"] >= 1
    assert choice["chunk_size"] >= 1
    assert any("CPU" in reason for reason in choice["reasons"])


def test_validate_passes_on_equal_hashes(corpus):
    result = indw(
        "validate", "--input", str(corpus), env={"INSTANT_PIPELINE_BACKEND": "thread"}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pass: the hashes are equal" in result.stdout


def test_validate_bad_backend_is_usage_error(corpus):
    result = indw(
        "validate", "--input", str(corpus), env={"INSTANT_PIPELINE_BACKEND": "nope"}
    )
    assert result.returncode == 2
    assert "not a valid backend" in result.stderr


def test_validate_missing_corpus_is_usage_error(tmp_path):
    result = indw("validate", "--input", str(tmp_path / "absent"))
    assert result.returncode == 2
    assert "not found" in result.stderr


def test_validate_failure_names_damaged_shard(corpus):
    damaged = corpus / "b.jsonl.zst"
    damaged.write_bytes(damaged.read_bytes()[:-20])
    result = indw("validate", "--input", str(corpus))
    assert result.returncode == 1
    assert "cannot read shard" in result.stderr
    assert str(damaged) in result.stderr


def test_certify_bad_backend_is_usage_error(corpus):
    result = indw("certify", "--input", str(corpus), "--backend", "nope")
    assert result.returncode == 2
    assert "--backend='nope' is not a valid backend" in result.stderr
    assert "scale corpus" not in result.stdout


def test_certify_compares_one_and_two_workers(corpus):
    result = indw("certify", "--input", str(corpus), "--copies", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 worker(s):" in result.stdout
    assert "2 worker(s):" in result.stdout
    assert "pass: the hashes at 1 and 2 workers are equal" in result.stdout


def test_first_difference_names_document(tmp_path):
    from conftest import write_shard

    from indw.validate import first_difference

    first = write_shard(tmp_path / "a.jsonl.zst", [{"n": 1}, {"n": 2}, {"n": 3}])
    second = write_shard(tmp_path / "b.jsonl.zst", [{"n": 1}, {"n": 5}])
    number, mine, theirs = first_difference(first, second)
    assert number == 2
    assert mine == '{"n": 2}'
    assert theirs == '{"n": 5}'
    assert first_difference(first, first) is None
