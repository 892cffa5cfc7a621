"""What the log says about each activity, as an operator reads it: one line per activity and
per connector call, in plain lines or JSON, with nothing a request sent able to forge a line,
and no text, number or token in it."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.activity_log import short_hash
from bot.logs import configure
from bot.settings import LogFormat
from tests.conftest import fresh_number
from tests.test_bot_http import GENERAL, TENANT, Bot

# The fixtures: the bot served over HTTP against the stand-ins.
from tests.test_bot_http import bot as bot
from tests.test_bot_http import connector as connector
from tests.test_bot_http import graph as graph
from tests.test_bot_http import identity as identity
from tests.test_edge_http import card_click

LINE_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR|DEBUG) ")


@pytest.fixture
def output() -> Iterator[Callable[[LogFormat], io.StringIO]]:
    """The process's log as `python app.py` writes it, into a buffer."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level

    def start(log_format: LogFormat) -> io.StringIO:
        stream = io.StringIO()
        configure(log_format, stream)
        return stream

    yield start
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def plain_fields(line: str) -> dict[str, str]:
    return dict(re.findall(r"(\w+)=('(?:[^'\\]|\\.)*'|\S+)", line))


async def test_one_plain_line_per_activity_and_per_connector_call(
    bot: Bot, output: Callable[[LogFormat], io.StringIO]
) -> None:
    log = output(LogFormat.PLAIN)
    number = fresh_number()
    assert (await bot.post(bot.activity(f"map {number} Secret Desk"))).status_code == 201
    lines = log.getvalue().splitlines()
    activity = [line for line in lines if " bot.activity activity " in line]
    calls = [line for line in lines if " bot.adapter connector " in line]
    assert len(activity) == 1 and len(calls) == 1, lines
    fields = plain_fields(activity[0])
    assert fields["type"] == "message" and fields["status"] == "201"
    assert fields["conversation"] == short_hash(f"{GENERAL};messageid=1")
    assert fields["tenant"] == short_hash(TENANT)
    assert float(fields["bot_ms"]) > 0 and int(fields["api_calls"]) >= 1
    assert float(fields["api_ms"]) > 0 and fields["replies"] == "1"
    call = plain_fields(calls[0])
    assert (call["call"], call["status"], call["retries"]) == ("send", "200", "0")
    assert call["activity"] == "activity-1"  # the id the connector gave the reply
    assert call["in_reply_to"] == plain_fields(activity[0])["activity"]
    text = log.getvalue()
    assert number not in text and number[2:] not in text and "Secret Desk" not in text
    assert bot.token() not in text and "outbound-" not in text and "bot-password" not in text


async def test_retries_of_a_connector_call_are_counted_on_its_line(
    bot: Bot, output: Callable[[LogFormat], io.StringIO]
) -> None:
    log = output(LogFormat.PLAIN)
    bot.connector.throttle = [429, 502]
    assert (await bot.post(bot.activity("help"))).status_code == 201
    [call] = [line for line in log.getvalue().splitlines() if " connector " in line]
    assert plain_fields(call)["retries"] == "2" and plain_fields(call)["status"] == "200"


async def test_json_lines_for_log_collectors(
    bot: Bot, output: Callable[[LogFormat], io.StringIO]
) -> None:
    log = output(LogFormat.JSON)
    assert (await bot.post(bot.activity("help"))).status_code == 201
    assert (await bot.post(card_click(bot, "x"))).status_code == 200
    entries = [json.loads(line) for line in log.getvalue().splitlines()]
    activities = [e for e in entries if e.get("event") == "activity"]
    assert [(e["type"], e["status"]) for e in activities] == [("message", 201), ("invoke", 200)]
    assert activities[1]["name"] == "x" and activities[1]["outcome"] == "refused"
    assert all(isinstance(e["api_ms"], float) for e in activities)
    [call] = [e for e in entries if e.get("event") == "connector"]
    assert call["call"] == "send" and call["retries"] == 0


@pytest.mark.parametrize("log_format", [LogFormat.PLAIN, LogFormat.JSON])
async def test_a_card_verb_with_a_line_break_forges_no_line(
    bot: Bot, output: Callable[[LogFormat], io.StringIO], log_format: LogFormat
) -> None:
    log = output(log_format)
    forged = "status\n2026-01-01 00:00:00,000 INFO bot.app FORGED\r\x1b[2K"
    click = card_click(bot, forged)
    click["id"] = "id\nFORGED-ID"
    assert (await bot.post(click)).status_code == 200
    lines = log.getvalue().splitlines()
    assert lines and not any("FORGED" in line.split(" ", 1)[0] for line in lines)
    for line in lines:
        if log_format is LogFormat.PLAIN:
            assert LINE_START.match(line) or line.startswith("  | "), line
        else:
            json.loads(line)
    [line] = [line for line in lines if "activity" in line and "bot.app FORGED" in line]
    if log_format is LogFormat.JSON:
        entry: dict[str, Any] = json.loads(line)
        assert entry["name"] == forged and entry["activity"] == "id\nFORGED-ID"
    else:
        assert "\\n2026-01-01" in line and "\\x1b" in line and "\\r" in line


async def test_huge_values_from_a_request_make_no_huge_log_line(
    bot: Bot, output: Callable[[LogFormat], io.StringIO]
) -> None:
    log = output(LogFormat.PLAIN)
    click = card_click(bot, "status" + "v" * 200_000)
    click["id"] = "i" * 200_000
    assert (await bot.post(click)).status_code == 200
    lines = log.getvalue().splitlines()
    assert any(line.startswith(tuple("0123456789")) and " activity " in line for line in lines)
    assert max(len(line) for line in lines) < 4_000
