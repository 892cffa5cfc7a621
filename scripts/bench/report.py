"""The benchmark's figures: a line per phase, the table, the ratios to the anchors, what went
wrong, and docs/performance.md with its chart."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

BEGIN = "<!-- bench:begin (written by python -m scripts.bench; edit outside) -->"
END = "<!-- bench:end -->"
CHART = "performance-chart.png"
# The chart's lines: ours for a status message and the anchors.
CHARTED = {"ours, status": "o-", "ours, card action status": "s-", "ours, help": "^-",
           "stock echo bot": "x--", "bare aiohttp handler": "d:"}  # fmt: skip


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _replies(row: dict[str, Any]) -> str:
    if row["replies_right"] is None:
        return f"{row['replies']}" if row["replies"] else "-"
    return f"{row['replies_right']}/{row['replies_expected']}"


def line(row: dict[str, Any]) -> str:
    return (
        f"{row['label']:26} c={row['concurrency']:<4} {row['rps']:8.1f} req/s  "
        f"p50 {_ms(row['p50_ms'])} p95 {_ms(row['p95_ms'])} p99 {_ms(row['p99_ms'])} ms  "
        f"CPU {_ms(row['cpu_ms_per_request'])} ms/req  peak RSS {row['peak_rss_mb']:.0f} MB  "
        f"errors {row['errors']}  replies {_replies(row)}"
    )


def table(results: dict[str, Any]) -> str:
    head = (
        "| | c | req/s | p50 ms | p95 ms | p99 ms | CPU ms/req | peak RSS MB | errors | "
        "replies right/expected |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = [
        f"| {r['label']} | {r['concurrency']} | {r['rps']:.0f} | {_ms(r['p50_ms'])} | "
        f"{_ms(r['p95_ms'])} | {_ms(r['p99_ms'])} | {_ms(r['cpu_ms_per_request'])} | "
        f"{r['peak_rss_mb']:.0f} | {r['errors']} | {_replies(r)} |"
        for r in results["rows"]
    ]
    ratios = [
        f"| {r['label']} | {r['concurrency']} | {r['rps_vs_echo']:.1f}x | "
        f"{r['cpu_vs_echo']:.2f}x | {r['cpu_vs_bare']:.0f}x |"
        for r in results["ratios"]
    ]
    return "\n".join([
        head, *rows, "",
        "| ours against the anchors | c | req/s / echo bot's | CPU per request / echo bot's | "
        "CPU per request / bare handler's |", "|---|---|---|---|---|", *ratios,
    ])  # fmt: skip


def _by(rows: list[dict[str, Any]], label: str) -> dict[int, dict[str, Any]]:
    return {r["concurrency"]: r for r in rows if r["label"] == label}


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each of our scenarios against the echo bot and the bare handler at the same concurrency
    (measured in the same run)."""
    echo, bare = _by(rows, "stock echo bot"), _by(rows, "bare aiohttp handler")
    found = []
    for row in rows:
        if row["target"] != "ours":
            continue
        c = row["concurrency"]
        if c not in echo or c not in bare:
            continue
        ours_cpu = row["cpu_ms_per_request"] or 0.0
        found.append({
            "label": row["label"], "concurrency": c,
            "rps_vs_echo": row["rps"] / echo[c]["rps"] if echo[c]["rps"] else 0.0,
            "cpu_vs_echo": ours_cpu / echo[c]["cpu_ms_per_request"]
            if echo[c]["cpu_ms_per_request"] else 0.0,
            "cpu_vs_bare": ours_cpu / bare[c]["cpu_ms_per_request"]
            if bare[c]["cpu_ms_per_request"] else 0.0,
        })  # fmt: skip
    return found


def problems(rows: list[dict[str, Any]]) -> list[str]:
    """What makes figures untrustworthy: refused or failed requests, replies missing or wrong."""
    found = []
    for row in rows:
        where = f"{row['label']} at c={row['concurrency']}"
        if row["errors"]:
            found.append(f"{where}: {row['errors']} errors, first: {row['first_error']}")
        right = row["replies_right"]
        if right is not None and right < row["replies_expected"]:
            sample = (row["wrong_reply_sample"] or "")[:300]
            found.append(
                f"{where}: {right} right replies for {row['replies_expected']} messages"
                + (f"; one was: {sample}" if sample else "")
            )
        if row["served"] == 0:
            found.append(f"{where}: nothing served")
    return found


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib  # the bench extra: only needed to write the docs

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (throughput, p99) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    for label, style in CHARTED.items():
        by = _by(results["rows"], label)
        if not by:
            continue
        cs = sorted(by)
        throughput.plot(cs, [by[c]["rps"] for c in cs], style, label=label)
        p99.plot(cs, [by[c]["p99_ms"] for c in cs], style, label=label)
    concurrencies = sorted({row["concurrency"] for row in results["rows"]})
    for axes, title, unit in ((throughput, "Throughput", "requests/s"), (p99, "p99 latency", "ms")):
        axes.set_xscale("log", base=2)
        axes.set_xticks(concurrencies, [str(c) for c in concurrencies])
        axes.set_yscale("log")
        axes.set_xlabel("concurrent clients")
        axes.set_ylabel(unit)
        axes.set_title(title)
        axes.grid(True, which="both", alpha=0.3)
    throughput.legend(fontsize=8)
    machine = results["machine"]
    figure.suptitle(
        f"One process each, {machine['cores']} cores ({machine['cpu']}); "
        f"ContextSMS answering in {results['sandbox_latency_ms']} ms", fontsize=9,
    )  # fmt: skip
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def section(results: dict[str, Any]) -> str:
    machine = results["machine"]
    when = datetime.datetime.fromtimestamp(results["started"], datetime.UTC)
    return "\n".join([
        BEGIN, "",
        f"Measured {when:%Y-%m-%d %H:%M} UTC on {machine['cpu']}, {machine['cores']} cores, "
        f"Python {machine['python']}, in {results['duration_s']:.0f} s: "
        f"`{results['command']}` ({results['phase_seconds']:g} s phases, the sandbox answering "
        f"in {results['sandbox_latency_ms']} ms). CPU and memory are the measured process's "
        "alone (/proc); replies are counted at the Bot Connector stand-in.", "",
        table(results), "",
        f"![Throughput and p99 against concurrency]({CHART})", "",
        END,
    ])  # fmt: skip


INTRO = """# Performance

`make bench` (`python -m scripts.bench`) measures the bot as it runs in production, each part
a process of its own on loopback: the bot (`app.py` with production authentication: inbound
tokens checked against a stand-in of the Bot Framework's keys, its own token from a stand-in of
Entra through `BOT_LOGIN_AUTHORITY`), the sandbox ContextSMS, the stand-ins of Microsoft's
services (Bot Framework keys, Entra, Graph, and the Bot Connector, which counts the replies),
and a load generator. In the same run, as anchors: the stock botbuilder echo bot
(`scripts/bench/echo_bot.py`, CloudAdapter as Microsoft's samples) and a bare aiohttp handler
answering 201.

The load: 64 tenants, each one team of 16 channels, all linked to the sandbox's enterprise,
the sender an owner of every team; Teams' send limits per conversation and tenant are kept by
the bot, so the load is spread to measure the bot rather than its limiter. `map + unmap` sends
`map <new number>` and then clicks the Unmap confirmation of that mapping (two requests); a
card action is a click on a `status` button (Action.Execute, signed as the bot signs).
A request counts only when answered 2xx (a card action with the expected card), and each
message's reply must arrive at the connector with the expected words.
"""


def write_docs(results: dict[str, Any], path: Path) -> None:
    """The figures between the markers of `path` (the rest kept as written), and the chart."""
    chart(results, path.parent / CHART)
    old = path.read_text() if path.exists() else INTRO + "\n" + BEGIN + "\n" + END + "\n"
    if BEGIN in old and END in old:
        before, rest = old.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
    else:
        before, after = old.rstrip() + "\n\n", "\n"
    path.write_text(before + section(results) + after)
