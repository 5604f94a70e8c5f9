"""Bad input, killed jobs, failed writes and reruns in real Snakemake runs."""

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import (
    REPOSITORY,
    SNAKEFILE,
    clean_environment,
    long_text,
    read_hash,
    read_manifest,
    read_merged,
    run_workflow,
    write_shard,
)
from test_atomic import noisy_records
from test_bad_input import compress, compress_from_pipe, joined

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_workflow(tmp_path_factory) -> list[str]:
    """Snakemake arguments for the smallest workflow: one exact-dedup job, no
    near-dedup jobs, and no gates, which would drop the made-up documents.
    A config file, because --config passes nested values as text."""
    path = tmp_path_factory.mktemp("config") / "small-workflow.yaml"
    path.write_text(
        "exact_dedup:\n  buckets: 1\n"
        "gates:\n  enabled: false\n"
        "near_dedup:\n  enabled: false\n"
    )
    return ["--configfile", str(path)]


CLEAN_OUTPUTS = (
    "clean/{}.jsonl.zst",
    "clean/{}.keys.npy",
    "clean/{}.stats.json",
    "rejected/{}.jsonl.zst",
    "quarantine/{}.jsonl",
)


def doc(name: str, seed: int) -> bytes:
    return json.dumps({"id": name, "text": long_text(seed)}).encode()


def executed_jobs(result) -> dict[str, int]:
    """Return the job counts of the 'Job stats' table, empty when none ran."""
    output = result.stdout + result.stderr
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:", 1)[1]
    counts = {}
    for match in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE):
        if match.group(1) == "total":
            break
        counts[match.group(1)] = int(match.group(2))
    return counts


def temporary_files(workdir) -> list[str]:
    return sorted(path.name for path in workdir.rglob(".*.tmp-*"))


def missing_clean_outputs(workdir, shard: str) -> list[str]:
    results = workdir / "results"
    return [
        p.format(shard)
        for p in CLEAN_OUTPUTS
        if not (results / p.format(shard)).exists()
    ]


def balance(entry: dict) -> int:
    return (
        entry["kept"]
        + entry["dropped_total"]
        + entry["duplicates_total"]
        + entry["quarantined_total"]
    )


@pytest.fixture(scope="module")
def quoted_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("it's here")


@pytest.fixture(scope="module")
def bad_corpus(quoted_folder):
    """Shards that mix every kind of bad input next to good documents."""
    folder = quoted_folder / "corpus"
    folder.mkdir()

    frames = [doc(f"f{i}", i) for i in range(6)]
    first = joined([frames[0], b"", frames[1]])
    second = joined([b"  ", frames[2], frames[3]])
    third = joined([frames[4], b"\t", frames[5]])
    # Three frames, the second boundary inside a record.
    (folder / "frames.jsonl.zst").write_bytes(
        compress(first) + compress(second + third[:9]) + compress(third[9:])
    )

    piped = [doc(f"p{i}", 100 + i) for i in range(4)] + [doc("p-dup", 0)]
    (folder / "piped.jsonl.zst").write_bytes(compress_from_pipe(joined(piped)))

    kinds = [
        b'"a bare string"',
        b"[1, 2, 3]",
        b"42",
        b'{"id": "no-text"}',
        b'{"id": "null", "text": null}',
        b'{"id": "number", "text": 7}',
        b'{"id": "empty", "text": ""}',
        doc("s0", 300),
        doc("s1", 301),
    ]
    (folder / "shard 01.jsonl.zst").write_bytes(compress(joined(kinds)))

    quoted = [doc("o0", 400), doc("o1", 300)]
    (folder / "o'brien.jsonl.zst").write_bytes(compress(joined(quoted)))
    shell = 'say "hi"; $HOME `id` & | *.jsonl.zst'
    (folder / shell).write_bytes(compress(joined([doc("q0", 700)])))

    tail = joined([doc("t0", 500), doc("t1", 501)]) + doc("t2", 502)[:30]
    (folder / "tail.jsonl.zst").write_bytes(compress(tail))

    bad_bytes = b'{"id": "u1", "text": "' + long_text(601).encode() + b'\xff\xfe"}'
    (folder / "utf8.jsonl.zst").write_bytes(
        compress(joined([doc("u0", 600), bad_bytes]))
    )

    (folder / "empty.jsonl.zst").write_bytes(b"")
    all_bad = [b"{", b"[1]", b"", b'{"text": 5}', b"\xff"]
    (folder / "allbad.jsonl.zst").write_bytes(compress(joined(all_bad)))
    return folder


EXPECTED_SHARDS = {
    "allbad": {
        "read": 4,
        "kept": 0,
        "blank_lines": 1,
        "quarantined": {
            "invalid_json": 1,
            "invalid_utf8": 1,
            "record_is_array": 1,
            "text_not_string": 1,
        },
    },
    "empty": {"read": 0, "kept": 0, "blank_lines": 0, "quarantined": {}},
    "frames": {"read": 6, "kept": 6, "blank_lines": 3, "quarantined": {}},
    "o'brien": {"read": 2, "kept": 2, "blank_lines": 0, "quarantined": {}},
    "piped": {"read": 5, "kept": 4, "blank_lines": 0, "quarantined": {}},
    'say "hi"; $HOME `id` & | *': {
        "read": 1,
        "kept": 1,
        "blank_lines": 0,
        "quarantined": {},
    },
    "shard 01": {
        "read": 9,
        "kept": 1,
        "blank_lines": 0,
        "quarantined": {
            "record_is_array": 1,
            "record_is_number": 1,
            "record_is_string": 1,
            "text_missing": 1,
            "text_not_string": 1,
            "text_null": 1,
        },
    },
    "tail": {
        "read": 3,
        "kept": 2,
        "blank_lines": 0,
        "quarantined": {"invalid_json": 1},
    },
    "utf8": {
        "read": 2,
        "kept": 1,
        "blank_lines": 0,
        "quarantined": {"invalid_utf8": 1},
    },
}


@pytest.fixture(scope="module")
def bad_run(quoted_folder, bad_corpus, small_workflow):
    """A run of the bad-input corpus in a working folder named with a quote."""
    workdir = quoted_folder / "work"
    run_workflow(workdir, bad_corpus, extra_args=small_workflow)
    return workdir


def test_bad_input_corpus_accounted(bad_run):
    workdir = bad_run
    manifest = read_manifest(workdir)

    shards = {entry["shard"]: entry for entry in manifest["shards"]}
    assert list(shards) == sorted(EXPECTED_SHARDS, key=str.encode)
    for name, expected in EXPECTED_SHARDS.items():
        entry = shards[name]
        for key, value in expected.items():
            assert entry[key] == value, f"{name}: {key}"
        assert entry["read"] == balance(entry), name
    assert shards["shard 01"]["dropped"] == {"empty": 1}
    assert shards["shard 01"]["duplicates"] == {"exact_duplicate": 1}
    assert shards["piped"]["duplicates"] == {"exact_duplicate": 1}

    total = manifest["total"]
    assert total["read"] == 32
    assert total["kept"] == 17
    assert total["dropped_total"] == 1
    assert total["duplicates_total"] == 2
    assert total["quarantined_total"] == 12
    assert total["blank_lines"] == 4
    assert total["read"] == balance(total)

    ids = [record["id"] for record in read_merged(workdir)]
    assert ids == [
        *(f"f{i}" for i in range(6)),
        "o0",
        "o1",
        *(f"p{i}" for i in range(4)),
        "q0",
        "s1",
        "t0",
        "t1",
        "u0",
    ]


def test_bad_lines_quarantined_with_file_and_line(bad_run, bad_corpus):
    quarantine = bad_run / "results" / "quarantine"

    tail = [json.loads(line) for line in (quarantine / "tail.jsonl").open()]
    assert [(entry["line"], entry["reason"]) for entry in tail] == [(3, "invalid_json")]
    assert tail[0]["file"] == str(bad_corpus / "tail.jsonl.zst")

    utf8 = [json.loads(line) for line in (quarantine / "utf8.jsonl").open()]
    assert [(entry["line"], entry["reason"]) for entry in utf8] == [(2, "invalid_utf8")]
    offset = len(b'{"id": "u1", "text": "') + len(long_text(601))
    assert utf8[0]["error"].startswith(f"byte {offset} of the line")

    kinds = [json.loads(line) for line in (quarantine / "shard 01.jsonl").open()]
    assert [entry["line"] for entry in kinds] == [1, 2, 3, 4, 5, 6]
    assert (quarantine / "empty.jsonl").read_bytes() == b""


def test_invalid_utf8_replace_in_workflow(quoted_folder, bad_corpus, small_workflow):
    workdir = quoted_folder / "replace"
    config = {"cleaning": {"invalid_utf8": "replace"}}
    run_workflow(workdir, bad_corpus, config=config, extra_args=small_workflow)
    manifest = read_manifest(workdir)
    assert "invalid_utf8" not in manifest["total"]["quarantined"]
    assert manifest["total"]["quarantined_total"] == 11
    assert manifest["total"]["read"] == balance(manifest["total"])
    repaired = [r for r in read_merged(workdir) if r["id"] == "u1"]
    assert repaired[0]["text"].endswith("\ufffd\ufffd")


@pytest.fixture
def damaged_corpus(tmp_path):
    folder = tmp_path / "corpus"
    write_shard(folder / "good.jsonl.zst", [{"text": long_text(i)} for i in range(20)])
    data = compress(joined([doc(f"d{i}", i) for i in range(3000)]))
    (folder / "cut.jsonl.zst").write_bytes(data[: len(data) - 200])
    flipped = bytearray(data)
    flipped[-10] ^= 0x10
    (folder / "flip.jsonl.zst").write_bytes(bytes(flipped))
    return folder


def test_damaged_shards_fail_their_jobs(tmp_path, damaged_corpus, small_workflow):
    workdir = tmp_path / "run"
    result = run_workflow(
        workdir,
        damaged_corpus,
        extra_args=["--keep-going", *small_workflow],
        check=False,
    )
    assert result.returncode != 0
    for name, error in [("cut", "truncated"), ("flip", "damaged zstd data")]:
        log = (workdir / "logs" / "clean" / f"{name}.log").read_text()
        assert f"cannot read shard {damaged_corpus}/{name}.jsonl.zst: {error}" in log
        assert missing_clean_outputs(workdir, name) == [
            path.format(name) for path in CLEAN_OUTPUTS
        ]
    assert missing_clean_outputs(workdir, "good") == []
    assert not (workdir / "results" / "merged.jsonl.zst").exists()
    assert not (workdir / "results" / "manifest.json").exists()
    assert temporary_files(workdir) == []


def test_strict_fails_naming_first_line(tmp_path):
    folder = tmp_path / "corpus"
    write_shard(folder / "a.jsonl.zst", [{"text": long_text(i)} for i in range(5)])
    lines = [{"text": long_text(10)}, {"text": long_text(11)}, b"{cut", [1], b"{"]
    write_shard(folder / "b.jsonl.zst", lines)
    workdir = tmp_path / "run"
    result = run_workflow(workdir, folder, env={"INSTANT_STRICT": "1"}, check=False)
    assert result.returncode != 0
    log = (workdir / "logs" / "clean" / "b.log").read_text()
    assert (
        f"strict mode: quarantined input line {folder}/b.jsonl.zst:3: invalid_json"
        in log
    )
    assert missing_clean_outputs(workdir, "b") == [
        path.format("b") for path in CLEAN_OUTPUTS
    ]
    assert not (workdir / "results" / "merged.jsonl.zst").exists()


@pytest.fixture
def slow_corpus(tmp_path):
    """A shard that takes most of a second to clean, and a small one."""
    folder = tmp_path / "corpus"
    write_shard(
        folder / "big.jsonl.zst",
        [{"id": i, "text": long_text(i, 60)} for i in range(25000)],
    )
    write_shard(folder / "small.jsonl.zst", [{"text": long_text(i)} for i in range(9)])
    return folder


SLOW_ENV = {"INSTANT_PIPELINE_BACKEND": "local", "INSTANT_PIPELINE_CHUNK_SIZE": "50"}


def start_workflow(workdir, corpus, extra_args) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *extra_args,
        "--config",
        f"input_dir={corpus}",
    ]
    return subprocess.Popen(
        command,
        env=clean_environment(SLOW_ENV),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_for_writing(process, temp_folder, prefix: str, timeout: float = 60.0):
    """Return the first non-empty temporary file named ``prefix*`` once it appears."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if temp_folder.is_dir():
            for path in temp_folder.glob(f"{prefix}*"):
                if path.stat().st_size > 0:
                    return path
        time.sleep(0.005)
    raise AssertionError(f"no temporary file {prefix}* was written in {temp_folder}")


def test_killed_clean_job_leaves_nothing_finished(
    tmp_path, slow_corpus, small_workflow
):
    reference = tmp_path / "reference"
    run_workflow(reference, slow_corpus, env=SLOW_ENV, extra_args=small_workflow)
    workdir = tmp_path / "run"

    process = start_workflow(workdir, slow_corpus, small_workflow)
    clean_folder = workdir / "results" / "clean"
    temp = wait_for_writing(process, clean_folder, ".big.jsonl.zst.tmp-")
    job_pid = int(temp.name.rsplit("-", 1)[1])
    os.kill(job_pid, signal.SIGKILL)
    assert process.wait(timeout=120) != 0
    assert missing_clean_outputs(workdir, "big") == [
        path.format("big") for path in CLEAN_OUTPUTS
    ]
    assert temp.exists()
    assert not (workdir / "results" / "merged.jsonl.zst").exists()

    run_workflow(workdir, slow_corpus, env=SLOW_ENV, extra_args=small_workflow)
    assert temporary_files(workdir) == []
    assert read_hash(workdir) == read_hash(reference)

    # Killing Snakemake's whole process group leaves its lock behind too.
    shutil.rmtree(workdir)
    process = start_workflow(workdir, slow_corpus, small_workflow)
    wait_for_writing(process, clean_folder, ".big.jsonl.zst.tmp-")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert missing_clean_outputs(workdir, "big") == [
        path.format("big") for path in CLEAN_OUTPUTS
    ]
    assert temporary_files(workdir) != []
    run_workflow(workdir, slow_corpus, extra_args=["--unlock"])
    rerun = [*small_workflow, "--rerun-incomplete"]
    run_workflow(workdir, slow_corpus, env=SLOW_ENV, extra_args=rerun)
    assert temporary_files(workdir) == []
    assert read_hash(workdir) == read_hash(reference)


@pytest.fixture
def noisy_corpus(tmp_path):
    """One shard whose cleaned output is far over 64 KiB, and a small one."""
    folder = tmp_path / "corpus"
    write_shard(folder / "big.jsonl.zst", noisy_records(3000))
    write_shard(folder / "small.jsonl.zst", [{"text": long_text(i)} for i in range(9)])
    return folder


def test_file_size_limit_fails_job_naming_file(tmp_path, noisy_corpus, small_workflow):
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    workdir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--cores",
        "1",
        "--keep-going",
        *small_workflow,
        "--config",
        f"input_dir={noisy_corpus}",
    ]
    result = subprocess.run(
        command,
        env=clean_environment(),
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    log = (workdir / "logs" / "clean" / "big.log").read_text()
    assert "failed to write results/clean/big.jsonl.zst" in log
    assert "File too large" in log
    assert missing_clean_outputs(workdir, "big") == [
        path.format("big") for path in CLEAN_OUTPUTS
    ]
    assert missing_clean_outputs(workdir, "small") == []
    assert temporary_files(workdir) == []


def user_namespaces_work() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    return probe.returncode == 0


# A tmpfs of 128 KiB on results/, in a private mount namespace that ends with
# the run, so no other process on the machine can reach it. The script lists
# what the run left in results/ before the namespace and its files go away.
FULL_DISK_SCRIPT = """
set -u
mkdir -p "$1/results"
mount -t tmpfs -o size=128k tmpfs "$1/results"
shift
"$@"
status=$?
cd results && find . -type f -o -type l | sort
exit $status
"""


@pytest.mark.skipif(
    not user_namespaces_work(),
    reason="needs `unshare -rm` to mount a small tmpfs without root",
)
def test_full_disk_fails_job_naming_file(tmp_path, noisy_corpus):
    workdir = tmp_path / "run"
    command = [
        "unshare",
        "-rm",
        "sh",
        "-c",
        FULL_DISK_SCRIPT,
        "sh",
        str(workdir),
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--cores",
        "1",
        "--keep-going",
        "--quiet",
        "--config",
        f"input_dir={noisy_corpus}",
    ]
    result = subprocess.run(
        command,
        cwd=tmp_path,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    log = (workdir / "logs" / "clean" / "big.log").read_text()
    assert re.search(r"failed to write results/\w+/big\.jsonl\.zst", log), log
    assert "No space left on device" in log
    left = result.stdout.split()
    assert not [name for name in left if "big" in name or ".tmp-" in name], left


def test_mtime_only_change_reruns_nothing(tmp_path, corpus, small_workflow):
    workdir = tmp_path / "run"
    run_workflow(workdir, corpus, extra_args=small_workflow)
    first_hash = read_hash(workdir)
    shard = corpus / "b.jsonl.zst"
    # Snakemake fails a job whose input looks newer than the clock, so the
    # new time is the present, which is later than every output.
    time.sleep(0.01)
    os.utime(shard)

    rerun = run_workflow(workdir, corpus, extra_args=small_workflow)
    assert executed_jobs(rerun) == {}
    assert "Nothing to be done" in rerun.stdout + rerun.stderr

    # A shard over --max-checksum-file-size is taken as changed: its cleaning
    # and the global steps rerun and give the same bytes.
    rerun = run_workflow(
        workdir, corpus, extra_args=[*small_workflow, "--max-checksum-file-size", "1"]
    )
    assert executed_jobs(rerun) == {
        "all": 1,
        "clean_shard": 1,
        "exact_dedup_bucket": 1,
        "merge_shards": 1,
    }
    assert read_hash(workdir) == first_hash


def test_fault_injection_script_reports_matches(tmp_path, small_workflow):
    folder = tmp_path / "corpus"
    write_shard(folder / "a.jsonl.zst", [{"text": long_text(i)} for i in range(50)])
    script = REPOSITORY / "scripts" / "fault_injection.py"
    result = subprocess.run(
        [sys.executable, str(script), "--corpus", str(folder), "--kills", "1"]
        + ["--seed", "5", "--workdir", str(tmp_path / "runs"), *small_workflow],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "seed 5" in result.stdout
    assert "1 of 1 reruns matched the uninterrupted hash" in result.stdout
