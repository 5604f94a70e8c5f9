"""``indw audit dask``: check that a Dask deployment can run INDW's tasks.

Three checks run against the configured scheduler (``--scheduler``, else
``INSTANT_DASK_SCHEDULER``, else ``DASK_SCHEDULER_ADDRESS``) or, with none, a
local cluster bound to 127.0.0.1:

- serialization: the clean stage with a real chunk of a real shard survives a
  pickle and a cloudpickle round trip with an unchanged result. The task must
  stay small, because the chunk travels as a spill-file path;
- connectivity: every worker runs a probe task that returns its package
  versions and what it sees at the shard's and the spill folder's paths; the
  versions must equal the client's (Python by major.minor, because pickles
  cross patch releases) and the worker must read the same shard bytes;
- collection: the same chunks run through the ``dask`` backend must give
  results equal to a local run, in the same order.

A JSON report goes to ``--report`` and a short summary to standard output.
Exit status: 0 every check passed, 1 a check failed, 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import itertools
import json
import logging
import os
import pickle
import platform
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import xxhash

from indw.atomic import atomic_outputs
from indw.backends import BackendError
from indw.clean import ChunkResult, clean_chunk
from indw.config import ConfigError, PipelineConfig, load_config
from indw.runner import REPOSITORY, SHIPPED_CORPUS
from indw.settings import SettingsError, resolve_run_settings
from indw.shards import Chunk, ShardReadError, iter_chunks, list_shards

log = logging.getLogger(__name__)

EXIT_PASS = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

VERSIONED_PACKAGES = (
    "indw",
    "dask",
    "distributed",
    "numpy",
    "zstandard",
    "xxhash",
)
# A task carries a stage and a spill-file path, never documents. A task near
# this size means that data travels inside it.
MAX_TASK_BYTES = 64 * 1024
# Bytes of the shard that the client and every worker hash to compare.
SHARD_SAMPLE_BYTES = 1 << 20
DEFAULT_CONFIG = REPOSITORY / "config" / "config.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    targets = parser.add_subparsers(dest="target", required=True, metavar="TARGET")
    dask = targets.add_parser(
        "dask",
        help="check serialization, worker connectivity and result collection",
        description="Check that a real clean task survives pickling, that every "
        "worker responds with the client's package versions and sees the shard, "
        "and that results collected through the dask backend equal a local run. "
        "Runs against the configured scheduler or a local cluster on 127.0.0.1. "
        "Exit status: 0 every check passed, 1 a check failed, 2 bad usage.",
    )
    dask.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="scheduler address; default: INSTANT_DASK_SCHEDULER, else "
        "DASK_SCHEDULER_ADDRESS, else a local cluster on 127.0.0.1",
    )
    dask.add_argument(
        "--workers",
        metavar="N",
        type=int,
        default=2,
        help="workers of the local cluster when no scheduler is named (default: 2)",
    )
    dask.add_argument(
        "--shard",
        metavar="PATH",
        type=Path,
        help="shard whose chunks the checks run (default: the first shard of "
        "the shipped corpus)",
    )
    dask.add_argument(
        "--configfile",
        metavar="PATH",
        type=Path,
        default=DEFAULT_CONFIG,
        help="workflow config whose output settings shape the clean stage "
        "(default: the repository's config/config.yaml)",
    )
    dask.add_argument(
        "--chunk-size",
        type=int,
        default=100,
        metavar="N",
        help="documents per chunk (default: 100)",
    )
    dask.add_argument(
        "--chunks", type=int, default=4, metavar="N", help="chunks to run (default: 4)"
    )
    dask.add_argument(
        "--spill-dir",
        metavar="DIR",
        type=Path,
        help="folder for the spill files, on a file system that the workers "
        "share (default: the report's folder)",
    )
    dask.add_argument(
        "--report",
        metavar="PATH",
        type=Path,
        help="JSON report to write (default: results/dask_audit.json when "
        "results/ exists, else dask_audit.json)",
    )
    dask.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=30.0,
        help="seconds to wait for a worker to join and for each task; the "
        "scheduler itself gets 10 s to respond (default: 30)",
    )


def package_versions() -> dict[str, str]:
    """Return the versions of Python and of the packages a task depends on."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def version_mismatches(client: dict[str, str], worker: dict[str, str]) -> list[str]:
    """Name each package whose worker version differs from the client's."""
    mismatches = []
    for name, expected in client.items():
        found = worker.get(name, "missing")
        if name == "python":
            same = expected.split(".")[:2] == found.split(".")[:2]
        else:
            same = expected == found
        if not same:
            mismatches.append(f"{name} {found} (client {expected})")
    return mismatches


def describe_file(path: str) -> dict[str, Any]:
    """Return the size and the xxh128 of the first bytes of a file, or the error."""
    try:
        with open(path, "rb") as handle:
            sample = handle.read(SHARD_SAMPLE_BYTES)
            size = os.fstat(handle.fileno()).st_size
    except OSError as error:
        return {"readable": False, "error": f"{type(error).__name__}: {error}"}
    return {"readable": True, "size": size, "xxh128": xxhash.xxh3_128_hexdigest(sample)}


def probe_worker(shard: str, spill_folder: str) -> dict[str, Any]:
    """Run on a worker: report its host, versions and view of the two paths."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "versions": package_versions(),
        "shard": describe_file(shard),
        "spill_folder_exists": os.path.isdir(spill_folder),
    }


def result_digest(result: ChunkResult) -> str:
    """Return an xxh128 over every field of a chunk result, for comparing runs.

    Objects that came back through pickle do not pickle to the same bytes as
    the originals (shared references differ), so the fields are hashed.
    """
    digest = xxhash.xxh3_128()
    for item in fields(result):
        value = getattr(result, item.name)
        digest.update(item.name.encode())
        if isinstance(value, dict):
            value = sorted(value.items())
        if not isinstance(value, list):
            value = [value]
        digest.update(str(len(value)).encode())
        for element in value:
            if hasattr(element, "tobytes"):
                element = element.tobytes()
            if not isinstance(element, bytes):
                element = repr(element).encode()
            digest.update(str(len(element)).encode() + b":" + element)
    return digest.hexdigest()


def build_stage(config: PipelineConfig, shard: Path) -> Callable[[Chunk], ChunkResult]:
    """Return the clean stage exactly as ``clean_shard`` builds it."""
    return functools.partial(clean_chunk, config=config, source=str(shard))


def check_serialization(
    stage: Callable, chunk: Chunk, spill_folder: Path
) -> dict[str, Any]:
    """Round-trip the task of one chunk through pickle and cloudpickle."""
    import cloudpickle

    from indw.dask_backend import run_chunk_task, write_spill

    check: dict[str, Any] = {"name": "serialization", "passed": False}
    try:
        expected = result_digest(stage(chunk))
        spilled = write_spill(chunk, spill_folder)
        for name, module in (("pickle", pickle), ("cloudpickle", cloudpickle)):
            payload = module.dumps((run_chunk_task, stage, spilled))
            task, loaded_stage, loaded_item = pickle.loads(payload)
            got = result_digest(task(loaded_stage, loaded_item))
            check[f"{name}_bytes"] = len(payload)
            if got != expected:
                check["error"] = f"the {name} round trip changed the chunk's result"
                return check
            if len(payload) > MAX_TASK_BYTES:
                check["error"] = (
                    f"the task is {len(payload)} bytes through {name}, over "
                    f"{MAX_TASK_BYTES}: data travels inside the task"
                )
                return check
    except Exception as error:  # an audit reports every failure, whatever it is
        check["error"] = f"{type(error).__name__}: {error}"
        return check
    check["passed"] = True
    return check


def check_connectivity(
    client, shard: Path, spill_folder: Path, timeout: float
) -> dict[str, Any]:
    """Send a probe task to every worker and compare what each returns."""
    check: dict[str, Any] = {"name": "connectivity", "passed": False}
    expected_versions = package_versions()
    expected_shard = describe_file(str(shard))
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    check["client_versions"] = expected_versions
    check["workers"] = {}
    if not workers:
        check["error"] = "the scheduler has no workers"
        return check

    token = uuid.uuid4().hex
    futures = {
        address: client.submit(
            probe_worker,
            str(shard),
            str(spill_folder),
            key=f"indw-audit-probe-{token}-{index}",
            workers=[address],
            allow_other_workers=False,
        )
        for index, address in enumerate(workers)
    }
    problems = []
    for address, future in futures.items():
        entry: dict[str, Any] = {"problems": []}
        try:
            entry.update(future.result(timeout=timeout))
        except Exception as error:  # a worker's failure is a finding, not a crash
            future.cancel()
            entry["problems"].append(f"probe failed: {type(error).__name__}: {error}")
        else:
            mismatches = version_mismatches(expected_versions, entry["versions"])
            entry["problems"] += [f"version mismatch: {m}" for m in mismatches]
            if not entry["shard"]["readable"]:
                entry["problems"].append(
                    f"cannot read the shard {shard}: {entry['shard']['error']}"
                )
            elif entry["shard"] != expected_shard:
                entry["problems"].append(
                    f"reads different bytes at the shard path {shard}"
                )
            if not entry["spill_folder_exists"]:
                entry["problems"].append(
                    f"does not see the spill folder {spill_folder}"
                )
        check["workers"][address] = entry
        problems += [f"{address}: {p}" for p in entry["problems"]]

    if problems:
        check["error"] = "; ".join(problems)
        return check
    check["passed"] = True
    return check


def check_collection(
    client,
    address: str,
    stage: Callable,
    chunks: list[Chunk],
    spill_dir: Path,
    timeout: float,
) -> dict[str, Any]:
    """Run the chunks through the dask backend and compare with a local run."""
    from indw.dask_backend import map_on_client

    check: dict[str, Any] = {"name": "collection", "passed": False}
    started = time.perf_counter()
    try:
        expected = [result_digest(stage(chunk)) for chunk in chunks]
        results = map_on_client(
            client, address, stage, chunks, spill_dir, len(chunks), timeout
        )
        got = [result_digest(result) for result in results]
    except Exception as error:  # an audit reports every failure, whatever it is
        check["error"] = f"{type(error).__name__}: {error}"
        return check
    check["seconds"] = round(time.perf_counter() - started, 3)
    check["chunks"] = len(got)
    if got != expected:
        pairs = enumerate(zip(got, expected, strict=False))
        first = next(
            (index for index, (mine, theirs) in pairs if mine != theirs),
            min(len(got), len(expected)),
        )
        check["error"] = (
            f"chunk {first} differs from the local run ({len(got)} results "
            f"for {len(expected)} chunks)"
        )
        return check
    check["passed"] = True
    return check


def default_report_path() -> Path:
    results = Path("results")
    return results / "dask_audit.json" if results.is_dir() else Path("dask_audit.json")


def write_report(path: Path, report: dict) -> None:
    with atomic_outputs(path) as (temp,):
        temp.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


def print_summary(report: dict, path: Path) -> None:
    cluster = report["scheduler"] + (" (local cluster)" if report["local"] else "")
    print(f"indw audit dask: scheduler {cluster}")
    for check in report["checks"]:
        status = "pass" if check["passed"] else "FAIL"
        detail = check.get("error") or _check_detail(check)
        print(f"  {check['name']:<14} {status}  {detail}")
    print(f"report: {path}")


def _check_detail(check: dict) -> str:
    if check["name"] == "serialization":
        return (
            f"task is {check['pickle_bytes']} bytes pickled, "
            f"{check['cloudpickle_bytes']} bytes cloudpickled"
        )
    if check["name"] == "connectivity":
        return f"{len(check['workers'])} workers responded, versions match"
    return f"{check['chunks']} chunks equal to a local run"


def _first_shard() -> Path:
    return list_shards(SHIPPED_CORPUS)[0]


def _load_chunks(shard: Path, chunk_size: int, count: int) -> list[Chunk]:
    return list(itertools.islice(iter_chunks(shard, chunk_size), count))


def run_audit(
    scheduler: str | None,
    workers: int,
    stage: Callable,
    shard: Path,
    chunks: list[Chunk],
    spill_dir: Path,
    timeout: float,
) -> dict[str, Any]:
    """Run the three checks and return the report."""
    from indw.dask_backend import open_client

    report: dict[str, Any] = {
        "scheduler": scheduler or "local",
        "local": scheduler is None,
        "shard": str(shard),
        "chunks": len(chunks),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "checks": [],
    }
    spill_dir.mkdir(parents=True, exist_ok=True)
    spill_folder = Path(tempfile.mkdtemp(prefix=".audit-spill-", dir=spill_dir))
    try:
        report["checks"].append(check_serialization(stage, chunks[0], spill_folder))
        try:
            with open_client(scheduler, workers, worker_timeout=timeout) as (
                client,
                address,
            ):
                report["scheduler"] = address
                report["checks"].append(
                    check_connectivity(client, shard, spill_folder, timeout)
                )
                report["checks"].append(
                    check_collection(client, address, stage, chunks, spill_dir, timeout)
                )
        except BackendError as error:
            for name in ("connectivity", "collection"):
                report["checks"].append(
                    {"name": name, "passed": False, "error": str(error)}
                )
    finally:
        shutil.rmtree(spill_folder, ignore_errors=True)
    report["passed"] = all(check["passed"] for check in report["checks"])
    return report


def run(args: argparse.Namespace) -> int:
    for name in ("workers", "chunk_size", "chunks"):
        if getattr(args, name) < 1:
            log.error(
                "--%s must be >= 1, not %s", name.replace("_", "-"), getattr(args, name)
            )
            return EXIT_USAGE
    if args.timeout <= 0:
        log.error("--timeout must be > 0 seconds, not %s", args.timeout)
        return EXIT_USAGE
    try:
        scheduler = args.scheduler or resolve_run_settings({}).dask_scheduler
        shard = (args.shard or _first_shard()).resolve()
        config = PipelineConfig.from_config(load_config(args.configfile))
        chunks = _load_chunks(shard, args.chunk_size, args.chunks)
    except (ConfigError, SettingsError, ShardReadError, OSError, ValueError) as error:
        log.error("%s", error)
        return EXIT_USAGE
    if not chunks:
        log.error("shard %s has no lines to audit with", shard)
        return EXIT_USAGE

    report_path = args.report or default_report_path()
    spill_dir = (args.spill_dir or report_path.parent).resolve()
    report = run_audit(
        scheduler,
        args.workers,
        build_stage(config, shard),
        shard,
        chunks,
        spill_dir,
        args.timeout,
    )
    try:
        write_report(report_path, report)
    except OSError as error:
        log.error("%s", error)
        return EXIT_USAGE
    print_summary(report, report_path)
    return EXIT_PASS if report["passed"] else EXIT_FAILED
