"""The whole Snakemake workflow on small real shards."""

import re
from pathlib import Path

import pytest
import xxhash
import zstandard
from conftest import (
    long_text,
    read_hash,
    read_manifest,
    read_merged,
    run_workflow,
    write_shard,
)

pytestmark = pytest.mark.slow

# The quality gates would drop the made-up text of the conftest corpus
# whole. These tests are about dedup, merge and the hash, so they switch the
# gates off, and tests/test_gates_workflow.py runs every gate on real text.
# The switch is a config file because Snakemake's --config reads nested
# values as strings.
GATES_OFF = ["--configfile", str(Path(__file__).parent / "gates_off.yaml")]


def executed_jobs(result) -> dict[str, int]:
    """Return the job counts of the 'Job stats' table Snakemake printed."""
    output = result.stdout + result.stderr
    table = output.split("Job stats:", 1)[1]
    counts = {}
    for match in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE):
        counts[match.group(1)] = int(match.group(2))
        if match.group(1) == "total":
            break
    return counts


@pytest.fixture
def reference(tmp_path, corpus):
    workdir = tmp_path / "reference"
    run_workflow(
        workdir, corpus, env={"INSTANT_PIPELINE_BACKEND": "local"}, extra_args=GATES_OFF
    )
    return workdir


def test_outputs_and_hash_of_decompressed_bytes(reference):
    results = reference / "results"
    for name in ["merged.jsonl.zst", "merged.xxh128", "manifest.json"]:
        assert (results / name).is_file()
    data = (
        zstandard.ZstdDecompressor()
        .stream_reader(
            (results / "merged.jsonl.zst").open("rb"), read_across_frames=True
        )
        .read()
    )
    line = (results / "merged.xxh128").read_text()
    assert line.split()[0] == xxhash.xxh3_128_hexdigest(data)
    assert re.fullmatch(r"[0-9a-f]{32}  merged\.jsonl\n", line)
    assert read_manifest(reference)["hash"]["merged.jsonl"] == line.split()[0]


def test_duplicates_keep_first_copy_in_global_order(reference):
    ids = [record["id"] for record in read_merged(reference)]
    assert "a1" in ids
    assert "b0" not in ids
    assert "c0" not in ids
    assert "b1" not in ids
    assert ids == sorted(ids, key=lambda i: (i[0], int(i[1:])))
    assert len(ids) == len(set(ids))
    manifest = read_manifest(reference)
    assert manifest["total"]["duplicates"] == {"exact_duplicate": 3}
    assert manifest["total"]["read"] == 120
    assert manifest["total"]["kept"] == 117


def test_manifest_counts_add_up(reference):
    manifest = read_manifest(reference)
    for entry in [*manifest["shards"], manifest["total"]]:
        assert entry["read"] == (
            entry["kept"]
            + entry["dropped_total"]
            + entry["duplicates_total"]
            + entry["quarantined_total"]
        )


def test_cafe_spellings_and_empty_shard(tmp_path):
    folder = tmp_path / "corpus"
    tail = " is where the travellers stop for bread and news every morning."
    write_shard(folder / "1.jsonl.zst", [{"id": 1, "text": "Caf\u00e9" + tail}])
    write_shard(folder / "2.jsonl.zst", [{"id": 2, "text": "Cafe\u0301" + tail}])
    (folder / "3.jsonl.zst").write_bytes(b"")
    write_shard(folder / "4.jsonl.zst", [{"id": 4, "text": long_text(4)}])
    workdir = tmp_path / "run"
    run_workflow(workdir, folder, extra_args=GATES_OFF)
    assert [record["id"] for record in read_merged(workdir)] == [1, 4]
    duplicates = (
        zstandard.ZstdDecompressor()
        .stream_reader((workdir / "results" / "duplicates.jsonl.zst").open("rb"))
        .read()
    )
    assert b'"reason":"exact_duplicate"' in duplicates
    assert b'"survivor":{"shard":"1","line":1}' in duplicates


def test_shard_without_duplicates_runs(tmp_path):
    folder = tmp_path / "corpus"
    write_shard(folder / "only.jsonl.zst", [{"text": long_text(i)} for i in range(5)])
    workdir = tmp_path / "run"
    run_workflow(workdir, folder, cores=1, extra_args=GATES_OFF)
    assert len(read_merged(workdir)) == 5
    assert read_manifest(workdir)["total"]["duplicates_total"] == 0


@pytest.mark.parametrize(
    "cores,env",
    [
        (1, {"INSTANT_PIPELINE_BACKEND": "sync", "INSTANT_PIPELINE_CHUNK_SIZE": "1"}),
        (
            2,
            {
                "INSTANT_PIPELINE_BACKEND": "threads",
                "INSTANT_PIPELINE_WORKERS": "2",
                "INSTANT_PIPELINE_CHUNK_SIZE": "100",
                "PYTHONHASHSEED": "1",
            },
        ),
        (
            2,
            {
                "INSTANT_PIPELINE_BACKEND": "multiprocess",
                "INSTANT_PIPELINE_WORKERS": "4",
                "INSTANT_PIPELINE_CHUNK_SIZE": "7",
                "PYTHONHASHSEED": "2",
            },
        ),
    ],
    ids=["local-1-core", "thread-2-workers", "multiprocess-4-workers"],
)
def test_hash_independent_of_run_settings(tmp_path, corpus, reference, cores, env):
    workdir = tmp_path / "run"
    run_workflow(workdir, corpus, cores=cores, env=env, extra_args=GATES_OFF)
    assert read_hash(workdir) == read_hash(reference)


def test_rerun_after_one_shard_changes(tmp_path, corpus, reference):
    write_shard(
        corpus / "d.jsonl",
        [{"id": f"d{i}", "text": long_text(400 + i)} for i in range(30)],
    )
    rerun = run_workflow(reference, corpus, extra_args=GATES_OFF)
    jobs = executed_jobs(rerun)
    assert jobs["clean_shard"] == 1
    assert jobs["exact_dedup_bucket"] == 4
    assert jobs["merge_shards"] == 1
    scratch = tmp_path / "scratch"
    run_workflow(scratch, corpus, extra_args=GATES_OFF)
    assert read_hash(reference) == read_hash(scratch)


def test_bogus_backend_fails_before_any_job(tmp_path, corpus):
    workdir = tmp_path / "run"
    result = run_workflow(
        workdir, corpus, env={"INSTANT_PIPELINE_BACKEND": "bogus"}, check=False
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "INSTANT_PIPELINE_BACKEND='bogus' is not a valid backend" in output
    assert "local, thread, multiprocess, dask" in output
    assert not (workdir / "results").exists()
    assert not (workdir / "logs").exists()


def test_bad_config_key_named(tmp_path, corpus):
    result = run_workflow(
        tmp_path / "run", corpus, config={"exact_dedup": {"buckets": 3}}, check=False
    )
    assert result.returncode != 0
    assert "exact_dedup.buckets" in result.stdout + result.stderr
