"""``indw validate``: the output hash under the current and the reference settings.

The reference settings are the local backend with one worker. Both runs use
the same corpus and output settings, so their hashes must be equal; when they
are not, the first differing output document is named.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from itertools import zip_longest
from pathlib import Path

from indw.runner import (
    RUN_SETTING_VARIABLES,
    SHIPPED_CORPUS,
    WorkflowRunError,
    run_workflow,
)
from indw.settings import SettingsError, resolve_run_settings
from indw.shards import iter_lines

log = logging.getLogger(__name__)

REFERENCE_ENVIRONMENT = {
    "INSTANT_PIPELINE_BACKEND": "local",
    "INSTANT_PIPELINE_WORKERS": "1",
}
EXCERPT_CHARS = 160


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        type=Path,
        default=SHIPPED_CORPUS,
        help="corpus folder (default: the shipped acceptance corpus)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="folder for both runs' results (default: a temporary folder)",
    )
    parser.add_argument(
        "--cores", type=int, default=2, help="Snakemake --cores of each run"
    )


def first_difference(current: Path, reference: Path) -> tuple[int, str, str] | None:
    """Return (document number from 1, current line, reference line) or None."""
    pairs = zip_longest(iter_lines(current), iter_lines(reference))
    for number, (mine, theirs) in enumerate(pairs, start=1):
        mine_line = mine[1] if mine else b"(no document)"
        their_line = theirs[1] if theirs else b"(no document)"
        if mine_line != their_line:
            return (
                number,
                mine_line.decode("utf-8", "replace"),
                their_line.decode("utf-8", "replace"),
            )
    return None


def run(args: argparse.Namespace) -> int:
    try:
        current_settings = resolve_run_settings({})
    except SettingsError as error:
        log.error("%s", error)
        return 2
    if not args.input.is_dir():
        log.error("corpus folder %s not found; pass one with --input", args.input)
        return 2

    with tempfile.TemporaryDirectory(prefix="indw-validate-") as scratch:
        workdir = args.workdir or Path(scratch)
        current_env = {
            key: value
            for key, value in os.environ.items()
            if key in RUN_SETTING_VARIABLES
        }
        try:
            current = run_workflow(
                workdir / "current", args.input, current_env, args.cores
            )
            reference = run_workflow(
                workdir / "reference", args.input, REFERENCE_ENVIRONMENT, args.cores
            )
        except WorkflowRunError as error:
            log.error("%s", error)
            return 1

        print(
            f"current   ({current_settings.backend}, workers "
            f"{current_settings.workers or 'from threads'}, chunk size "
            f"{current_settings.chunk_size}): {current.output_hash()}"
        )
        print(f"reference (local, 1 worker): {reference.output_hash()}")
        if current.output_hash() == reference.output_hash():
            print("pass: the hashes are equal")
            return 0

        difference = first_difference(
            current.results / "merged.jsonl.zst",
            reference.results / "merged.jsonl.zst",
        )
        print("fail: the hashes differ")
        if difference is not None:
            number, mine, theirs = difference
            print(f"first differing document: number {number} of the output")
            print(f"  current:   {mine[:EXCERPT_CHARS]}")
            print(f"  reference: {theirs[:EXCERPT_CHARS]}")
        return 1
