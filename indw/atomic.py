"""Write outputs under a temporary name and rename them only when complete."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


class OutputWriteError(OSError):
    """Writing an output failed (disk full, file size limit); names the file."""


def temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextlib.contextmanager
def atomic_outputs(*paths: Path | str) -> Iterator[list[Path]]:
    """Yield temporary paths for ``paths``; rename all of them on success.

    On any exception the temporary files are removed and the final names are
    left untouched, so a failed or killed job never leaves a file that looks
    finished. The renames happen in the order given, so a caller that checks
    for the last path sees every other output complete too.
    """
    finals = [Path(p) for p in paths]
    temps = [temporary_name(p) for p in finals]
    for final in finals:
        final.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield temps
        for temp in temps:
            with open(temp, "rb+") as handle:
                os.fsync(handle.fileno())
        for temp, final in zip(temps, finals, strict=True):
            os.replace(temp, final)
    except OSError as error:
        _remove(temps)
        if isinstance(error, OutputWriteError):
            raise
        target = error.filename or ", ".join(str(p) for p in finals)
        raise OutputWriteError(
            error.errno, f"failed to write {target}: {error.strerror or error}"
        ) from error
    except BaseException:
        _remove(temps)
        raise


def _remove(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
