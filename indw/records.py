"""Parse input lines into records, or into a quarantine reason.

Quarantine reasons are stable snake_case words that users grep for:
``invalid_utf8``, ``invalid_json``, ``record_is_string``, ``record_is_array``,
``record_is_number``, ``record_is_boolean``, ``record_is_null``,
``text_missing``, ``text_null``, ``text_not_string``, ``lone_surrogate``,
``number_out_of_range``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

RECORD_TYPE_REASONS = {
    str: "record_is_string",
    list: "record_is_array",
    int: "record_is_number",
    float: "record_is_number",
    bool: "record_is_boolean",
    type(None): "record_is_null",
}


@dataclass(frozen=True)
class Rejection:
    """Why one input line cannot be a record."""

    reason: str
    detail: str


def is_blank_line(line: bytes) -> bool:
    """Return whether a line is empty or holds only whitespace characters.

    Whitespace is what ``str.isspace`` accepts, so a line of no-break spaces
    (U+00A0) or ideographic spaces (U+3000) is blank too. A line that is not
    valid UTF-8 is not blank.
    """
    stripped = line.strip()
    if not stripped:
        return True
    # A JSON value starts with an ASCII character that is not whitespace, so
    # only lines that start otherwise pay for decoding.
    if stripped[0] < 0x80 and not chr(stripped[0]).isspace():
        return False
    try:
        return stripped.decode("utf-8").isspace()
    except UnicodeDecodeError:
        return False


# The start of the ValueError that Python 3.11 and later raise for an integer
# of more digits than sys.get_int_max_str_digits() allows (4300 by default).
INT_DIGITS_ERROR = "Exceeds the limit"


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; json.loads accepts them by default, and
    # json.dumps would then write them back out as invalid JSON.
    raise ValueError(f"{name} is not valid JSON")


def parse_record(line: bytes, invalid_utf8: str = "quarantine") -> dict | Rejection:
    """Parse one non-blank input line into a record with a string ``text``."""
    try:
        decoded = line.decode("utf-8")
    except UnicodeDecodeError as error:
        if invalid_utf8 != "replace":
            return Rejection(
                "invalid_utf8",
                f"byte {error.start} of the line: {error.reason}",
            )
        decoded = line.decode("utf-8", "replace")

    try:
        record = json.loads(decoded, parse_constant=_reject_constant)
    except ValueError as error:
        if str(error).startswith(INT_DIGITS_ERROR):
            return Rejection("number_out_of_range", str(error))
        return Rejection("invalid_json", str(error))
    except RecursionError as error:
        return Rejection("invalid_json", str(error))

    if not isinstance(record, dict):
        return Rejection(RECORD_TYPE_REASONS[type(record)], "")
    if "text" not in record:
        return Rejection("text_missing", "the record has no 'text' field")
    text = record["text"]
    if text is None:
        return Rejection("text_null", "'text' is null")
    if not isinstance(text, str):
        return Rejection("text_not_string", f"'text' is a {type(text).__name__}")
    return record


def serialize_record(record: dict) -> bytes | Rejection:
    """Return the output line of a record: compact JSON in UTF-8 with a newline.

    Key order is the input's order. A lone surrogate escape such as
    ``"\\ud800"`` parses as JSON but has no UTF-8 form, so it is rejected here,
    and so is a number such as ``1e999`` that parses as an infinite float,
    which has no JSON form.
    """
    try:
        text = json.dumps(
            record, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    except ValueError as error:
        return Rejection("number_out_of_range", f"a number is infinite: {error}")
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError as error:
        return Rejection(
            "lone_surrogate", f"character {error.start} of the record: {error.reason}"
        )
