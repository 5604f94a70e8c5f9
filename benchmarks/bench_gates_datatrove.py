"""Compare INDW's quality gates with datatrove's filters on the same corpus.

Both sides read the same zstd shards with the same number of worker
processes, one after the other in one invocation. They apply the same rules
with the same thresholds (Gopher repetition, Gopher quality, C4 quality and
FineWeb quality) in INDW's configured order with C4 moved last. The script
prints documents per second and MB/s of text for each side and their ratio,
then how far the two kept sets agree, rule by rule, with a real example of
each kind of difference. The figures also go to a JSON and a Markdown file.

datatrove runs in its own virtual environment, ``benchmarks/.venv-datatrove``,
which ``--setup`` creates; it is never a dependency of INDW or its tests.

    .venv/bin/python benchmarks/bench_gates_datatrove.py --setup
    .venv/bin/python benchmarks/bench_gates_datatrove.py --limit-mb 5
    .venv/bin/python benchmarks/bench_gates_datatrove.py

INDW's side calls ``indw.gates.apply_gates`` in worker processes that read
the shards with INDW's own reader (``indw.shards.iter_lines`` and
``indw.records.parse_record``), not the whole ``indw clean-shard`` path:
that path also normalizes, computes dedup keys and MinHash signatures and
writes outputs, work datatrove's filters do not do, so its time would not
measure the gates.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml
import zstandard

from indw.records import Rejection, parse_record
from indw.shards import iter_lines, list_shards

LOG = logging.getLogger("bench_gates_datatrove")

ROOT = Path(__file__).resolve().parent.parent
DATATROVE_VENV = ROOT / "benchmarks" / ".venv-datatrove"
DATATROVE_SIDE = ROOT / "benchmarks" / "gates_datatrove_side.py"
DEFAULT_CORPUS = ROOT / "benchmarks" / "data" / "bench"
DEFAULT_WORK = ROOT / "benchmarks" / "data" / "gates-run"
DEFAULT_CONFIG = ROOT / "config" / "config.yaml"
MB = 1_000_000

# datatrove 0.10 splits English words and sentences with spaCy's blank
# English pipeline: a rule-based tokenizer plus a sentencizer, no trained
# model. Its text utilities import ``regex``, and its JSON Lines reader uses
# ``zstandard`` and ``orjson`` for zstd shards.
DATATROVE_REQUIREMENTS = (
    "datatrove>=0.10,<0.11",
    "spacy>=3.7,<4",
    "regex",
    "zstandard",
    "orjson",
)

# datatrove's drop reasons by INDW's name for the same rule. INDW's names
# are the reference in the report, so every per-rule row has one name.
DATATROVE_TO_INDW = {
    "gopher_short_doc": "gopher_word_count",
    "gopher_long_doc": "gopher_word_count",
    "gopher_below_avg_threshold": "gopher_mean_word_length",
    "gopher_above_avg_threshold": "gopher_mean_word_length",
    "gopher_too_many_hashes": "gopher_hash_ratio",
    "gopher_too_many_ellipsis": "gopher_ellipsis_ratio",
    "gopher_too_many_bullets": "gopher_bullet_lines",
    "gopher_too_many_end_ellipsis": "gopher_ellipsis_lines",
    "gopher_below_alpha_threshold": "gopher_alpha_words",
    "gopher_enough_stop_words": "gopher_stop_words",
    "dup_para_frac": "gopher_repetition_duplicate_paragraphs",
    "dup_para_char_frac": "gopher_repetition_duplicate_paragraph_chars",
    "dup_line_frac": "gopher_repetition_duplicate_lines",
    "dup_line_char_frac": "gopher_repetition_duplicate_line_chars",
    **{f"top_{n}_gram": f"gopher_repetition_top_{n}gram" for n in (2, 3, 4)},
    **{
        f"duplicated_{n}_n_grams": f"gopher_repetition_duplicate_{n}gram"
        for n in range(5, 11)
    },
    "lorem_ipsum": "c4_lorem_ipsum",
    "curly_bracket": "c4_curly_brace",
    "too_few_sentences": "c4_too_few_sentences",
    "line_punct_ratio": "fineweb_punctuation_lines",
    "short_line_ratio": "fineweb_short_lines",
    "char_dup_ratio": "fineweb_duplicate_line_chars",
    "list_ratio": "fineweb_newlines_per_word",
}
# datatrove's Gopher repetition and FineWeb filters both drop an empty text
# as "empty"; it keeps that name.

WORD_SPLITTING = (
    "datatrove splits words with spaCy's English tokenizer and keeps its "
    "punctuation tokens ('=', '(', '.') as words, while a path, a URL or "
    "'e.g.' stays one token; INDW's words are runs of word characters and "
    "combining marks, so punctuation is never a word and 'kernel.org' is "
    "two words"
)
LINE_SPLITTING = (
    "datatrove divides by every line of str.splitlines(), blank lines "
    "included, and str.splitlines() also breaks at \\r, \\v, \\f, \\x1c-\\x1e, "
    "\\x85, \\u2028 and \\u2029; INDW splits on \\n only and divides by the "
    "non-blank lines"
)
# The cause of disagreement on each rule and its explanation, by INDW's
# reason name. A rule missing here has the same definition on both sides, so
# it differs only when its input differs.
CAUSES = {
    "gopher_word_count": ("word splitting", WORD_SPLITTING),
    "gopher_mean_word_length": ("word splitting", WORD_SPLITTING),
    "gopher_hash_ratio": ("word splitting", WORD_SPLITTING),
    "gopher_ellipsis_ratio": ("word splitting", WORD_SPLITTING),
    "gopher_alpha_words": (
        "word splitting",
        "datatrove's share of words with a letter counts every spaCy token, "
        "so each punctuation token lowers it; INDW's words hold no "
        "punctuation and only runs of digits or underscores lack a letter",
    ),
    "gopher_stop_words": (
        "word splitting",
        "both look for the stop words among their words, but spaCy splits "
        "'haven't' into 'have' and 'n't' and INDW into 'haven' and 't', so "
        "only datatrove finds 'have' there",
    ),
    "gopher_bullet_lines": (
        "line splitting",
        LINE_SPLITTING + "; INDW also counts lines starting with "
        "●, ◦, ‣ or * as bullets, datatrove only • and -",
    ),
    "gopher_ellipsis_lines": ("line splitting", LINE_SPLITTING),
    **{
        f"gopher_repetition_top_{n}gram": (
            "definition",
            "datatrove measures the top n-gram as its spaCy tokens joined by "
            "spaces, times its count, over len(text) with whitespace and "
            "punctuation, and takes the first n-gram even when none repeats; "
            "INDW counts word characters only, in the n-gram and in the whole, "
            "and its share is 0 when no n-gram repeats",
        )
        for n in (2, 3, 4)
    },
    **{
        f"gopher_repetition_duplicate_{n}gram": (
            "definition",
            "INDW counts every word covered by an n-gram that occurs more than "
            "once, first occurrence included; datatrove counts only later "
            "occurrences, skips n words after each "
            "and divides by len(text), so a passage repeated once weighs about "
            "half as much",
        )
        for n in range(5, 11)
    },
    "c4_too_few_sentences": (
        "sentence splitting",
        "datatrove counts the sentences of each kept line with spaCy's "
        "rule-based sentencizer; INDW counts runs of . ! ? followed by "
        "whitespace or the line end, at least one per kept line",
    ),
    "c4_curly_brace": ("line splitting", LINE_SPLITTING),
    "c4_kept_lines": (
        "definition",
        "after cutting a citation mark such as [3] out of a line, INDW strips "
        "the line again and datatrove does not, so datatrove keeps a leading "
        "space, or removes a line that now ends in a space for lacking "
        "terminal punctuation",
    ),
    "c4_lorem_ipsum": ("line splitting", LINE_SPLITTING),
    "fineweb_punctuation_lines": (
        "definition",
        "datatrove's terminal punctuation is Unicode's whole Sentence_Terminal "
        "set; INDW's is the marks of common scripts",
    ),
    "fineweb_newlines_per_word": ("word splitting", WORD_SPLITTING),
}

# How many of the most frequent pairs of different drop reasons get an
# example in the report.
DIFFERENT_RULE_EXAMPLES = 5
# Characters of an example's text shown in the report.
EXAMPLE_CHARS = 400


def setup_datatrove(venv: Path) -> None:
    """Create the datatrove virtual environment and install into it."""
    if not (venv / "bin" / "python").exists():
        LOG.info("creating %s", venv)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    LOG.info("installing %s", " ".join(DATATROVE_REQUIREMENTS))
    subprocess.run([*pip, *DATATROVE_REQUIREMENTS], check=True)


def ensure_corpus(corpus: Path) -> None:
    """Build the benchmark corpus into ``corpus`` unless it has shards."""
    if corpus.is_dir() and list(corpus.glob("*.jsonl.zst")):
        return
    LOG.info("building the benchmark corpus into %s", corpus)
    command = [
        sys.executable,
        str(ROOT / "scripts" / "build_corpus.py"),
        "--bench",
        str(corpus),
    ]
    subprocess.run(command, check=True)


def make_slice(corpus: Path, limit_mb: float, folder: Path) -> Path:
    """Write the first documents of every shard, ``limit_mb`` MB of text in all.

    Every shard gives an equal share, so each worker still gets half the
    shards. A slice already on disk for the same corpus and size is reused.
    """
    target = folder / f"slice-{limit_mb:g}mb"
    marker = target / "SLICE.json"
    stamp = {"corpus": str(corpus), "limit_mb": limit_mb}
    if marker.exists() and json.loads(marker.read_text()) == stamp:
        return target
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)

    shards = list_shards(corpus)
    share = limit_mb * MB / len(shards)
    for shard in shards:
        taken = 0
        compressor = zstandard.ZstdCompressor(level=3)
        with open(target / shard.name, "wb") as raw:
            with compressor.stream_writer(raw) as writer:
                for _, line in iter_lines(shard):
                    if taken >= share:
                        break
                    record = json.loads(line)
                    taken += len(record["text"].encode("utf-8"))
                    writer.write(line + b"\n")
    marker.write_text(json.dumps(stamp))
    return target


def measure_corpus(shards: list[Path]) -> dict:
    """Count documents and UTF-8 bytes of text; map each id to its place."""
    documents = 0
    text_bytes = 0
    order = {}
    for shard_index, shard in enumerate(shards):
        for line_number, line in iter_lines(shard):
            record = parse_record(line)
            if isinstance(record, Rejection):
                continue
            documents += 1
            text_bytes += len(record["text"].encode("utf-8"))
            doc_id = str(record.get("id"))
            if doc_id in order:
                raise SystemExit(
                    f"id {doc_id!r} occurs twice ({shards[order[doc_id][0]]} and "
                    f"{shard}:{line_number}); the comparison matches documents "
                    "by id, so every document needs a unique 'id'"
                )
            order[doc_id] = (shard_index, line_number)
    return {"documents": documents, "text_bytes": text_bytes, "order": order}


def comparison_settings(config_path: Path) -> dict:
    """Return the gate settings both sides run: the config's, all switched on.

    The ``gates`` section of an INDW config file goes through
    ``GateConfig.from_mapping``, so every threshold the file leaves out takes
    INDW's default, and the order becomes ``comparison_order``.
    """
    from indw.gates import GateConfig

    config = yaml.safe_load(config_path.read_text())
    mapping = dict(config.get("gates") or {})
    mapping["enabled"] = True
    settings = GateConfig.from_mapping(mapping).to_dict()
    settings["order"] = comparison_order(settings["order"])
    return settings


# ---------------------------------------------------------------- INDW side


def text_digest(text: str) -> str:
    """Return a short digest of ``text``, the same as the datatrove side's."""
    import hashlib

    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def indw_task(rank: int, world: int, shards: list[str], output: str, gates) -> None:
    """Apply INDW's gates to this rank's shards; write kept and dropped ids."""
    cpu_start = time.process_time()
    from indw.gates import GateConfig, apply_gates

    config = GateConfig.from_mapping(gates)
    folder = Path(output)
    kept_path = folder / f"kept-{rank:05d}.tsv"
    dropped_path = folder / f"dropped-{rank:05d}.tsv"
    with (
        open(kept_path, "w", encoding="utf-8") as kept,
        open(dropped_path, "w", encoding="utf-8") as dropped,
    ):
        for shard in shards[rank::world]:
            for _, line in iter_lines(shard):
                record = parse_record(line)
                if isinstance(record, Rejection):
                    continue
                text, reason = apply_gates(record["text"], config)
                if reason is None:
                    kept.write(f"{record['id']}\t{text_digest(text)}\n")
                else:
                    dropped.write(f"{record['id']}\t{reason}\n")
    cpu_path = folder / f"cpu-{rank:05d}.json"
    used = time.process_time() - cpu_start
    cpu_path.write_text(json.dumps({"cpu_seconds": used}))


def run_indw(shards: list[Path], output: Path, workers: int, gates: dict) -> float:
    """Run INDW's gates with ``workers`` processes; return the wall seconds."""
    output.mkdir(parents=True, exist_ok=True)
    names = [str(shard) for shard in shards]
    context = multiprocessing.get_context("forkserver")

    started = time.perf_counter()
    processes = [
        context.Process(
            target=indw_task, args=(rank, workers, names, str(output), gates)
        )
        for rank in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    seconds = time.perf_counter() - started

    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"an INDW worker exited with status {failed[0]}")
    return seconds


# ----------------------------------------------------------- datatrove side


def run_datatrove(
    venv: Path, corpus: Path, output: Path, workers: int, filters: list
) -> dict:
    """Run datatrove's filters in its own environment.

    Returns the wall seconds of the run and the versions of datatrove and
    spaCy that ran it.
    """
    python = venv / "bin" / "python"
    if not python.exists():
        raise SystemExit(
            f"{python} does not exist; create it with "
            "`python benchmarks/bench_gates_datatrove.py --setup`"
        )
    plan = {
        "input_dir": str(corpus),
        "output_dir": str(output),
        "workers": workers,
        "filters": filters,
    }
    log_path = output.parent / "datatrove.log"
    output.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        result = subprocess.run(
            [str(python), str(DATATROVE_SIDE)],
            input=json.dumps(plan),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    if result.returncode != 0:
        raise RuntimeError(
            f"datatrove exited with status {result.returncode}; see {log_path}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ report


def read_outcomes(folder: Path) -> dict[str, tuple[bool, str]]:
    """Map each id to (kept, digest) or (dropped, reason) from a side's files."""
    outcomes = {}
    for path in sorted(folder.glob("kept-*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            doc_id, digest = line.rsplit("\t", 1)
            outcomes[doc_id] = (True, digest)
    for path in sorted(folder.glob("dropped-*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            doc_id, reason = line.rsplit("\t", 1)
            outcomes[doc_id] = (False, reason)
    return outcomes


def indw_rule(datatrove_reason: str) -> str:
    """Name a datatrove drop reason by INDW's reason for the same rule."""
    return DATATROVE_TO_INDW.get(datatrove_reason, datatrove_reason)


def compare(indw: dict, datatrove: dict, order: dict) -> dict:
    """Count agreement of the two sides' outcomes, overall and per rule."""
    totals = Counter()
    rules: dict[str, Counter] = {}
    cases: dict[tuple, list[str]] = {}

    def note(kind: tuple, doc_id: str) -> None:
        cases.setdefault(kind, []).append(doc_id)

    for doc_id in sorted(order, key=order.get):
        indw_kept, indw_value = indw[doc_id]
        # datatrove's reader skips a document whose text is empty, so it
        # appears in neither of datatrove's files.
        dt_kept, dt_value = datatrove.get(doc_id, (False, "skipped_empty_text"))
        if indw_kept and dt_kept:
            totals["both_keep"] += 1
            if indw_value == dt_value:
                totals["both_keep_same_text"] += 1
            else:
                note(("both_keep_text_differs",), doc_id)
            continue
        dt_rule = None if dt_kept else indw_rule(dt_value)
        if not indw_kept:
            rules.setdefault(indw_value, Counter())["indw_drops"] += 1
        if not dt_kept:
            rules.setdefault(dt_rule, Counter())["datatrove_drops"] += 1
        if not indw_kept and not dt_kept:
            totals["both_drop"] += 1
            if indw_value == dt_rule:
                totals["both_drop_same_rule"] += 1
                rules[dt_rule]["both_drop_for_it"] += 1
            else:
                rules[indw_value]["indw_drops_datatrove_names_another"] += 1
                rules[dt_rule]["datatrove_drops_indw_names_another"] += 1
                note(("different_rule", indw_value, dt_value), doc_id)
        elif not indw_kept:
            totals["only_indw_drops"] += 1
            rules[indw_value]["only_indw_drops"] += 1
            note(("only_indw_drops", indw_value), doc_id)
        else:
            totals["only_datatrove_drops"] += 1
            rules[dt_rule]["only_datatrove_drops"] += 1
            note(("only_datatrove_drops", dt_value), doc_id)

    documents = len(order)
    agreeing = totals["both_keep"] + totals["both_drop"]
    totals["documents"] = documents
    per_rule = [
        {"rule": rule, **{key: counts[key] for key in RULE_COLUMNS}}
        for rule, counts in sorted(
            rules.items(),
            key=lambda item: -max(item[1]["indw_drops"], item[1]["datatrove_drops"]),
        )
    ]
    return {
        "totals": dict(totals),
        "kept_set_agreement": round(agreeing / documents, 4) if documents else None,
        "per_rule": per_rule,
        "cases": cases,
    }


RULE_COLUMNS = (
    "datatrove_drops",
    "indw_drops",
    "both_drop_for_it",
    "only_datatrove_drops",
    "only_indw_drops",
    "datatrove_drops_indw_names_another",
    "indw_drops_datatrove_names_another",
)


def read_texts(shards: list[Path], wanted: set[str]) -> dict[str, str]:
    """Return the input text of each id in ``wanted``."""
    texts = {}
    for shard in shards:
        for _, line in iter_lines(shard):
            record = parse_record(line)
            if isinstance(record, Rejection):
                continue
            if str(record["id"]) in wanted:
                texts[str(record["id"])] = record["text"]
    return texts


def rule_position(rule: str, order: list[str]) -> tuple[int, int]:
    """Return where ``rule`` is checked: its family's place, then its own."""
    from indw import gates

    for family_index, family in enumerate(order):
        reasons = getattr(gates, family).REASONS
        if rule in reasons:
            return family_index, reasons.index(rule)
    return -1, 0


def cause_rule(kind: tuple, order: list[str]) -> str:
    """Return the INDW rule whose difference explains a case.

    Where both sides drop a document for different rules, the rule checked
    first failed on one side only, so that rule is the cause.
    """
    if kind[0] == "only_indw_drops":
        return kind[1]
    if kind[0] == "only_datatrove_drops":
        return indw_rule(kind[1])
    if kind[0] == "different_rule":
        rules = (kind[1], indw_rule(kind[2]))
        return min(rules, key=lambda rule: rule_position(rule, order))
    return "c4_kept_lines"


def differences_by_cause(cases: dict, order: list[str]) -> dict:
    """Count the documents of each kind of difference, by cause."""
    counts: Counter = Counter()
    for kind, ids in cases.items():
        rule = cause_rule(kind, order)
        counts[CAUSES.get(rule, ("same definition",))[0]] += len(ids)
    return dict(counts.most_common())


def pick_examples(
    cases: dict, order: list[str], different_rule_pairs: int
) -> list[tuple[tuple, str]]:
    """Take the first document, in corpus order, of each kind of difference.

    Every case where only one side drops is shown, and of the pairs of
    different reasons the most frequent ones, plus the most frequent pair of
    each cause that has no example yet.
    """
    ordered = sorted(cases.items(), key=lambda item: -len(item[1]))
    picked = [(kind, ids[0]) for kind, ids in ordered if kind[0] != "different_rule"]
    pairs = [(kind, ids[0]) for kind, ids in ordered if kind[0] == "different_rule"]
    picked += pairs[:different_rule_pairs]

    def cause(kind: tuple) -> str:
        return CAUSES.get(cause_rule(kind, order), ("same definition",))[0]

    shown = {cause(kind) for kind, _ in picked}
    for kind, doc_id in pairs[different_rule_pairs:]:
        if cause(kind) not in shown:
            shown.add(cause(kind))
            picked.append((kind, doc_id))
    return picked


SAME_DEFINITION = (
    "both sides define this rule the same way, so it differs only where the "
    "text it sees differs"
)


def explain_examples(
    examples: list, shards: list[Path], filters: list, gates: dict, venv: Path
) -> list[dict]:
    """Describe each example: both verdicts and datatrove's own measurements."""
    from indw.gates import GateConfig, apply_gates

    if not examples:
        return []
    texts = read_texts(shards, {doc_id for _, doc_id in examples})
    plan = {"filters": filters, "texts": [texts[doc_id] for _, doc_id in examples]}
    result = subprocess.run(
        [str(venv / "bin" / "python"), str(DATATROVE_SIDE)],
        input=json.dumps(plan),
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    config = GateConfig.from_mapping(gates)
    described = []
    for (kind, doc_id), answer in zip(examples, answers, strict=True):
        text = texts[doc_id]
        indw_text, indw_reason = apply_gates(text, config)
        rule = cause_rule(kind, gates["order"])
        cause, why = CAUSES.get(rule, ("same definition", SAME_DEFINITION))
        entry = {
            "kind": list(kind),
            "id": doc_id,
            "cause_rule": rule,
            "cause": cause,
            "why": why,
            "indw_reason": indw_reason,
            "datatrove_verdicts": answer["verdicts"],
            "text_chars": len(text),
            "text_start": text[:EXAMPLE_CHARS],
        }
        if indw_reason is None and answer["verdicts"].get("c4", "") is None:
            entry["indw_text_after_gates"] = indw_text[:EXAMPLE_CHARS]
            entry["datatrove_text_after_filters"] = answer["text_after_filters"][
                :EXAMPLE_CHARS
            ]
        dt_measures = answer["gopher_stats_of_input"]
        dt_words = dt_measures.pop("all_words")
        measures = indw_measures(text, config)
        indw_words = measures.pop("all_words")
        entry["words_only_datatrove_has"] = top_extra(dt_words, indw_words)
        entry["words_only_indw_has"] = top_extra(indw_words, dt_words)
        dt_lines = answer["c4_kept_lines"]
        indw_lines = measures.pop("c4_kept_lines")
        dt_measures["c4_sentences"] = sum(count for _, count in dt_lines)
        entry["c4_lines_that_differ"] = lines_that_differ(indw_lines, dt_lines)
        entry["datatrove_measures"] = dt_measures
        entry["indw_measures"] = measures
        described.append(entry)
    return described


def top_extra(words: list[str], others: list[str], limit: int = 10) -> list:
    """Return the most frequent words of ``words`` missing from ``others``."""
    extra = Counter(words) - Counter(others)
    return [[word, count] for word, count in extra.most_common(limit)]


def lines_that_differ(indw: list, datatrove: list, limit: int = 6) -> list:
    """Return C4's kept lines that one side keeps or counts differently."""
    indw_counts = dict(map(tuple, indw))
    dt_counts = dict(map(tuple, datatrove))
    lines = list(dict.fromkeys([line for line, _ in indw + datatrove]))
    differ = [
        {
            "line": line[:200],
            "indw_sentences": indw_counts.get(line),
            "datatrove_sentences": dt_counts.get(line),
        }
        for line in lines
        if indw_counts.get(line) != dt_counts.get(line)
    ]
    return differ[:limit]


def indw_measures(text: str, config) -> dict:
    """Measure ``text`` with the words, lines and sentences INDW's gates use."""
    from dataclasses import replace

    from indw.gates import c4
    from indw.gates.text import DocumentText

    doc = DocumentText(text)
    words = doc.words
    measures = {
        "words": len(words),
        "all_words": words,
        "mean_word_length": sum(map(len, words)) / len(words) if words else 0,
        "lines_split_on_newline": len(doc.lines),
        "nonblank_lines": len(doc.nonblank_lines),
    }
    measures.update(ngram_shares(words))
    kept, _ = c4.check(doc, replace(config.c4, min_sentences=None))
    lines = kept.split("\n") if kept else []
    measures["c4_kept_lines"] = [[line, c4.count_sentences(line)] for line in lines]
    measures["c4_sentences"] = sum(count for _, count in measures["c4_kept_lines"])
    return measures


def ngram_shares(words: list[str]) -> dict:
    """Measure the Gopher n-gram shares as INDW's gates define them.

    This is a plain restatement of the definitions in
    ``indw.gates.gopher_repetition``, for the report: shares of the word
    characters, top n-gram by count times its characters (0 when no n-gram
    repeats), duplicated n-grams by every word they cover, first occurrence
    included.
    """
    total = sum(map(len, words))
    shares = {}
    if not total:
        return shares
    for n in range(2, 11):
        grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        if not grams:
            break
        counts = Counter(grams)
        if n <= 4:
            most = max(counts.values())
            top = next(gram for gram in grams if counts[gram] == most)
            chars = most * sum(map(len, top)) if most > 1 else 0
            shares[f"top_{n}gram_share"] = chars / total
            continue
        covered = set()
        for start, gram in enumerate(grams):
            if counts[gram] > 1:
                covered.update(range(start, start + n))
        chars = sum(len(words[i]) for i in covered)
        shares[f"duplicate_{n}gram_share"] = chars / total
    return shares


def cpu_seconds(folder: Path) -> float:
    """Add up the CPU seconds that each worker of a side recorded."""
    paths = sorted(folder.glob("cpu-*.json"))
    return sum(json.loads(path.read_text())["cpu_seconds"] for path in paths)


def throughput(seconds: float, corpus: dict) -> dict:
    return {
        "seconds": round(seconds, 2),
        "documents_per_second": round(corpus["documents"] / seconds, 1),
        "mb_per_second": round(corpus["text_bytes"] / MB / seconds, 3),
    }


def comparison_order(order: list[str]) -> list[str]:
    """Return INDW's family order with C4 moved last.

    datatrove's C4 filter rewrites the text that the filters after it see,
    while every INDW family sees the input text. With C4 last both sides
    check the same text with every family, and both record reasons in the
    same order.
    """
    return [name for name in order if name != "c4"] + ["c4"] * ("c4" in order)


def datatrove_filters(settings: dict) -> list:
    """Return datatrove's filters with INDW's thresholds, in comparison order.

    ``settings`` is ``GateConfig.to_dict()``. A threshold of None switches a
    rule off in INDW; datatrove switches most rules off with a falsy value
    and the rest with a bound no document reaches.
    """
    never = 1e18
    filters = []
    for name in settings["order"]:
        family = settings[name]
        if not family["enabled"]:
            continue
        if name == "gopher_repetition":
            kwargs = {
                "dup_para_frac": family["max_duplicate_paragraphs"],
                "dup_para_char_frac": family["max_duplicate_paragraph_chars"],
                "dup_line_frac": family["max_duplicate_lines"],
                "dup_line_char_frac": family["max_duplicate_line_chars"],
                "top_n_grams": [
                    [n, family[f"max_top_{n}gram_chars"]]
                    for n in (2, 3, 4)
                    if family[f"max_top_{n}gram_chars"] is not None
                ],
                "dup_n_grams": [
                    [n, family[f"max_duplicate_{n}gram_chars"]]
                    for n in range(5, 11)
                    if family[f"max_duplicate_{n}gram_chars"] is not None
                ],
            }
        elif name == "gopher_quality":
            if family["max_hash_ratio"] != family["max_ellipsis_ratio"]:
                raise SystemExit(
                    "datatrove has one threshold for both the hash and the "
                    "ellipsis ratio; set gates.gopher_quality.max_hash_ratio "
                    "and max_ellipsis_ratio to the same value to compare"
                )
            kwargs = {
                "min_doc_words": family["min_words"],
                "max_doc_words": family["max_words"],
                "min_avg_word_length": family["min_mean_word_length"],
                "max_avg_word_length": family["max_mean_word_length"],
                "max_symbol_word_ratio": family["max_hash_ratio"],
                "max_bullet_lines_ratio": family["max_bullet_lines"],
                "max_ellipsis_lines_ratio": family["max_ellipsis_lines"],
                "max_non_alpha_words_ratio": family["min_alpha_words"],
                "min_stop_words": family["min_stop_words"],
                "stop_words": list(family["stop_words"]),
            }
        elif name == "c4":
            off = -1
            kwargs = {
                "split_paragraph": True,
                "remove_citations": family["remove_citations"],
                "filter_no_terminal_punct": family["require_terminal_punctuation"],
                "min_num_sentences": family["min_sentences"] or off,
                "min_words_per_line": family["min_words_per_line"] or off,
                "max_word_length": family["max_word_length"] or off,
                "filter_lorem_ipsum": family["drop_lorem_ipsum"],
                "filter_javascript": family["remove_javascript_lines"],
                "filter_curly_bracket": family["drop_curly_brace"],
                "filter_policy": family["remove_policy_lines"],
            }
        else:
            kwargs = {
                "line_punct_thr": family["min_punctuation_lines"] or 0,
                "short_line_thr": _or(family["max_short_lines"], never),
                "short_line_length": family["short_line_length"],
                "char_duplicates_ratio": _or(family["max_duplicate_line_chars"], never),
                "new_line_ratio": _or(family["max_newlines_per_word"], never),
            }
        filters.append([name, kwargs])
    return filters


def _or(value, default):
    return default if value is None else value


def with_load(measure):
    """Call ``measure`` and add the 1-minute load average before and after."""
    before = os.getloadavg()[0]
    figures = measure()
    figures["load_average_1min"] = [round(before, 2), round(os.getloadavg()[0], 2)]
    return figures


def time_datatrove(
    corpus_dir: Path, work: Path, workers: int, filters: list, corpus: dict
) -> dict:
    """Run datatrove once into WORK/datatrove and return its figures."""
    folder = work / "datatrove"
    shutil.rmtree(folder, ignore_errors=True)
    LOG.info("running datatrove with %d workers", workers)

    def measure() -> dict:
        outcome = run_datatrove(DATATROVE_VENV, corpus_dir, folder, workers, filters)
        figures = throughput(outcome["seconds"], corpus)
        figures["versions"] = outcome["versions"]
        figures["worker_cpu_seconds"] = round(cpu_seconds(folder), 2)
        return figures

    figures = with_load(measure)
    LOG.info("datatrove: %s", figures)
    return figures


def time_indw(
    shards: list[Path], work: Path, workers: int, gates: dict, corpus: dict
) -> dict:
    """Run INDW's gates once into a new WORK/indw-N folder; return its figures."""
    number = len(list(work.glob("indw-*"))) + 1
    folder = work / f"indw-{number}"
    LOG.info("running INDW with %d workers (run %d)", workers, number)

    def measure() -> dict:
        seconds = run_indw(shards, folder, workers, gates)
        figures = throughput(seconds, corpus)
        figures["worker_cpu_seconds"] = round(cpu_seconds(folder), 2)
        return figures

    figures = with_load(measure)
    figures["folder"] = folder.name
    LOG.info("INDW: %s", figures)
    return figures


def summarize_indw_runs(runs: list[dict], work: Path, corpus: dict) -> dict:
    """Return the figures of the run with the median time, all runs listed.

    Every run must give the same outcome for every document; the median
    run's folder becomes WORK/indw for the comparison.
    """
    first = read_outcomes(work / runs[0]["folder"])
    for run in runs[1:]:
        if read_outcomes(work / run["folder"]) != first:
            raise RuntimeError(
                f"INDW runs {runs[0]['folder']} and {run['folder']} kept or "
                "dropped different documents; the gates are not deterministic"
            )
    median = sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]
    shutil.rmtree(work / "indw", ignore_errors=True)
    (work / median["folder"]).rename(work / "indw")
    for run in runs:
        shutil.rmtree(work / run["folder"], ignore_errors=True)
    figures = throughput(median["seconds"], corpus)
    figures["worker_cpu_seconds"] = median["worker_cpu_seconds"]
    figures["load_average_1min"] = median["load_average_1min"]
    figures["runs"] = [
        {
            key: run[key]
            for key in ("seconds", "worker_cpu_seconds", "load_average_1min")
        }
        for run in runs
    ]
    return figures


def run(args: argparse.Namespace) -> int:
    corpus_dir = args.corpus.resolve()
    ensure_corpus(corpus_dir)
    if args.limit_mb:
        corpus_dir = make_slice(corpus_dir, args.limit_mb, args.work.resolve())
    shards = list_shards(corpus_dir)
    corpus = measure_corpus(shards)
    LOG.info(
        "corpus %s: %d shards, %d documents, %.1f MB of text",
        corpus_dir,
        len(shards),
        corpus["documents"],
        corpus["text_bytes"] / MB,
    )
    gates = comparison_settings(args.config)
    filters = datatrove_filters(gates)

    work = args.work.resolve()
    for stale in work.glob("indw-*"):
        shutil.rmtree(stale)
    results = {}
    indw_runs = []
    indw_before = args.indw_runs // 2 if args.side == "both" else 0
    if args.side in ("both", "indw"):
        for _ in range(indw_before):
            indw_runs.append(time_indw(shards, work, args.workers, gates, corpus))
    if args.side in ("both", "datatrove"):
        results["datatrove"] = time_datatrove(
            corpus_dir, work, args.workers, filters, corpus
        )
    if args.side in ("both", "indw"):
        for _ in range(args.indw_runs - indw_before):
            indw_runs.append(time_indw(shards, work, args.workers, gates, corpus))
        results["indw"] = summarize_indw_runs(indw_runs, work, corpus)
    if args.side != "both":
        return 0

    ratio = (
        results["indw"]["documents_per_second"]
        / results["datatrove"]["documents_per_second"]
    )
    cpu_ratio = (
        results["datatrove"]["worker_cpu_seconds"]
        / results["indw"]["worker_cpu_seconds"]
    )
    agreement = compare(
        read_outcomes(work / "indw"), read_outcomes(work / "datatrove"), corpus["order"]
    )
    cases = agreement.pop("cases")
    agreement["differences_by_cause"] = differences_by_cause(cases, gates["order"])
    examples = pick_examples(cases, gates["order"], DIFFERENT_RULE_EXAMPLES)
    report = {
        "command": " ".join([display_path(Path(sys.executable)), *sys.argv]),
        "machine": machine(),
        "corpus": {
            "folder": str(corpus_dir),
            "shards": len(shards),
            "documents": corpus["documents"],
            "text_mb": round(corpus["text_bytes"] / MB, 1),
        },
        "workers": args.workers,
        "indw_commit": git_commit(),
        "gates": gates,
        "datatrove_filters": filters,
        "datatrove": results["datatrove"],
        "indw": results["indw"],
        "ratio": round(ratio, 2),
        "cpu_ratio": round(cpu_ratio, 2),
        "agreement": agreement,
        "examples": explain_examples(examples, shards, filters, gates, DATATROVE_VENV),
    }
    report_path = args.report or work / "report.json"
    report_path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    markdown_path = report_path.with_suffix(".md")
    markdown_path.write_text(markdown_report(report))
    print_report(report)
    print(f"report written to {report_path} and {markdown_path}")
    return 0


def git_commit() -> str | None:
    """Return the commit of the checkout this script runs from, if any."""
    result = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    )
    return result.stdout.strip() or None


def display_path(path: Path) -> str:
    """Return ``path`` relative to the repository when it is inside it."""
    try:
        return str(path.absolute().relative_to(ROOT))
    except ValueError:
        return str(path)


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "system": platform.platform(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def print_report(report: dict) -> None:
    corpus = report["corpus"]
    print()
    print(
        f"corpus: {corpus['documents']} documents, {corpus['text_mb']} MB of text, "
        f"{corpus['shards']} shards; {report['workers']} workers each side"
    )
    print(
        f"{'side':<10} {'seconds':>9} {'docs/s':>10} {'MB/s':>8}"
        "   load average (1 min) before, after"
    )
    for side in ("datatrove", "indw"):
        row = report[side]
        print(
            f"{side:<10} {row['seconds']:>9} {row['documents_per_second']:>10} "
            f"{row['mb_per_second']:>8}   {row['load_average_1min']}"
        )
    for number, run in enumerate(report["indw"]["runs"], 1):
        print(
            f"  INDW run {number}: {run['seconds']} s, {run['worker_cpu_seconds']} "
            f"CPU s, load {run['load_average_1min']}"
        )
    print(f"ratio INDW / datatrove (documents per second): {report['ratio']}")
    print(
        "ratio of the workers' CPU seconds, datatrove / INDW: "
        f"{report['cpu_ratio']} (less affected by other load on the machine)"
    )

    totals = report["agreement"]["totals"]
    print()
    print(f"kept-set agreement: {report['agreement']['kept_set_agreement']}")
    for key in (
        "both_keep",
        "both_keep_same_text",
        "both_drop",
        "both_drop_same_rule",
        "only_indw_drops",
        "only_datatrove_drops",
    ):
        print(f"  {key:<22} {totals.get(key, 0):>8}")
    print()
    print()
    print("per rule, by INDW's reason name (dt = datatrove):")
    header = ["dt", "indw", "both", "dt only", "indw only", "dt:other", "indw:other"]
    print(f"{'rule':<44}" + "".join(f"{h:>11}" for h in header))
    for row in report["agreement"]["per_rule"]:
        cells = "".join(f"{row[key]:>11}" for key in RULE_COLUMNS)
        print(f"{row['rule']:<44}{cells}")
    print("  dt only / indw only: the other side keeps the document;")
    print("  dt:other / indw:other: the other side drops it for another rule")

    print()
    print("documents that differ, by cause:")
    for cause, count in report["agreement"]["differences_by_cause"].items():
        print(f"  {cause:<22} {count:>8}")

    for example in report["examples"]:
        print_example(example)


def markdown_report(report: dict) -> str:
    """Return the report's figures as Markdown tables for RESULTS.md."""
    corpus = report["corpus"]
    machine = report["machine"]
    lines = [
        f"Command: `{report['command']}`",
        "",
        f"Machine: {machine['cpus']} CPUs ({machine['processor']}), "
        f"{machine['system']}, Python {machine['python']}.",
        "",
        f"INDW commit {report['indw_commit']}; datatrove "
        f"{report['datatrove']['versions']['datatrove']}, spaCy "
        f"{report['datatrove']['versions']['spacy']}.",
        "",
        f"Corpus: {corpus['documents']} documents, {corpus['text_mb']} MB of "
        f"text in {corpus['shards']} zstd shards; {report['workers']} workers "
        "on each side.",
        "",
        "| side | seconds | documents/s | MB/s | workers' CPU seconds "
        "| load average before, after |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for side in ("datatrove", "indw"):
        row = report[side]
        lines.append(
            f"| {side} | {row['seconds']} | {row['documents_per_second']} | "
            f"{row['mb_per_second']} | {row['worker_cpu_seconds']} "
            f"| {row['load_average_1min']} |"
        )
    lines += [
        "",
        f"INDW ran {len(report['indw']['runs'])} times, the first before "
        "datatrove; the row above is the run with the median time. All runs: "
        + "; ".join(
            f"{run['seconds']} s, {run['worker_cpu_seconds']} CPU s, load "
            f"{run['load_average_1min']}"
            for run in report["indw"]["runs"]
        )
        + ".",
        "",
        f"Ratio INDW / datatrove, documents per second: **{report['ratio']}**",
        "",
        f"Ratio of the workers' CPU seconds, datatrove / INDW: {report['cpu_ratio']}",
        "",
        "| outcome | documents |",
        "|---|---:|",
    ]
    for key, value in report["agreement"]["totals"].items():
        lines.append(f"| {key} | {value} |")
    lines += [
        "",
        f"Kept-set agreement: {report['agreement']['kept_set_agreement']}",
        "",
        "| rule | dt | INDW | both | dt only | INDW only | dt: other | INDW: other |",
        "|---|" + "---:|" * len(RULE_COLUMNS),
    ]
    for row in report["agreement"]["per_rule"]:
        cells = " | ".join(str(row[key]) for key in RULE_COLUMNS)
        lines.append(f"| {row['rule']} | {cells} |")
    lines += ["", "| cause | documents that differ |", "|---|---:|"]
    for cause, count in report["agreement"]["differences_by_cause"].items():
        lines.append(f"| {cause} | {count} |")
    lines.append("")
    return "\n".join(lines)


def print_example(example: dict) -> None:
    dt_reasons = [r for r in example["datatrove_verdicts"].values() if r]
    dt = dt_reasons[0] if dt_reasons else "kept"
    indw = example["indw_reason"] or "kept"
    dt_measures = example["datatrove_measures"]
    indw_measures = example["indw_measures"]
    print()
    print(f"{' '.join(example['kind'])}: {example['id']}")
    print(f"  INDW: {indw}; datatrove: {dt}")
    print(f"  cause: {example['cause']} in {example['cause_rule']}")
    print(f"  why: {example['why']}")
    if example["cause"] == "word splitting":
        print(
            f"  words: INDW {indw_measures['words']}, datatrove "
            f"{dt_measures['words_with_a_non_punctuation_character']} "
            f"({dt_measures['words']} tokens with punctuation)"
        )
        print(f"  only datatrove's: {example['words_only_datatrove_has'][:6]}")
        print(f"  only INDW's: {example['words_only_indw_has'][:6]}")
    elif example["cause"] == "line splitting":
        print(
            f"  lines: INDW {indw_measures['nonblank_lines']} non-blank of "
            f"{indw_measures['lines_split_on_newline']}; datatrove "
            f"{dt_measures['lines_by_splitlines']} by str.splitlines()"
        )
    elif example["cause_rule"] == "c4_kept_lines":
        for line in example["c4_lines_that_differ"][:3]:
            kept = [
                side
                for side in ("indw", "datatrove")
                if line[f"{side}_sentences"] is not None
            ]
            print(f"    kept by {' and '.join(kept)}: {line['line'][:100]!r}")
    elif example["cause"] == "sentence splitting":
        print(
            f"  C4 sentences: INDW {indw_measures['c4_sentences']}, "
            f"datatrove {dt_measures['c4_sentences']}"
        )
        for line in example["c4_lines_that_differ"][:3]:
            print(
                f"    INDW {line['indw_sentences']}, datatrove "
                f"{line['datatrove_sentences']}: {line['line'][:100]!r}"
            )
    else:
        shares = {
            key: round(value, 3)
            for key, value in dt_measures.items()
            if key.endswith("_share") and "gram" in key
        }
        print(f"  datatrove's n-gram shares: {shares}")
        shares = {
            key: round(value, 3)
            for key, value in indw_measures.items()
            if key.endswith("_share")
        }
        print(f"  INDW's n-gram shares: {shares}")
    print(f"  text: {example['text_start'][:200]!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--setup",
        action="store_true",
        help=f"create {DATATROVE_VENV.relative_to(ROOT)} and install datatrove",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help="folder of *.jsonl.zst shards, built if missing (default: %(default)s)",
    )
    parser.add_argument(
        "--limit-mb",
        type=float,
        help="run on a slice of about this many MB of text, for trial runs",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="worker processes on each side (default: %(default)s)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="INDW config whose gates section is compared (default: %(default)s)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=DEFAULT_WORK,
        help="folder for both sides' outputs (default: %(default)s)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        help="JSON report path (default: WORK/report.json)",
    )
    parser.add_argument(
        "--indw-runs",
        type=int,
        default=3,
        help="times to run INDW's side, about half before datatrove and the "
        "rest after it; the median time counts (default: %(default)s)",
    )
    parser.add_argument(
        "--side",
        choices=("both", "datatrove", "indw"),
        default="both",
        help="run one side only, for trials (default: both)",
    )
    args = parser.parse_args(argv)
    if args.indw_runs < 1 or args.workers < 1:
        parser.error("--indw-runs and --workers must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    if args.setup:
        setup_datatrove(DATATROVE_VENV)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
