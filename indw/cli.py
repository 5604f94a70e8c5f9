"""The ``indw`` command.

Exit status: 0 pass, 1 a check or a job failed, 2 bad usage or bad input.
The subcommands ``clean-shard``, ``dedup-exact``, ``near-bands``,
``near-verify``, ``near-cluster`` and ``merge`` are the steps that the
Snakemake rules call; the others are for users.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

EXIT_PASS = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

# Subcommands that live in their own module, imported only when used: each
# module has ``add_arguments(parser)`` and ``run(args) -> int``.
SUBCOMMAND_MODULES = {
    "clean-shard": ("indw.steps", "clean-shard", "clean one shard (a workflow step)"),
    "dedup-exact": (
        "indw.steps",
        "dedup-exact",
        "find exact duplicates in one key bucket (a workflow step)",
    ),
    "near-bands": (
        "indw.near_steps",
        "near-bands",
        "find near-duplicate candidate pairs in one group of bands (a step)",
    ),
    "near-verify": (
        "indw.near_steps",
        "near-verify",
        "keep candidate pairs whose true Jaccard is high enough (a step)",
    ),
    "near-cluster": (
        "indw.near_steps",
        "near-cluster",
        "join candidate pairs into groups of near duplicates (a step)",
    ),
    "merge": ("indw.steps", "merge", "merge the shards and hash (a workflow step)"),
    "validate": (
        "indw.validate",
        None,
        "compare the output hash under the current and the reference settings",
    ),
    "audit": ("indw.audit", None, "check a Dask deployment: `indw audit dask`"),
    "certify": (
        "indw.certify",
        None,
        "run the scale benchmark at 1 and 2 workers and compare hashes",
    ),
    "probe": ("indw.probe", None, "print what the hardware probe would choose"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build the parser, importing only the module of ``command``.

    Every subcommand is listed in the help, but only the chosen one's module
    is imported, so ``indw probe`` never pays for importing Dask.
    """
    parser = argparse.ArgumentParser(
        prog="indw",
        description="Clean and deduplicate sharded JSON Lines text corpora.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log at debug level"
    )
    subcommands = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, step, help_text) in SUBCOMMAND_MODULES.items():
        sub = subcommands.add_parser(name, help=help_text, description=help_text)
        if name != command:
            continue
        module = importlib.import_module(module_name)
        if step is None:
            module.add_arguments(sub)
            sub.set_defaults(handler=module.run)
        else:
            module.add_step_arguments(step, sub)
            sub.set_defaults(handler=module.STEPS[step])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((arg for arg in argv if arg in SUBCOMMAND_MODULES), None)
    args = build_parser(command).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
