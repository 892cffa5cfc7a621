"""An organization with 10,000 numbers: `status` and `list` answer within a second, their cards
stay under Teams' limit, a burst of clicks reads the list from ContextSMS once, and what the
bot shows is never older than LIST_TTL (a change of its own shows at once).

The numbers are written straight into the sandbox's store (10,000 API calls would take a
minute), in a sandbox of this module's own, so that no other test lists them."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot.bulk import read_lines
from bot.handlers import MappingBot
from bot.mappings import LIST_TTL, MappingService
from bot.turn import BotOptions
from cards import CARD_SIZE_LIMIT, card_size
from cards.elements import Card
from contextsms import ContextSMSClient
from contextsms.models import Enterprise, MappingUpdate
from contextsms.retry import Deadline
from sandbox.records import NewEnterprise, NewMapping
from sandbox.seed import subscribe_once
from sandbox.threaded import RunningSandbox, start_sandbox
from tests.conftest import PAID_EMAILS, make_client
from tests.test_bot_behaviour import (
    GENERAL,
    PERSONAL,
    SALES,
    TENANT,
    Directory,
    World,
    act,
    bot,
    button,
    in_channel,
    texts,
    with_service,
    world,
)

__all__ = ["bot", "world"]  # the fixtures, shared with the behaviour tests

LARGE = 10_000
IN_GENERAL = 2_500  # a channel with many numbers: `status` has 250 pages
IN_SALES = 3  # a channel with few, where a change shows on the first page of `status`
OTHER_CHANNELS = 50
LIST_ROUTE = "GET /api/v2/numbertomessageappmapping/enterprise/{enterpriseId}"
ANSWER_WITHIN = 1.0  # seconds, at concurrency 1: the target


def channel(i: int) -> str:
    return f"19:clinic{i:02d}@thread.tacv2"


CHANNELS = Directory(
    {
        GENERAL: "General",
        SALES: "Sales",
        **{channel(i): f"Clinic {i:02d} · Reception and after-hours line" for i in range(50)},
    }
)


def number(i: int) -> str:
    return f"+1666{i:07d}"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """This module's own sandbox (the `client` and `world` fixtures use it), with one
    enterprise of 10,000 numbers."""
    # In memory where there is a tmpfs: 10,000 commits are 1 s there, 3 to 30 s on a disk.
    shm = Path("/dev/shm")  # noqa: S108 (mkdtemp makes a directory of its own, mode 0700)
    where = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() else tmp_path_factory.mktemp("large")
    running = start_sandbox(where / "sandbox.db")
    for email in PAID_EMAILS:
        subscribe_once(running.store, email, "active")
    yield running
    running.stop()
    if where.parent == shm:
        shutil.rmtree(where)


@pytest.fixture(scope="module")
def large(sandbox: RunningSandbox) -> str:
    store = sandbox.store
    enterprise = store.create_enterprise(
        sandbox.seeded.csp_id,
        NewEnterprise("Large Health Network", "Dr. Large", "+16660999999", PAID_EMAILS[0]),
    )
    for i in range(LARGE):
        if i < IN_GENERAL:
            where = GENERAL
        elif i < IN_GENERAL + IN_SALES:
            where = SALES
        else:
            where = channel(i % OTHER_CHANNELS)
        name = f"Ward {i % 97:02d} · nurse station, extension {i:05d}"
        store.add_mapping(enterprise.enterprise_id, NewMapping(number(i), "Teams", where, name))
    return enterprise.enterprise_id


@pytest.fixture
async def enterprise(client: ContextSMSClient, large: str) -> Enterprise:
    """The `world` fixture's enterprise: the large one."""
    return await client.get_enterprise(large)


def list_reads(sandbox: RunningSandbox) -> int:
    count: int = sandbox.stats()["requests"].get(LIST_ROUTE, 0)
    return count


async def timed(work: Awaitable[Card]) -> tuple[float, Card]:
    start = time.perf_counter()
    card = await work
    return time.perf_counter() - start, card


def another_instance(world: World, api: ContextSMSClient) -> MappingBot:
    """Another bot process: its own client, so nothing it remembered is shared."""
    return with_service(world.bot, MappingService(api), BotOptions())


async def test_status_and_list_of_ten_thousand_answer_within_a_second(
    sandbox: RunningSandbox, world: World
) -> None:
    took: dict[str, list[float]] = {"status": [], "list": []}
    for _ in range(3):  # each read from ContextSMS, not remembered: a new instance each time
        async with make_client(sandbox) as api:
            seconds, status = await timed(
                another_instance(world, api).on_message(in_channel(), "status", CHANNELS)
            )
            took["status"].append(seconds)
            assert "Page 1 of 250" in texts(status) and number(0) in texts(status)
            assert card_size(status) < CARD_SIZE_LIMIT
        async with make_client(sandbox) as api:
            seconds, listed = await timed(
                another_instance(world, api).on_message(PERSONAL, "list", CHANNELS)
            )
            took["list"].append(seconds)
            assert "Page 1 of 1001" in texts(listed) and number(0) in texts(listed)
            assert card_size(listed) < CARD_SIZE_LIMIT
    # The best of three is what the bot costs; the others may have waited for the machine's
    # other work, though never for long.
    for command, times in took.items():
        assert min(times) < ANSWER_WITHIN, f"{command}: {times}"
        assert max(times) < 3 * ANSWER_WITHIN, f"{command}: {times}"


async def test_a_burst_of_clicks_reads_the_list_once_and_each_gets_its_page(
    sandbox: RunningSandbox, world: World
) -> None:
    status = await world.bot.on_message(in_channel(), "status", CHANNELS)
    listed = await world.bot.on_message(PERSONAL, "list", CHANNELS)
    async with make_client(sandbox) as api:
        bot = another_instance(world, api)  # nothing read yet

        async def burst() -> list[Card]:
            status_next, list_next = button(status, "Next"), button(listed, "Next")
            return await asyncio.gather(
                *(act(bot, in_channel(), status_next["verb"], status_next["data"], CHANNELS)
                  for _ in range(10)),
                *(act(bot, PERSONAL, list_next["verb"], list_next["data"], CHANNELS)
                  for _ in range(10)),
            )  # fmt: skip

        for _ in range(2):
            before = list_reads(sandbox)
            cards = await burst()
            assert list_reads(sandbox) - before == 1
            assert all("Page 2 of 250" in texts(card) for card in cards[:10])
            assert all("Page 2 of 1001" in texts(card) for card in cards[10:])
            assert all(number(10) in texts(card) for card in cards)
            await asyncio.sleep(LIST_TTL + 0.2)  # kept no longer: the next burst reads again


async def sales_numbers(bot: MappingBot) -> str:
    return texts(await bot.on_message(in_channel(SALES, "Sales"), "status", CHANNELS))


async def test_a_change_made_here_shows_at_once(
    sandbox: RunningSandbox, world: World, client: ContextSMSClient, large: str
) -> None:
    bot, fresh = world.bot, f"+1666{LARGE + 1:07d}"
    assert number(IN_GENERAL) in await sales_numbers(bot)  # read, and kept
    await bot.on_message(in_channel(SALES, "Sales"), f"map {fresh} Night line", CHANNELS)
    assert fresh in await sales_numbers(bot) and "Night line" in await sales_numbers(bot)

    ask = await bot.on_message(in_channel(SALES, "Sales"), f"unmap {fresh}", CHANNELS)
    unmap = button(ask, "Unmap")
    await act(bot, in_channel(SALES, "Sales"), unmap["verb"], unmap["data"], CHANNELS)
    assert fresh not in await sales_numbers(bot)

    moved = number(IN_GENERAL)  # Sales' first number, moved to General by a typed remap
    await bot.on_message(in_channel(), f"remap {moved}", CHANNELS)
    assert moved not in await sales_numbers(bot)

    # A list of numbers, applied by the bot's bulk engine (a service of its own over the
    # same client): its numbers show as soon as it is done.
    listed = [f"+1666{LARGE + 10 + i:07d}" for i in range(3)]
    mapper = bot.bulk.mapper
    run = await mapper.preview(
        read_lines("\n".join(listed), "US"), enterprise_id=large, tenant_id=TENANT,
        team_id=GENERAL, channel_id=SALES, by=None, limit=Deadline(30),
    )  # fmt: skip
    claimed = await mapper.claim(run.run_id, tenant_id=TENANT, move=False)
    assert claimed is not None
    await mapper.apply(claimed)
    shown = await sales_numbers(bot)
    assert all(n in shown for n in listed)
    now = {m.phone_number: m for m in await client.list_mappings(large)}
    await client.update_mapping(now[moved].id, MappingUpdate(messaging_app_id=SALES))
    for n in listed:  # as it was, for the other tests
        await client.delete_mapping(now[n].id)


async def test_a_change_made_elsewhere_shows_within_the_lists_ttl(
    sandbox: RunningSandbox, world: World, large: str
) -> None:
    bot, fresh = world.bot, f"+1666{LARGE + 2:07d}"
    assert fresh not in await sales_numbers(bot)  # read, and kept
    async with make_client(sandbox) as api:
        other = another_instance(world, api)
        await other.on_message(in_channel(SALES, "Sales"), f"map {fresh} Other bot", CHANNELS)
        assert fresh in await sales_numbers(other)
        await shows_within(LIST_TTL + 3, lambda: sales_numbers(bot), fresh)

        # Changed in ContextSMS by something else altogether (the portal): the same.
        mapping = sandbox.store.add_mapping(
            large, NewMapping(f"+1666{LARGE + 3:07d}", "Teams", SALES, "From the portal")
        )
        await shows_within(LIST_TTL + 3, lambda: sales_numbers(bot), "From the portal")
        await shows_within(LIST_TTL + 3, lambda: sales_numbers(other), "From the portal")
        # A click acts on what ContextSMS holds now, not on what was shown: unmapped by
        # the other instance, the number is not unmapped again.
        ask = await bot.on_message(in_channel(SALES, "Sales"), f"unmap {fresh}", CHANNELS)
        await other.on_message(in_channel(), f"remap {fresh}", CHANNELS)  # moved to General
        unmap = button(ask, "Unmap")
        card = await act(bot, in_channel(SALES, "Sales"), unmap["verb"], unmap["data"], CHANNELS)
        assert "General" in texts(card)
        listed = {m.phone_number: m for m in await api.list_mappings(large)}
        assert listed[fresh].messaging_app_id == GENERAL
        for gone in (listed[fresh].id, mapping.mapping_id):
            await api.delete_mapping(gone)


async def shows_within(seconds: float, read: Callable[[], Awaitable[str]], wanted: str) -> None:
    """`wanted` is in what `read` shows within `seconds`."""
    until = time.monotonic() + seconds
    while wanted not in await read():
        assert time.monotonic() < until, f"{wanted!r} not shown after {seconds} s"
        await asyncio.sleep(0.2)
