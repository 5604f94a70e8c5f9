#!/usr/bin/env python3
"""Check a Dask deployment for INDW; the same as ``indw audit dask``.

Arguments are those of ``indw audit dask`` (see ``--help``). Exit status: 0
every check passed, 1 a check failed, 2 bad usage or input.
"""

import sys

from indw.cli import main

if __name__ == "__main__":
    sys.exit(main(["audit", "dask", *sys.argv[1:]]))
