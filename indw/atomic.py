"""Write outputs under a temporary name and rename them only when complete.

A temporary file is ``.<name>.tmp-<pid>`` beside its output. A job killed with
SIGKILL cannot remove its temporary files, so the next job that writes the same
output removes them before it starts. Snakemake gives each output to one job
at a time, so a temporary file of that output found at the start of a job
belongs to a job that is no longer running.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

# The end of a temporary file's name after ``.<name>``: the writer's process id
# and, for a job's scratch files, a lowercase label such as ``.signature-rows``.
TEMPORARY_SUFFIX = re.compile(r"\.tmp-\d+(\.[a-z-]+)?")


class OutputWriteError(OSError):
    """Writing an output failed (disk full, file size limit); names the file."""


def temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


class _OutputFileIO(io.FileIO):
    """A raw output file whose write errors name the output it becomes."""

    def __init__(self, temp: Path, final: Path):
        super().__init__(temp, "wb")
        self.final = final

    def write(self, data) -> int:
        try:
            return super().write(data)
        except OSError as error:
            raise OutputWriteError(
                error.errno,
                f"failed to write {self.final} (temporary file {self.name}): "
                f"{error.strerror or error}",
            ) from error


def open_output(temp: Path | str, final: Path | str) -> io.BufferedWriter:
    """Open the temporary file of ``final`` for writing in binary mode.

    A failed write, including one that only happens when the buffer is flushed
    on close, raises OutputWriteError naming ``final`` and its errno.
    """
    return io.BufferedWriter(_OutputFileIO(Path(temp), Path(final)))


def remove_stale_temporaries(final: Path) -> list[Path]:
    """Remove the temporary files that killed writers of ``final`` left behind."""
    prefix = f".{final.name}"
    removed = []
    try:
        entries = list(os.scandir(final.parent))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        if not TEMPORARY_SUFFIX.fullmatch(entry.name[len(prefix) :]):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


@contextlib.contextmanager
def atomic_outputs(*paths: Path | str) -> Iterator[list[Path]]:
    """Yield temporary paths for ``paths``; rename all of them on success.

    On any exception the temporary files are removed and the final names are
    left untouched, so a failed or killed job never leaves a file that looks
    finished. The renames happen in the order given, so a caller that checks
    for the last path sees every other output complete too. Write the
    temporary files with ``open_output`` so that a failed write names its
    output. Any other OSError becomes an OutputWriteError that names the
    file the error carries, or every output when it carries none.
    """
    finals = [Path(p) for p in paths]
    temps = [temporary_name(p) for p in finals]
    try:
        for final in finals:
            final.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(final)
        yield temps
        for temp, final in zip(temps, finals, strict=True):
            _sync(temp, final)
        for temp, final in zip(temps, finals, strict=True):
            os.replace(temp, final)
        for folder in dict.fromkeys(final.parent for final in finals):
            _sync_folder(folder)
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


def _sync(temp: Path, final: Path) -> None:
    # The data must be on disk before the rename makes it look finished.
    try:
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
    except OSError as error:
        raise OutputWriteError(
            error.errno, f"failed to write {final}: {error.strerror or error}"
        ) from error


def _sync_folder(folder: Path) -> None:
    # Makes the renames survive a power loss. Some file systems do not
    # support fsync on a folder; the renames are still atomic there.
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove(paths: list[Path]) -> None:
    # Cleanup after a failure must not replace the error that caused it.
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()
