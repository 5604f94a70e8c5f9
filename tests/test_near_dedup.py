"""Near-duplicate removal: signatures, candidate pairs, clustering, workflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zstandard
from conftest import read_hash, read_manifest, read_merged, run_workflow, write_shard

from indw import near_dedup
from indw.clean import KEY_DTYPE
from indw.config import ConfigError, PipelineConfig
from indw.minhash import (
    MinHashConfig,
    estimated_jaccard,
    jaccard,
    shingle_hashes,
    shingles,
    signature,
)
from indw.near_dedup import (
    EDGE_DTYPE,
    cluster_duplicates,
    connected_components,
    document_keys,
    find_candidate_pairs,
    load_edges,
    save_edges,
    verify_pairs,
)
from indw.planted import edit_words, planted_corpus, score_removal, vocabulary

CONFIG = MinHashConfig(enabled=True)


def words(count: int, seed: int) -> list[str]:
    lexicon = vocabulary(3000, seed=99)
    generator = np.random.default_rng(seed)
    return [lexicon[i] for i in generator.integers(0, len(lexicon), size=count)]


# Signatures


def test_signature_is_deterministic():
    text = " ".join(words(200, 1))
    first = signature(text, CONFIG)
    assert first.dtype == np.uint32
    assert first.shape == (CONFIG.num_perm,)
    assert np.array_equal(first, signature(text, CONFIG))
    other_seed = MinHashConfig(enabled=True, seed=2)
    assert not np.array_equal(first, signature(text, other_seed))


def test_signature_same_under_other_hash_seed():
    text = " ".join(words(120, 2))
    program = (
        "import sys\n"
        "from indw.minhash import MinHashConfig, signature\n"
        "print(signature(sys.argv[1], MinHashConfig()).tobytes().hex())\n"
    )
    outputs = set()
    for hash_seed in ("0", "1", "12345"):
        result = subprocess.run(
            [sys.executable, "-c", program, text],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(result.stdout.strip())
    assert len(outputs) == 1
    assert outputs == {signature(text, MinHashConfig()).tobytes().hex()}


def test_estimate_close_to_true_jaccard():
    generator = np.random.default_rng(3)
    lexicon = vocabulary(3000, seed=99)
    errors = []
    for pair in range(40):
        base = words(250, 100 + pair)
        edits = int(generator.integers(1, 40))
        copy = edit_words(base, edits, lexicon, generator)
        first = " ".join(base)
        second = " ".join(copy)
        truth = jaccard(shingle_hashes(first, CONFIG), shingle_hashes(second, CONFIG))
        estimate = estimated_jaccard(
            signature(first, CONFIG), signature(second, CONFIG)
        )
        errors.append(abs(estimate - truth))
    # With 120 permutations the estimate's standard deviation is at most
    # sqrt(0.25 / 120) = 0.046.
    assert max(errors) < 0.16
    assert float(np.mean(errors)) < 0.05


def test_unrelated_texts_estimate_near_zero():
    first = " ".join(words(300, 7))
    second = " ".join(words(300, 8))
    assert estimated_jaccard(signature(first, CONFIG), signature(second, CONFIG)) < 0.05


def test_short_text_is_one_shingle():
    assert shingles("Three short words", CONFIG) == ["three short words"]
    assert shingles("", CONFIG) == [""]
    assert signature("", CONFIG).shape == (CONFIG.num_perm,)
    assert not np.array_equal(
        signature("one two", CONFIG), signature("one three", CONFIG)
    )


def test_simplification_settings():
    text = "The  Year 1999, WAS\ngreat!  Really great."
    assert shingles(text, MinHashConfig(shingle_size=100)) == [
        "the year 0000 was great really great"
    ]
    raw = MinHashConfig(
        shingle_size=100,
        lowercase=False,
        remove_punctuation=False,
        fold_digits=False,
    )
    assert shingles(text, raw) == ["The Year 1999, WAS great! Really great."]
    spaced = MinHashConfig(shingle_size=100, collapse_whitespace=False)
    assert shingles(text, spaced) == ["the  year 0000 was great  really great"]
    assert shingles("a b c d e f", MinHashConfig(shingle_size=5)) == [
        "a b c d e",
        "b c d e f",
    ]


def test_compatibility_forms_share_signature():
    # NFKC folds the ligature and full-width digits, as exact dedup does.
    first = "The \ufb01rst entry of year \uff12\uff10\uff12\uff14 lists five things"
    second = "The first entry of year 2024 lists five things"
    assert np.array_equal(signature(first, CONFIG), signature(second, CONFIG))


def test_bands_times_rows_must_equal_num_perm():
    with pytest.raises(ConfigError, match=r"near_dedup\.num_perm = 120"):
        PipelineConfig.from_config({"near_dedup": {"bands": 12, "rows": 9}})
    with pytest.raises(ConfigError, match=r"near_dedup\.bands_per_job"):
        PipelineConfig.from_config({"near_dedup": {"bands_per_job": 0}})
    config = PipelineConfig.from_config(
        {"near_dedup": {"bands": 16, "rows": 8, "num_perm": 128}}
    )
    assert config.to_dict()["near_dedup"]["bands"] == 16


def test_band_jobs_cover_every_band():
    config = MinHashConfig(bands=12, rows=10, bands_per_job=5)
    assert config.band_jobs == 3
    covered = [band for job in range(3) for band in config.band_range(job)]
    assert covered == list(range(12))
    with pytest.raises(ValueError, match="band job 3"):
        config.band_range(3)


# Candidate pairs and clustering


def reference_components(edges: list[tuple[int, int]], count: int) -> list[int]:
    parent = list(range(count))

    def find(node: int) -> int:
        while parent[node] != node:
            node = parent[node]
        return node

    for first, second in edges:
        roots = sorted((find(first), find(second)))
        parent[roots[1]] = roots[0]
    return [find(node) for node in range(count)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_connected_components_match_union_find(seed):
    generator = np.random.default_rng(seed)
    count = 500
    first = generator.integers(0, count, size=400)
    second = generator.integers(0, count, size=400)
    # A long path, the slowest shape for rounds of hooking.
    path = np.arange(count - 1)
    first = np.concatenate([first, path[::-1][:100]])
    second = np.concatenate([second, path[::-1][:100] + 1])
    roots = connected_components(first, second, count)
    expected = reference_components(list(zip(first, second, strict=True)), count)
    assert roots.tolist() == expected


def write_pipeline_inputs(folder: Path, shards: list[list[str]], config):
    """Write signature and key files as cleaning would; return their paths."""
    signature_paths, key_paths = [], []
    for index, texts in enumerate(shards):
        rows = np.stack([signature(text, config) for text in texts])
        signature_paths.append(folder / f"s{index}.npy")
        np.save(signature_paths[-1], rows)
        keys = np.zeros(len(texts), dtype=KEY_DTYPE)
        keys["ordinal"] = np.arange(len(texts))
        keys["line"] = np.arange(1, len(texts) + 1)
        key_paths.append(folder / f"s{index}.keys.npy")
        np.save(key_paths[-1], keys)
    return signature_paths, key_paths


def candidate_edges(signature_paths, config) -> np.ndarray:
    parts = [
        find_candidate_pairs(signature_paths, config, job)
        for job in range(config.band_jobs)
    ]
    return np.unique(np.concatenate(parts))


def survivors_by_number(records: np.ndarray, shards: list[list[str]]) -> dict[int, int]:
    """Map removed document numbers (global order) to their survivor's."""
    offsets = np.cumsum([0] + [len(texts) for texts in shards])
    return {
        int(offsets[record["shard"]] + record["ordinal"]): int(
            offsets[record["survivor_shard"]] + record["survivor_line"] - 1
        )
        for record in records
    }


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted")
    shards = planted_corpus(800, 3, seed=0)
    signature_paths, key_paths = write_pipeline_inputs(folder, shards, CONFIG)
    edges = candidate_edges(signature_paths, CONFIG)
    records = cluster_duplicates(edges, key_paths)
    return shards, signature_paths, key_paths, edges, records


def test_planted_recall_and_precision(planted):
    shards, _, _, _, records = planted
    texts = [text for shard in shards for text in shard]
    score = score_removal(texts, survivors_by_number(records, shards), CONFIG)
    assert score.pairs_at_recall_threshold >= 100
    assert score.recall >= 0.95
    assert score.removed >= 100
    assert score.precision >= 0.95


def test_every_group_keeps_exactly_one(planted):
    shards, _, _, _, records = planted
    survivor_of = survivors_by_number(records, shards)
    assert len(survivor_of) == len(records)
    survivors = set(survivor_of.values())
    assert not survivors & set(survivor_of)
    for removed, survivor in survivor_of.items():
        assert survivor < removed


def test_band_grouping_does_not_change_edges(planted):
    _, signature_paths, _, edges, _ = planted
    for bands_per_job in (1, 5, 12):
        config = MinHashConfig(enabled=True, bands_per_job=bands_per_job)
        assert np.array_equal(candidate_edges(signature_paths, config), edges)


def test_read_block_size_does_not_change_edges(planted, monkeypatch):
    _, signature_paths, _, edges, _ = planted
    monkeypatch.setattr(near_dedup, "READ_ROWS", 7)
    assert np.array_equal(candidate_edges(signature_paths, CONFIG), edges)


def test_edge_order_does_not_change_groups(planted):
    _, _, key_paths, edges, records = planted
    shuffled = edges[np.random.default_rng(5).permutation(len(edges))]
    assert np.array_equal(cluster_duplicates(shuffled, key_paths), records)


def test_verified_pairs_meet_threshold(tmp_path, planted):
    shards, _, _, edges, _ = planted
    documents = []
    for index, texts in enumerate(shards):
        documents.append(
            write_shard(
                tmp_path / f"s{index}.jsonl.zst", [{"text": text} for text in texts]
            )
        )
    config = MinHashConfig(enabled=True, verify_jaccard=True, jaccard_threshold=0.8)
    verified = verify_pairs(edges, documents, config)
    assert 0 < len(verified) < len(edges)
    texts = [text for shard in shards for text in shard]
    offsets = np.cumsum([0] + [len(texts) for texts in shards])

    def text_of(key: int) -> str:
        shard, ordinal = divmod(key, 1 << 40)
        return texts[offsets[shard] + ordinal]

    for edge in verified[:200]:
        first = shingle_hashes(text_of(int(edge["member"])), config)
        second = shingle_hashes(text_of(int(edge["first"])), config)
        assert jaccard(first, second) >= 0.8


def test_edges_of_other_shards_rejected(tmp_path):
    edges = np.zeros(1, dtype=EDGE_DTYPE)
    edges["member"] = document_keys(0, np.array([1]))
    path = tmp_path / "edges.npz"
    save_edges(path, edges, ["a", "b"])
    with pytest.raises(ValueError, match="other shards"):
        load_edges([path], ["a", "c"])


def test_signature_file_of_wrong_width_rejected(tmp_path):
    path = tmp_path / "s.npy"
    np.save(path, np.zeros((3, 64), dtype=np.uint32))
    with pytest.raises(ValueError, match="not rows of 120 uint32"):
        find_candidate_pairs([path], CONFIG, 0)


# The workflow


def write_planted_shards(folder: Path, documents: int, seed: int) -> list[list[str]]:
    shards = planted_corpus(documents, 4, seed=seed)
    for index, texts in enumerate(shards):
        write_shard(
            folder / f"part-{index}.jsonl.zst",
            [
                {"id": f"{index}-{line}", "text": text}
                for line, text in enumerate(texts)
            ],
        )
    return shards


def near_settings_file(folder: Path, **settings) -> list[str]:
    """Return Snakemake arguments that set near_dedup keys from a YAML file.

    The quality gates are switched off too, because they would drop the
    planted corpus's made-up sentences before near dedup sees them.
    """
    path = folder / "near.yaml"
    path.write_text(json.dumps({"near_dedup": settings, "gates": {"enabled": False}}))
    return ["--configfile", str(path)]


def read_duplicates(workdir: Path) -> list[dict]:
    path = workdir / "results" / "duplicates.jsonl.zst"
    data = zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read()
    return [json.loads(line) for line in data.splitlines()]


@pytest.fixture(scope="module")
def workflow_corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("near-corpus")
    shards = write_planted_shards(folder, 160, seed=11)
    reference = tmp_path_factory.mktemp("near-reference")
    run_workflow(
        reference,
        folder,
        cores=1,
        env={"INSTANT_PIPELINE_BACKEND": "local", "INSTANT_PIPELINE_WORKERS": "1"},
        extra_args=near_settings_file(reference),
    )
    return folder, shards, reference


@pytest.mark.slow
def test_workflow_removes_near_duplicates(workflow_corpus):
    folder, shards, reference = workflow_corpus
    manifest = read_manifest(reference)
    assert manifest["settings"]["near_dedup"]["enabled"] is True
    assert manifest["settings"]["near_dedup"]["bands"] == 12
    near = manifest["total"]["duplicates"].get("near_duplicate", 0)
    assert near >= 20

    kept = {record["id"] for record in read_merged(reference)}
    duplicates = read_duplicates(reference)
    assert len(duplicates) == manifest["total"]["duplicates_total"]
    for entry in duplicates:
        shard = int(entry["shard"].removeprefix("part-"))
        removed_id = f"{shard}-{entry['line'] - 1}"
        survivor = entry["survivor"]
        survivor_shard = int(survivor["shard"].removeprefix("part-"))
        survivor_id = f"{survivor_shard}-{survivor['line'] - 1}"
        assert removed_id not in kept
        assert survivor_id in kept
        assert (survivor_shard, survivor["line"]) < (shard, entry["line"])

    offsets = np.cumsum([0] + [len(texts) for texts in shards])
    survivor_of = {}
    for entry in duplicates:
        shard = int(entry["shard"].removeprefix("part-"))
        survivor_shard = int(entry["survivor"]["shard"].removeprefix("part-"))
        survivor_of[int(offsets[shard]) + entry["line"] - 1] = (
            int(offsets[survivor_shard]) + entry["survivor"]["line"] - 1
        )
    texts = [text for shard in shards for text in shard]
    score = score_removal(texts, survivor_of, CONFIG)
    assert score.recall >= 0.95
    assert score.precision >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize(
    "cores,env,config",
    [
        (
            2,
            {
                "INSTANT_PIPELINE_BACKEND": "thread",
                "INSTANT_PIPELINE_WORKERS": "2",
                "INSTANT_PIPELINE_CHUNK_SIZE": "9",
                "PYTHONHASHSEED": "1",
            },
            {},
        ),
        (
            1,
            {
                "INSTANT_PIPELINE_BACKEND": "multiprocess",
                "INSTANT_PIPELINE_WORKERS": "2",
                "INSTANT_PIPELINE_CHUNK_SIZE": "7",
                "PYTHONHASHSEED": "2",
            },
            {},
        ),
        (
            2,
            {"INSTANT_PIPELINE_BACKEND": "thread", "INSTANT_PIPELINE_WORKERS": "4"},
            {"bands_per_job": 5},
        ),
        (
            2,
            {
                "INSTANT_PIPELINE_BACKEND": "multiprocess",
                "INSTANT_PIPELINE_WORKERS": "4",
            },
            {},
        ),
    ],
    ids=[
        "thread-2-workers-2-cores",
        "multiprocess-2-workers-1-core",
        "thread-4-workers-3-band-jobs",
        "multiprocess-4-workers-2-cores",
    ],
)
def test_workflow_hash_independent_of_run_settings(
    tmp_path, workflow_corpus, cores, env, config
):
    folder, _, reference = workflow_corpus
    workdir = tmp_path / "run"
    extra_args = near_settings_file(tmp_path, **config)
    run_workflow(workdir, folder, cores=cores, env=env, extra_args=extra_args)
    assert read_hash(workdir) == read_hash(reference)


@pytest.mark.slow
def test_workflow_with_verification(tmp_path, workflow_corpus):
    folder, shards, reference = workflow_corpus
    workdir = tmp_path / "run"
    run_workflow(
        workdir,
        folder,
        env={"INSTANT_PIPELINE_BACKEND": "local"},
        extra_args=near_settings_file(
            tmp_path, verify_jaccard=True, jaccard_threshold=0.8
        ),
    )
    assert (workdir / "results" / "dedup" / "near" / "verified.npz").is_file()
    verified = read_manifest(workdir)["total"]["duplicates"]["near_duplicate"]
    unverified = read_manifest(reference)["total"]["duplicates"]["near_duplicate"]
    assert 0 < verified <= unverified
    log = (workdir / "logs" / "dedup" / "near" / "verify.log").read_text()
    assert "candidate pairs" in log


@pytest.mark.slow
def test_workflow_rejects_bands_not_matching_num_perm(tmp_path, workflow_corpus):
    folder, _, _ = workflow_corpus
    result = run_workflow(
        tmp_path / "run",
        folder,
        extra_args=near_settings_file(tmp_path, bands=10, rows=10),
        check=False,
    )
    assert result.returncode != 0
    assert "near_dedup.num_perm" in result.stdout + result.stderr
    assert not (tmp_path / "run" / "results").exists()
