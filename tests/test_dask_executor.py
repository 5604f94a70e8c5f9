"""The Dask executor plugin with real Dask clusters bound to 127.0.0.1."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import distributed
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
from snakemake.common.tests import TestWorkflowsLocalStorageBase
from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_executor_plugins.registry import ExecutorPluginRegistry

from snakemake_executor_plugin_dask.cluster import connect
from snakemake_executor_plugin_dask.settings import (
    ADDRESS_VARIABLES,
    ExecutorSettings,
    check_settings,
    scheduler_address,
)
from snakemake_executor_plugin_dask.worker import check_workdir

SNAKEMAKE = Path(sys.executable).with_name("snakemake")
LOOPBACK = "127.0.0.1"


@pytest.fixture
def no_scheduler_variables(monkeypatch):
    for variable in ADDRESS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    """Four shards with duplicates across shards, shared by this module."""
    folder = tmp_path_factory.mktemp("dask") / "corpus"
    shared = long_text(5000)
    for index, name in enumerate(["a", "b", "c", "d"]):
        records = [{"id": f"{name}0", "text": shared}]
        records += [
            {"id": f"{name}{i}", "text": long_text(index * 100 + i)}
            for i in range(1, 40)
        ]
        write_shard(folder / f"{name}.jsonl.zst", records)
    return folder


@pytest.fixture(scope="module")
def reference_hash(tmp_path_factory, small_corpus) -> str:
    workdir = tmp_path_factory.mktemp("reference")
    run_workflow(workdir, small_corpus, cores=2)
    return read_hash(workdir)


def run_profile(workdir, corpus, env=None, extra_args=(), timeout=300):
    """Start ``snakemake --profile dask`` from the repository root."""
    command = [
        str(SNAKEMAKE),
        "--profile",
        "dask",
        "--directory",
        str(workdir),
        "--config",
        f"input_dir={corpus}",
        *extra_args,
    ]
    return subprocess.Popen(
        command,
        cwd=REPOSITORY,
        env=clean_environment(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def test_plugin_found_by_snakemake():
    plugin = ExecutorPluginRegistry().get_plugin("dask")
    names = {info["name"] for info in plugin.get_settings_info()}
    assert plugin.common_settings.non_local_exec
    assert {"scheduler_address", "connect_timeout", "local_workers"} <= names


def test_plugin_listed_by_snakemake_cli():
    result = subprocess.run(
        [str(SNAKEMAKE), "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    assert "--dask-scheduler-address" in result.stdout
    assert "--dask-connect-timeout" in result.stdout


@pytest.mark.parametrize(
    "settings",
    [
        ExecutorSettings(connect_timeout=31),
        ExecutorSettings(connect_timeout=0),
        ExecutorSettings(local_workers=0),
        ExecutorSettings(local_threads_per_worker=0),
        ExecutorSettings(local_dashboard_port=70000),
    ],
)
def test_settings_out_of_range_rejected(settings):
    with pytest.raises(WorkflowError):
        check_settings(settings)


def test_scheduler_address_precedence(monkeypatch):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:1")
    monkeypatch.setenv("INSTANT_DASK_SCHEDULER", "tcp://127.0.0.1:2")
    flag = ExecutorSettings(scheduler_address="tcp://127.0.0.1:3")
    scheduler_file = ExecutorSettings(scheduler_file="scheduler.json")

    assert scheduler_address(flag) == "tcp://127.0.0.1:3"
    assert scheduler_address(scheduler_file) is None
    assert scheduler_address(ExecutorSettings()) == "tcp://127.0.0.1:2"
    monkeypatch.delenv("INSTANT_DASK_SCHEDULER")
    assert scheduler_address(ExecutorSettings()) == "tcp://127.0.0.1:1"


@pytest.mark.slow
@pytest.mark.parametrize("processes, dashboard_port", [(False, None), (True, 0)])
def test_local_cluster_sockets_on_loopback(
    no_scheduler_variables, processes, dashboard_port
):
    settings = ExecutorSettings(
        local_workers=2,
        local_processes=processes,
        local_dashboard_port=dashboard_port,
    )
    connection = connect(settings)
    try:
        members = [psutil.Process(), *psutil.Process().children(recursive=True)]
        sockets = [
            (member.pid, conn.laddr)
            for member in members
            for conn in member.net_connections(kind="inet")
        ]
        listening = [
            conn
            for member in members
            for conn in member.net_connections(kind="inet")
            if conn.status == psutil.CONN_LISTEN
        ]
        worker_count = len(connection.client.scheduler_info()["workers"])
    finally:
        connection.close()

    assert worker_count == 2
    # The scheduler and its HTTP server, then per worker its listener and
    # HTTP server, and with processes also a nanny.
    assert len(listening) >= 2 + 2 * (3 if processes else 2)
    off_loopback = [(pid, laddr) for pid, laddr in sockets if laddr.ip != LOOPBACK]
    assert off_loopback == []


@pytest.mark.slow
def test_check_workdir_on_real_worker(tmp_path):
    marker = tmp_path / "marker"
    marker.write_text("token-1")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, host=LOOPBACK, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        seen = client.run(check_workdir, str(tmp_path), str(marker), "token-1")
        missing = client.run(
            check_workdir, str(tmp_path / "absent"), str(marker), "token-1"
        )
        other = client.run(check_workdir, str(tmp_path), str(marker), "token-2")

    assert list(seen.values()) == [None]
    assert "not found on Dask worker" in next(iter(missing.values()))
    assert "different folder" in next(iter(other.values()))


@pytest.mark.slow
def test_unreachable_scheduler_fails_fast(tmp_path, small_corpus):
    address = f"tcp://{LOOPBACK}:{closed_port()}"
    process = run_profile(
        tmp_path / "run",
        small_corpus,
        env={"DASK_SCHEDULER_ADDRESS": address},
        extra_args=["--dask-connect-timeout", "3"],
    )
    # Startup and DAG take a few seconds, the connection 3 more; the
    # documented bound for the connection alone is 30 s.
    output, _ = process.communicate(timeout=60)

    assert process.returncode != 0
    assert f"could not connect to Dask scheduler at {address} within 3 s" in output
    assert not (tmp_path / "run" / "results" / "merged.xxh128").exists()
    assert list((tmp_path / "run" / ".snakemake").rglob("workdir-check")) == []


@pytest.mark.slow
def test_profile_matches_local_hash(tmp_path, small_corpus, reference_hash):
    workdir = tmp_path / "run"
    process = run_profile(
        workdir, small_corpus, extra_args=["--dask-local-workers", "2"]
    )
    output, _ = process.communicate(timeout=300)

    assert process.returncode == 0, output
    assert "local Dask cluster at tcp://127.0.0.1:" in output
    assert read_hash(workdir) == reference_hash
    logs = sorted(
        path.name for path in (workdir / ".snakemake" / "dask").rglob("*.log")
    )
    assert any(name.startswith("group-clean_shards") for name in logs), logs


@pytest.mark.slow
def test_failed_job_reports_status_and_log(tmp_path, no_scheduler_variables):
    (tmp_path / "Snakefile").write_text(
        'rule fail:\n    output: "out.txt"\n'
        '    shell: "echo reason-for-failure >&2; exit 3"\n'
    )
    result = subprocess.run(
        [
            str(SNAKEMAKE),
            "--executor",
            "dask",
            "--jobs",
            "1",
            "--dask-local-workers",
            "1",
        ],
        cwd=tmp_path,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr

    assert result.returncode != 0
    assert "exited with status 1" in output
    assert "reason-for-failure" in output
    assert str(tmp_path / ".snakemake" / "dask") in output


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def running_job_worker(client) -> tuple[str, int, list[psutil.Process]] | None:
    """Return a worker running a Snakemake job: its task key, pid, processes."""
    pids = client.run(os.getpid)
    for address, keys in client.processing().items():
        jobs = [key for key in keys if str(key).startswith("snakemake-")]
        if not jobs:
            continue
        processes = descendants(pids[address])
        commands = [" ".join(process.cmdline()) for process in processes]
        # Wait until the job's own Snakemake has started under the supervisor.
        if any("supervisor.py" in c for c in commands) and any(
            "-m snakemake" in c for c in commands
        ):
            return jobs[0], pids[address], processes
    return None


def alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
def test_killed_worker_job_retried(tmp_path, small_corpus, reference_hash):
    workdir = tmp_path / "run"
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host=LOOPBACK,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": f"{LOOPBACK}:0"},
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        process = run_profile(
            workdir,
            small_corpus,
            env={"DASK_SCHEDULER_ADDRESS": cluster.scheduler_address},
        )
        try:
            found = None
            deadline = time.monotonic() + 120
            while found is None and time.monotonic() < deadline:
                assert process.poll() is None, process.stdout.read()
                found = running_job_worker(client)
                time.sleep(0.1)
            assert found is not None, "no job seen running on a worker"
            key, pid, job_processes = found
            os.kill(pid, signal.SIGKILL)

            output, _ = process.communicate(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()
        starts = [
            event
            for event in cluster.scheduler.story(key)
            if event[0] == key and event[2] == "processing"
        ]

    assert process.returncode == 0, output
    assert read_hash(workdir) == reference_hash
    ids = [record["id"] for record in read_merged(workdir)]
    assert len(ids) == len(set(ids))
    # The job processes of the killed worker were stopped with it, so no
    # orphan raced the retried task.
    assert [p.pid for p in job_processes if alive(p)] == []
    # Dask ran the task again after its worker died.
    assert len(starts) >= 2, starts


class TestWorkflows(TestWorkflowsLocalStorageBase):
    """Snakemake's own executor test workflows, on a local Dask cluster."""

    __test__ = True

    @pytest.fixture(autouse=True)
    def _no_scheduler_variables(self, no_scheduler_variables):
        return None

    def get_executor(self) -> str:
        return "dask"

    def get_executor_settings(self) -> ExecutorSettings:
        return ExecutorSettings(local_workers=2, connect_timeout=10)
