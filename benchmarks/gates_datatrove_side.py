"""Run the datatrove side of the gates benchmark.

This file runs under ``benchmarks/.venv-datatrove``, never under INDW's own
environment: it imports datatrove and nothing from ``indw``.
``bench_gates_datatrove.py`` starts it as a subprocess with a JSON plan on
standard input and reads one JSON line of timings from standard output.

The plan names the input folder, the output folder, the worker count and
the filters in order, each with its keyword arguments. Each task writes
``kept-RANK.tsv`` (id, digest of the text after line removals),
``dropped-FILTER-RANK.tsv`` (id, reason) and ``cpu-RANK.json`` (the task's
CPU seconds) into the output folder. A plan with ``texts`` in place of the
folders runs the filters on those texts instead and prints, for each,
datatrove's verdicts and its own measurements, for the report's examples.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from importlib import metadata
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)
from datatrove.pipeline.filters.gopher_quality_filter import STOP_WORDS
from datatrove.pipeline.readers import JsonlReader

FILTERS = {
    "gopher_repetition": GopherRepetitionFilter,
    "gopher_quality": GopherQualityFilter,
    "c4": C4QualityFilter,
    "fineweb": FineWebQualityFilter,
}


def text_digest(text: str) -> str:
    """Return a short digest of ``text``; INDW's side computes the same one."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


class ReasonRecorder:
    """Exclusion writer that records a dropped document's id and reason.

    datatrove's own writers would copy each dropped text; this writes one
    short line per document, so recording the reasons costs little time.
    """

    def __init__(self, folder: str, name: str) -> None:
        self.folder = folder
        self.name = name
        self._handle = None

    def __enter__(self) -> ReasonRecorder:
        return self

    def write(self, document, rank: int = 0) -> None:
        if self._handle is None:
            path = Path(self.folder) / f"dropped-{self.name}-{rank:05d}.tsv"
            self._handle = open(path, "w", encoding="utf-8")
        reason = document.metadata.get("filter_reason", self.name)
        self._handle.write(f"{document.id}\t{reason}\n")

    def __exit__(self, *exc_info) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class KeptRecorder(PipelineStep):
    """Write the id and text digest of every document that passed."""

    name = "kept ids"
    type = "WRITER"

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder

    def run(self, data, rank: int = 0, world_size: int = 1):
        # The body starts when the executor pulls the first document, before
        # the reader opens a shard and before spaCy loads, and it ends after
        # the last: its CPU time is the whole task's, without the imports.
        cpu_start = time.process_time()
        path = Path(self.folder) / f"kept-{rank:05d}.tsv"
        with open(path, "w", encoding="utf-8") as handle:
            for document in data:
                handle.write(f"{document.id}\t{text_digest(document.text)}\n")
                self.stat_update("kept")
                yield document
        cpu_path = Path(self.folder) / f"cpu-{rank:05d}.json"
        used = time.process_time() - cpu_start
        cpu_path.write_text(json.dumps({"cpu_seconds": used}))


def build_pipeline(plan: dict) -> list:
    output = plan["output_dir"]
    steps = [
        JsonlReader(
            plan["input_dir"],
            glob_pattern="*.jsonl.zst",
            compression="zstd",
            recursive=False,
            add_file_path=False,
        )
    ]
    for name, kwargs in plan["filters"]:
        filter_class = FILTERS[name]
        recorder = ReasonRecorder(output, name)
        steps.append(filter_class(exclusion_writer=recorder, **kwargs))
    steps.append(KeptRecorder(output))
    return steps


def gopher_stats(text: str) -> dict:
    """Measure a text the way datatrove's Gopher filters do."""
    from datatrove.pipeline.filters.gopher_repetition_filter import (
        find_all_duplicate,
        find_duplicates,
        find_top_duplicate,
        get_n_grams,
    )
    from datatrove.utils.text import PUNCTUATION_SET, split_into_words

    words = split_into_words(text)
    content = [w for w in words if any(ch not in PUNCTUATION_SET for ch in w)]
    lines = text.splitlines()
    stats = {
        "words": len(words),
        "words_with_a_non_punctuation_character": len(content),
        "all_words": words,
        "mean_word_length": sum(map(len, content)) / len(content) if content else 0,
        "lines_by_splitlines": len(lines),
        "lines_by_newline_runs": len(re.split("\n+", text)),
        "alpha_word_share": (
            sum(any(c.isalpha() for c in w) for w in words) / len(words) if words else 0
        ),
        "stop_words": sorted(set(words) & set(STOP_WORDS)),
    }
    if text:
        paragraphs = re.split("\n{2,}", text.strip())
        para_dups, para_chars = find_duplicates(paragraphs)
        line_dups, line_chars = find_duplicates(re.split("\n+", text))
        stats["duplicate_paragraph_share"] = para_dups / len(paragraphs)
        stats["duplicate_paragraph_char_share"] = para_chars / len(text)
        stats["duplicate_line_char_share"] = line_chars / len(text)
        for n in (2, 3, 4):
            grams = get_n_grams(words, n)
            if grams:
                stats[f"top_{n}_gram_char_share"] = find_top_duplicate(grams) / len(
                    text
                )
        for n in range(5, 11):
            share = find_all_duplicate(words, n) / len(text)
            stats[f"duplicated_{n}_gram_char_share"] = share
    return stats


def c4_kept_lines(text: str, filters: list) -> list:
    """Return the lines C4 keeps, each with its sentence count, as datatrove does."""
    from datatrove.data import Document
    from datatrove.utils.text import split_into_sentences

    settings = dict(filters).get("c4")
    if settings is None:
        return []
    step = C4QualityFilter(**{**settings, "min_num_sentences": -1})
    document = Document(text=text, id="example")
    step.filter(document)
    lines = document.text.split("\n") if document.text else []
    return [[line, len(split_into_sentences(line))] for line in lines]


def explain(plan: dict) -> list[dict]:
    """Run the filters in order on each text, as datatrove does, and measure it."""
    from datatrove.data import Document

    filters = [(name, FILTERS[name](**kwargs)) for name, kwargs in plan["filters"]]
    answers = []
    for text in plan["texts"]:
        document = Document(text=text, id="example")
        verdicts = {}
        for name, step in filters:
            result = step.filter(document)
            verdicts[name] = result[1] if isinstance(result, tuple) else None
            if result is False or isinstance(result, tuple):
                break
        answers.append(
            {
                "verdicts": verdicts,
                "text_after_filters": document.text,
                "gopher_stats_of_input": gopher_stats(text),
                "c4_kept_lines": c4_kept_lines(text, plan["filters"]),
            }
        )
    return answers


def main() -> int:
    plan = json.load(sys.stdin)
    if "texts" in plan:
        json.dump(explain(plan), sys.stdout)
        sys.stdout.write("\n")
        return 0
    output = Path(plan["output_dir"])
    output.mkdir(parents=True, exist_ok=True)
    workers = plan["workers"]
    executor = LocalPipelineExecutor(
        pipeline=build_pipeline(plan),
        tasks=workers,
        workers=workers,
        logging_dir=str(output / "logs"),
        skip_completed=False,
    )

    started = time.perf_counter()
    executor.run()
    seconds = time.perf_counter() - started

    versions = {name: metadata.version(name) for name in ("datatrove", "spacy")}
    json.dump({"seconds": seconds, "versions": versions}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
