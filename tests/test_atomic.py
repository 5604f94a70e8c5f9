"""Outputs appear complete or not at all, and a failed write names its file."""

import json
import random
import resource
import subprocess
import sys

import pytest
from conftest import clean_environment, write_shard

from indw.atomic import OutputWriteError, atomic_outputs, remove_stale_temporaries
from indw.config import PipelineConfig
from indw.merge import check_balance

FILE_SIZE_LIMIT = 64 * 1024


def noisy_records(count: int, seed: int = 0) -> list[dict]:
    """Records whose text compresses poorly, so outputs grow past a size limit."""
    rng = random.Random(seed)
    return [
        {"id": i, "text": " ".join(f"{rng.getrandbits(40):x}" for _ in range(30))}
        for i in range(count)
    ]


def files_under(folder) -> list[str]:
    return sorted(
        str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()
    )


def limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


def run_step(arguments: list[str], limited: bool) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "indw", *arguments],
        env=clean_environment({"INSTANT_PIPELINE_BACKEND": "local"}),
        preexec_fn=limit_file_size if limited else None,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_counts_that_do_not_add_up_fail():
    summary = {
        "read": 10,
        "kept": 6,
        "dropped_total": 1,
        "duplicates_total": 1,
        "quarantined_total": 1,
    }
    with pytest.raises(ValueError, match="counts of s1 do not add up: read 10"):
        check_balance("s1", summary)
    check_balance("s1", {**summary, "kept": 7})


def test_outputs_renamed_only_on_success(tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    with pytest.raises(RuntimeError):
        with atomic_outputs(first, second) as temps:
            temps[0].write_text("complete")
            temps[1].write_text("half")
            raise RuntimeError("killed")
    assert files_under(tmp_path) == []
    with atomic_outputs(first, second) as temps:
        temps[0].write_text("one")
        temps[1].write_text("two")
    assert files_under(tmp_path) == ["a.txt", "b.txt"]


def test_unusable_folder_names_output(tmp_path):
    (tmp_path / "results").write_text("a file where a folder should be")
    final = tmp_path / "results" / "clean" / "a.jsonl.zst"
    with pytest.raises(OutputWriteError, match="failed to write .*results"):
        with atomic_outputs(final):
            pass


def test_stale_temporaries_removed(tmp_path):
    final = tmp_path / "x.jsonl.zst"
    stale = [".x.jsonl.zst.tmp-123", ".x.jsonl.zst.tmp-9.signature-rows"]
    kept = [
        ".x.jsonl.zst.tmp-5.jsonl.zst.tmp-77",
        ".x.jsonl.zst.tmp-",
        "x.jsonl.zst.tmp-1",
        ".y.jsonl.zst.tmp-1",
    ]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"old")
    removed = remove_stale_temporaries(final)
    assert sorted(path.name for path in removed) == sorted(stale)
    assert files_under(tmp_path) == sorted(kept)


def test_next_writer_clears_killed_writers_files(tmp_path):
    final = tmp_path / "out.json"
    (tmp_path / ".out.json.tmp-4242").write_text("half written")
    with atomic_outputs(final) as (temp,):
        temp.write_text("{}")
    assert files_under(tmp_path) == ["out.json"]


# Gates off, so every made-up document is kept and the cleaned documents are
# the output that grows past the file size limit first.
KEEP_ALL_SETTINGS = PipelineConfig.from_config(
    {"gates": {"enabled": False}, "near_dedup": {"enabled": False}}
).to_json()


def test_clean_step_over_size_limit_names_file(tmp_path):
    shard = write_shard(tmp_path / "in" / "big.jsonl.zst", noisy_records(1500))
    results = tmp_path / "results"
    result = run_step(
        [
            "clean-shard",
            "--shard",
            str(shard),
            "--results",
            str(results),
            "--settings",
            KEEP_ALL_SETTINGS,
        ],
        limited=True,
    )
    assert result.returncode == 1
    assert f"failed to write {results}/clean/big.jsonl.zst" in result.stderr
    assert "File too large" in result.stderr
    assert files_under(results) == []


def test_merge_step_over_size_limit_names_file(tmp_path):
    settings = KEEP_ALL_SETTINGS
    results = tmp_path / "results"
    stats = []
    for index in range(2):
        shard = write_shard(
            tmp_path / "in" / f"s{index}.jsonl.zst", noisy_records(300, index)
        )
        step = ["clean-shard", "--shard", str(shard), "--results", str(results)]
        assert run_step([*step, "--settings", settings], limited=True).returncode == 0
        stats.append(str(results / "clean" / f"s{index}.stats.json"))
    keys = [path.replace(".stats.json", ".keys.npy") for path in stats]
    exact = str(results / "dedup" / "exact" / "0.npz")
    dedup = ["dedup-exact", "--bucket", "0", "--buckets", "1", "--out", exact, *keys]
    assert run_step(dedup, limited=True).returncode == 0
    before = files_under(results)

    merge = ["merge", "--results", str(results), "--settings", settings]
    result = run_step([*merge, "--stats", *stats, "--exact", exact], limited=True)
    assert result.returncode == 1
    assert f"failed to write {results}/merged.jsonl.zst" in result.stderr
    assert "File too large" in result.stderr
    assert files_under(results) == before

    result = run_step([*merge, "--stats", *stats, "--exact", exact], limited=False)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((results / "manifest.json").read_text())
    assert manifest["total"]["kept"] == 600
