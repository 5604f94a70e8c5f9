"""The dask backend, the run-wide cluster and ``indw audit dask`` on real clusters.

Every cluster here is a real ``distributed`` cluster bound to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from conftest import (
    REPOSITORY,
    clean_environment,
    long_text,
    read_hash,
    read_merged,
    run_workflow,
    write_shard,
)
from distributed import Client
from distributed.diagnostics.plugin import SchedulerPlugin

from indw import audit
from indw.backends import map_local
from indw.clean import clean_chunk
from indw.config import PipelineConfig, load_config
from indw.dask_backend import (
    SPILL_PREFIX,
    SchedulerUnreachableError,
    map_dask,
    start_local_cluster,
)
from indw.settings import RunSettings
from indw.shards import iter_chunks

SHARD = REPOSITORY / "data" / "corpus" / "shard-000.jsonl.zst"
LOOPBACK = "127.0.0.1"


@pytest.fixture(scope="module")
def cluster():
    """A two-worker local cluster shared by the tests of this file."""
    local_cluster = start_local_cluster(2)
    yield local_cluster
    local_cluster.close()


@pytest.fixture(scope="module")
def stage():
    config = PipelineConfig.from_config(load_config(REPOSITORY / "config/config.yaml"))
    return functools.partial(clean_chunk, config=config, source=str(SHARD))


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    """Three shards with duplicates across shards and lines too short to keep."""
    folder = tmp_path_factory.mktemp("dask") / "corpus"
    shared = long_text(5000)
    write_shard(
        folder / "a.jsonl.zst",
        [{"id": f"a{i}", "text": long_text(i)} for i in range(40)]
        + [{"id": "a40", "text": shared}, {"id": "a41", "text": "short"}],
    )
    write_shard(
        folder / "b.jsonl.zst",
        [{"id": "b0", "text": shared}]
        + [{"id": f"b{i}", "text": long_text(100 + i)} for i in range(1, 40)],
    )
    write_shard(
        folder / "c.jsonl.zst",
        [{"id": f"c{i}", "text": long_text(200 + i)} for i in range(40)]
        + [{"id": "c40", "text": long_text(3)}],
    )
    return folder


@pytest.fixture(scope="module")
def one_bucket(tmp_path_factory) -> list[str]:
    """Snakemake arguments for one dedup bucket: fewer jobs in every run."""
    path = tmp_path_factory.mktemp("config") / "one_bucket.yaml"
    path.write_text("exact_dedup:\n  buckets: 1\n")
    return ["--configfile", str(path)]


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory, small_corpus, one_bucket) -> Path:
    workdir = tmp_path_factory.mktemp("local")
    run_workflow(
        workdir,
        small_corpus,
        env={"INSTANT_PIPELINE_BACKEND": "local"},
        extra_args=one_bucket,
    )
    return workdir


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def dask_settings(cluster) -> RunSettings:
    return RunSettings(backend="dask", dask_scheduler=cluster.scheduler_address)


def test_results_in_input_order_equal_local(cluster, stage, tmp_path):
    chunks = list(iter_chunks(SHARD, 7))
    expected = [audit.result_digest(r) for r in map_local(stage, chunks)]

    results = map_dask(stage, chunks, dask_settings(cluster), 2, spill_dir=tmp_path)
    got = [audit.result_digest(r) for r in results]

    assert len(chunks) > 50
    assert got == expected
    assert list(tmp_path.iterdir()) == []


def test_chunks_in_flight_bounded(cluster, stage, tmp_path):
    pulled = 0

    def counted_chunks():
        nonlocal pulled
        for chunk in iter_chunks(SHARD, 20):
            pulled += 1
            yield chunk

    settings = RunSettings(
        backend="dask", workers=2, dask_scheduler=cluster.scheduler_address
    )
    ahead = []
    for done, _ in enumerate(map_dask(stage, counted_chunks(), settings, 2, tmp_path)):
        ahead.append(pulled - done)

    assert len(ahead) == 35
    assert max(ahead) <= 4


def test_local_cluster_sockets_on_loopback(stage, tmp_path):
    chunks = list(itertools.islice(iter_chunks(SHARD, 50), 6))
    results = map_dask(stage, chunks, RunSettings(backend="dask"), 2, tmp_path)
    next(results)

    processes = [psutil.Process(), *psutil.Process().children(recursive=True)]
    sockets = [c for p in processes for c in p.net_connections(kind="inet")]
    listening = [c for c in sockets if c.status == psutil.CONN_LISTEN]
    remaining = list(results)

    assert len(remaining) == 5
    # A scheduler, its dashboard and two nannies and two workers at least.
    assert len(listening) >= 6
    assert {c.laddr.ip for c in sockets} == {LOOPBACK}


def test_unreachable_scheduler_fails_clearly(stage):
    address = f"tcp://{LOOPBACK}:{closed_port()}"
    settings = RunSettings(backend="dask", dask_scheduler=address)
    started = time.perf_counter()

    with pytest.raises(SchedulerUnreachableError, match=address):
        list(map_dask(stage, iter_chunks(SHARD, 50), settings, 1, connect_timeout=2))

    assert time.perf_counter() - started < 10


def test_silent_service_fails_clearly(stage):
    """A port that accepts connections but is not a Dask scheduler."""
    with socket.socket() as service:
        service.bind((LOOPBACK, 0))
        service.listen()
        address = f"tcp://{LOOPBACK}:{service.getsockname()[1]}"
        settings = RunSettings(backend="dask", dask_scheduler=address)
        started = time.perf_counter()

        with pytest.raises(SchedulerUnreachableError, match="no Dask handshake"):
            list(map_dask(stage, [], settings, 1, connect_timeout=2))

    assert time.perf_counter() - started < 10


@pytest.mark.slow
def test_unreachable_scheduler_fails_workflow(small_corpus, one_bucket, tmp_path):
    address = f"tcp://{LOOPBACK}:{closed_port()}"
    started = time.perf_counter()

    result = run_workflow(
        tmp_path,
        small_corpus,
        env={"INSTANT_PIPELINE_BACKEND": "dask", "INSTANT_DASK_SCHEDULER": address},
        extra_args=one_bucket,
        check=False,
    )

    elapsed = time.perf_counter() - started
    assert result.returncode != 0
    assert f"the Dask scheduler at {address} did not respond" in result.stderr
    assert elapsed < 30
    assert not (tmp_path / "results" / "merged.xxh128").exists()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["dask", "distributed"])
def test_workflow_hash_equals_local(
    backend, cluster, small_corpus, local_reference, one_bucket, tmp_path
):
    """The alias "cluster" gets the same check in the killed-worker test."""
    env = {"INSTANT_PIPELINE_BACKEND": backend, "INSTANT_PIPELINE_CHUNK_SIZE": "7"}
    if backend != "dask":
        # "dask" starts a cluster for the run; the alias uses the shared one.
        env["INSTANT_DASK_SCHEDULER"] = cluster.scheduler_address

    run_workflow(tmp_path, small_corpus, env=env, extra_args=one_bucket)

    assert read_hash(tmp_path) == read_hash(local_reference)
    log = (tmp_path / "logs" / "clean" / "a.log").read_text()
    assert "dask backend: scheduler tcp://127.0.0.1:" in log
    assert not list((tmp_path / "results" / "clean").glob(SPILL_PREFIX + "*"))


class KillWorkerPlugin(SchedulerPlugin):
    """Kill the worker process that is given the ``nth`` cleaning task.

    Also counts how often each cleaning task was sent to a worker, so a test
    can see that the killed worker's tasks ran again.
    """

    def __init__(self, scheduler, pids: dict[str, int], nth: int):
        self.scheduler = scheduler
        self.pids = pids
        self.nth = nth
        self.started: dict[str, int] = {}
        self.killed: list[int] = []

    def transition(self, key, start, finish, *args, **kwargs):
        if finish != "processing" or not str(key).startswith("indw-clean-chunk"):
            return
        self.started[key] = self.started.get(key, 0) + 1
        if sum(self.started.values()) == self.nth and not self.killed:
            worker = self.scheduler.tasks[key].processing_on.address
            os.kill(self.pids[worker], signal.SIGKILL)
            self.killed.append(self.pids[worker])


@pytest.mark.slow
def test_worker_killed_mid_run_same_hash(
    cluster, small_corpus, local_reference, one_bucket, tmp_path
):
    with Client(cluster, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=30)
        pids = client.run(os.getpid)
    plugin = KillWorkerPlugin(cluster.scheduler, pids, nth=10)
    cluster.scheduler.add_plugin(plugin, name="kill-worker")
    try:
        run_workflow(
            tmp_path,
            small_corpus,
            env={
                "INSTANT_PIPELINE_BACKEND": "cluster",
                "INSTANT_DASK_SCHEDULER": cluster.scheduler_address,
                "INSTANT_PIPELINE_CHUNK_SIZE": "2",
            },
            extra_args=one_bucket,
        )
    finally:
        cluster.scheduler.remove_plugin(name="kill-worker")

    ids = [record["id"] for record in read_merged(tmp_path)]
    reference_ids = [record["id"] for record in read_merged(local_reference)]
    assert len(plugin.killed) == 1
    assert not psutil.pid_exists(plugin.killed[0])
    assert max(plugin.started.values()) >= 2
    assert read_hash(tmp_path) == read_hash(local_reference)
    assert len(ids) == len(set(ids))
    assert ids == reference_ids


def run_audit_command(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    script = REPOSITORY / "scripts" / "dask_integration_report.py"
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_audit_passes_on_local_cluster(tmp_path):
    (tmp_path / "results").mkdir()

    result = run_audit_command(["--chunk-size", "50"], tmp_path)

    report = json.loads((tmp_path / "results" / "dask_audit.json").read_text())
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["passed"] is True
    assert report["local"] is True
    assert [c["name"] for c in report["checks"]] == [
        "serialization",
        "connectivity",
        "collection",
    ]
    assert len(report["checks"][1]["workers"]) == 2
    assert "collection     pass" in result.stdout


def test_audit_bad_shard_is_usage_error(tmp_path):
    result = run_audit_command(
        ["--shard", str(tmp_path / "missing.jsonl.zst")], tmp_path
    )

    assert result.returncode == 2
    assert "missing.jsonl.zst" in result.stderr


def test_audit_fails_on_unpicklable_task(cluster, tmp_path, monkeypatch, capsys):
    def stage_with_lock(config, shard):
        return functools.partial(
            clean_chunk, config=config, source=str(shard), lock=threading.Lock()
        )

    monkeypatch.setattr(audit, "build_stage", stage_with_lock)
    report_path = tmp_path / "audit.json"
    parser = argparse.ArgumentParser()
    audit.add_arguments(parser)
    args = parser.parse_args(
        [
            "dask",
            "--scheduler",
            cluster.scheduler_address,
            "--report",
            str(report_path),
        ]
    )

    status = audit.run(args)

    report = json.loads(report_path.read_text())
    checks = {check["name"]: check for check in report["checks"]}
    assert status == 1
    assert report["passed"] is False
    assert checks["serialization"]["passed"] is False
    assert "lock" in checks["serialization"]["error"]
    assert checks["connectivity"]["passed"] is True
    assert checks["collection"]["passed"] is False
    assert "serialization  FAIL" in capsys.readouterr().out


def start_hidden_worker(address: str, hidden: Path) -> subprocess.Popen:
    """Start a worker in a mount namespace where ``hidden`` is an empty tmpfs.

    That worker shares the machine's network but not its view of ``hidden``,
    as a worker on another host without the shared file system would.
    """
    command = [
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        'mount -t tmpfs tmpfs "$0" && exec "$1" -m distributed.cli.dask_worker'
        ' "$2" --nthreads 1 --no-nanny --host 127.0.0.1 --no-dashboard',
        str(hidden),
        sys.executable,
        address,
    ]
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def user_namespaces_available() -> bool:
    try:
        probe = subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "true"],
            capture_output=True,
            timeout=10,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(
    not user_namespaces_available(),
    reason="needs unshare and user namespaces to hide a path from a worker",
)
def test_audit_fails_when_worker_cannot_see_shard(tmp_path):
    hidden = tmp_path / "shared"
    shard = hidden / "corpus" / "a.jsonl.zst"
    write_shard(shard, [{"text": long_text(i)} for i in range(20)])
    scheduler = start_local_cluster(0)
    worker = start_hidden_worker(scheduler.scheduler_address, hidden)
    try:
        with Client(scheduler, set_as_default=False) as client:
            client.wait_for_workers(1, timeout=30)
        result = run_audit_command(
            [
                "--scheduler",
                scheduler.scheduler_address,
                "--shard",
                str(shard),
                "--report",
                str(hidden / "audit.json"),
                "--chunk-size",
                "5",
            ],
            tmp_path,
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        scheduler.close()

    report = json.loads((hidden / "audit.json").read_text())
    checks = {check["name"]: check for check in report["checks"]}
    assert result.returncode == 1, result.stdout + result.stderr
    assert checks["serialization"]["passed"] is True
    assert checks["connectivity"]["passed"] is False
    assert f"cannot read the shard {shard}" in checks["connectivity"]["error"]
    assert checks["collection"]["passed"] is False
    assert "SpillFileError" in checks["collection"]["error"]
