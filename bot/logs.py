"""The bot's log: plain lines by default, one JSON object per line with BOT_LOG_FORMAT=json.

Values that come from requests (a card verb, an id, a header) can hold line breaks and other
control characters; neither format lets them start a line of their own. Structured events
(`event`) carry their fields as fields: `key=value` in plain lines (values with spaces,
quotes or control characters shown as Python literals), keys of the JSON object otherwise.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any, assert_never

from bot.settings import LogFormat

Value = str | int | float | bool | None
_FIELDS = "bot_fields"
_EVENT = "bot_event"
_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(32), 127]} | {
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
}


def escape_controls(value: str) -> str:
    """`value` on one line: control characters (line breaks included) as escapes."""
    return value.translate(_CONTROLS)


def _plain(value: Value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool | int | float):
        return str(value)
    if value and value.isprintable() and not any(c in value for c in " \"'=\\"):
        return value
    return repr(value)


# A field's value from a request (an activity id, an invoke name) is cut to this: a caller must
# not be able to write 200 KB lines into the log.
FIELD_LIMIT = 200


def _capped(value: Value) -> Value:
    if isinstance(value, str) and len(value) > FIELD_LIMIT:
        return f"{value[:FIELD_LIMIT]}...(+{len(value) - FIELD_LIMIT})"
    return value


def event(logger: logging.Logger, name: str, fields: Mapping[str, Value],
          level: int = logging.INFO) -> None:  # fmt: skip
    """One structured line: `name` and its fields, each value cut to FIELD_LIMIT."""
    capped = {key: _capped(value) for key, value in fields.items()}
    text = " ".join(f"{key}={_plain(value)}" for key, value in capped.items())
    logger.log(level, "%s %s", name, text, extra={_EVENT: name, _FIELDS: capped})


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        # A trace's lines are its own; indented, none of them can pass for a record.
        return "\n".join(f"  | {line}" for line in super().formatException(ei).splitlines())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        name = getattr(record, _EVENT, None)
        if name is not None:
            entry["event"] = name
            entry.update(getattr(record, _FIELDS, {}))
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # json.dumps escapes every control character: one object, one line.
        return json.dumps(entry, default=str)


def configure(log_format: LogFormat, stream: IO[str] | None = None) -> logging.Handler:
    """Send the process's log to `stream` (stderr) in `log_format`; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    match log_format:
        case LogFormat.PLAIN:
            handler.setFormatter(PlainFormatter())
        case LogFormat.JSON:
            handler.setFormatter(JsonFormatter())
        case _:
            assert_never(log_format)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # httpx logs whole URLs at INFO; our client logs each call already, without query strings.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler
