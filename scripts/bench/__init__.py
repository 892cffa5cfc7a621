"""`make bench`: the bot measured as it runs in production, each part a process of its own on
loopback, beside the stock botbuilder echo bot and a bare aiohttp handler in the same run.

    .venv/bin/python -m scripts.bench [--quick] [--seconds 5] [--concurrency 1,8,32,128]

The processes: the bot (`app.py`, production authentication: MicrosoftAppId and password set,
inbound tokens checked against the Bot Framework keys of `python -m standins`, its outbound and
Graph tokens from that stand-in's Entra through BOT_LOGIN_AUTHORITY), the sandbox (`python -m
sandbox`, answering in SANDBOX_FAULT_LATENCY_MS), the stand-ins (Bot Framework identity, Entra,
Graph, and the Bot Connector counting replies), the anchors (`echo_bot.py`, `bare.py`) and, for
each phase, the load generator (`loadgen.py`). Figures of the bot's process alone come from
/proc. Results: bench/results.json, a table on stdout, docs/performance.md and its chart.
"""
