"""One suite for both storage backends: SQLite in a temporary folder, and Azure Table storage on
Azurite (fixture `storage_opener` in conftest.py runs every test on each)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.conversation import Person
from bot.storage import (
    AuditAction,
    AuditEntry,
    CachedRole,
    ConversationRef,
    Link,
    SetupCode,
    Storage,
    TeamSettings,
)
from bot.storage.models import (
    BulkEntry,
    BulkRow,
    BulkRun,
    RowKind,
    RowOutcome,
    RowResult,
    RunState,
)
from tests.conftest import StorageOpener

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "0e6b1f0a-2c7e-4d5b-9f1a-3b2c1d0e9f8a"
TEAM = "19:Zg0Qx1a9Tb@thread.tacv2"
# Teams ids are not ours to choose: Table storage keys cannot hold these characters.
AWKWARD_TEAM = "19:a/b\\c#d?e%f!g'h\x01i\x7fj@thread.skype"


def link(tenant: str = TENANT, team: str | None = None, enterprise: str = "ent-1") -> Link:
    return Link(tenant, team, enterprise, T0, "8f7e6d5c-0000-4000-8000-000000000001")


def code(code_hash: str = "a" * 64, **changes: object) -> SetupCode:
    made = SetupCode(
        code_hash=code_hash,
        enterprise_id="ent-7",
        created_at=T0,
        expires_at=T0 + timedelta(hours=72),
        created_by="operator-oid",
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def entry(at: datetime, **fields: object) -> AuditEntry:
    return AuditEntry(at=at, action=AuditAction.MAP, outcome="ok", **fields)  # type: ignore[arg-type]


# -- links ------------------------------------------------------------------------------------


async def test_an_unlinked_tenant_has_no_link(storage: Storage) -> None:
    assert await storage.link_for(TENANT, None) is None
    assert await storage.link_for(TENANT, TEAM) is None
    assert await storage.links() == []


async def test_a_tenant_link_serves_every_team_of_that_tenant_only(storage: Storage) -> None:
    assert await storage.put_link(link()) is None

    assert await storage.link_for(TENANT, None) == link()
    assert await storage.link_for(TENANT, TEAM) == link()
    assert await storage.link_for(OTHER_TENANT, None) is None
    assert await storage.link_for(OTHER_TENANT, TEAM) is None


async def test_a_team_link_wins_over_its_tenant_link(storage: Storage) -> None:
    await storage.put_link(link(enterprise="ent-tenant"))
    await storage.put_link(link(team=TEAM, enterprise="ent-team"))

    found = await storage.link_for(TENANT, TEAM)
    assert found is not None and found.enterprise_id == "ent-team"
    other_team = await storage.link_for(TENANT, "19:other@thread.tacv2")
    assert other_team is not None and other_team.enterprise_id == "ent-tenant"
    # The same team id under another tenant is not that team.
    assert await storage.link_for(OTHER_TENANT, TEAM) is None


async def test_a_team_link_without_a_tenant_link_serves_that_team_only(storage: Storage) -> None:
    await storage.put_link(link(team=TEAM))

    assert await storage.link_for(TENANT, TEAM) == link(team=TEAM)
    assert await storage.link_for(TENANT, None) is None
    assert await storage.link_for(TENANT, "19:other@thread.tacv2") is None


async def test_relinking_replaces_and_returns_the_old_link(storage: Storage) -> None:
    await storage.put_link(link(enterprise="ent-old"))
    new = replace(link(enterprise="ent-new"), linked_by="settings")

    assert await storage.put_link(new) == link(enterprise="ent-old")
    assert await storage.link_for(TENANT, None) == new
    assert await storage.links() == [new]


async def test_removing_a_link_removes_exactly_that_one(storage: Storage) -> None:
    await storage.put_link(link(enterprise="ent-tenant"))
    await storage.put_link(link(team=TEAM, enterprise="ent-team"))

    assert await storage.remove_link(TENANT, TEAM) == link(team=TEAM, enterprise="ent-team")
    assert await storage.link_for(TENANT, TEAM) == link(enterprise="ent-tenant")
    assert await storage.remove_link(TENANT, TEAM) is None
    assert await storage.remove_link(OTHER_TENANT, None) is None

    assert await storage.remove_link(TENANT, None) == link(enterprise="ent-tenant")
    assert await storage.link_for(TENANT, TEAM) is None
    assert await storage.links() == []


async def test_links_are_listed_tenant_links_first_then_by_tenant_and_team(
    storage: Storage,
) -> None:
    made = [
        link(OTHER_TENANT, "19:b@thread.tacv2"),
        link(TENANT, "19:z@thread.tacv2"),
        link(OTHER_TENANT),
        link(TENANT, "19:a@thread.tacv2"),
        link(TENANT),
    ]
    for one in made:
        await storage.put_link(one)

    assert [(one.tenant_id, one.team_id) for one in await storage.links()] == [
        (OTHER_TENANT, None),
        (TENANT, None),
        (OTHER_TENANT, "19:b@thread.tacv2"),
        (TENANT, "19:a@thread.tacv2"),
        (TENANT, "19:z@thread.tacv2"),
    ]


async def test_ids_with_characters_keys_cannot_hold_are_kept_exactly(storage: Storage) -> None:
    awkward_tenant = "tenant/with#odd?chars\\"
    await storage.put_link(link(awkward_tenant, AWKWARD_TEAM, "ent-awkward"))
    await storage.put_link(link(awkward_tenant, "19:a", "ent-plain"))

    found = await storage.link_for(awkward_tenant, AWKWARD_TEAM)
    assert found == link(awkward_tenant, AWKWARD_TEAM, "ent-awkward")
    assert await storage.link_for(awkward_tenant, None) is None
    assert {one.team_id for one in await storage.links()} == {AWKWARD_TEAM, "19:a"}
    assert await storage.remove_link(awkward_tenant, AWKWARD_TEAM) == found


# -- setup codes ------------------------------------------------------------------------------


async def test_a_code_is_kept_as_given_and_found_by_its_hash(storage: Storage) -> None:
    issued = code(team_scoped=True, for_tenant=TENANT)
    await storage.add_code(issued)

    assert await storage.code(issued.code_hash) == issued
    assert await storage.code("b" * 64) is None


async def test_a_code_is_claimed_once(storage: Storage) -> None:
    await storage.add_code(code())
    at = T0 + timedelta(hours=1)

    claimed = await storage.claim_code("a" * 64, TENANT, at)

    assert claimed == code(used_at=at, used_by_tenant=TENANT)
    assert await storage.code("a" * 64) == claimed
    assert await storage.claim_code("a" * 64, TENANT, at + timedelta(seconds=1)) is None
    assert await storage.claim_code("a" * 64, OTHER_TENANT, at) is None
    assert await storage.code("a" * 64) == claimed


async def test_an_expired_code_cannot_be_claimed_and_stays_unused(storage: Storage) -> None:
    await storage.add_code(code())
    expiry = T0 + timedelta(hours=72)

    assert await storage.claim_code("a" * 64, TENANT, expiry) is None
    assert await storage.claim_code("a" * 64, TENANT, expiry + timedelta(days=1)) is None
    assert await storage.code("a" * 64) == code()
    # A microsecond before it expires, it still works.
    assert await storage.claim_code("a" * 64, TENANT, expiry - timedelta(microseconds=1))


async def test_an_unknown_code_claims_nothing(storage: Storage) -> None:
    await storage.add_code(code())

    assert await storage.claim_code("f" * 64, TENANT, T0) is None
    assert await storage.code("f" * 64) is None
    assert await storage.code("a" * 64) == code()


async def test_a_code_for_one_tenant_cannot_be_claimed_by_another(storage: Storage) -> None:
    await storage.add_code(code(for_tenant=TENANT))

    assert await storage.claim_code("a" * 64, OTHER_TENANT, T0) is None
    assert await storage.code("a" * 64) == code(for_tenant=TENANT)
    claimed = await storage.claim_code("a" * 64, TENANT, T0)
    assert claimed is not None and claimed.used_by_tenant == TENANT


async def test_failed_setups_are_counted_per_tenant_since_a_time(storage: Storage) -> None:
    for minutes in (0, 10, 10, 50):
        await storage.record_failed_setup(TENANT, T0 + timedelta(minutes=minutes))
    await storage.record_failed_setup(OTHER_TENANT, T0 + timedelta(minutes=55))

    assert await storage.failed_setups(TENANT, T0 - timedelta(hours=1)) == 4
    assert await storage.failed_setups(TENANT, T0 + timedelta(minutes=10)) == 3  # at `since` counts
    since = T0 + timedelta(minutes=10, microseconds=1)
    assert await storage.failed_setups(TENANT, since) == 1
    assert await storage.failed_setups(TENANT, T0 + timedelta(hours=1)) == 0
    assert await storage.failed_setups(OTHER_TENANT, T0) == 1
    assert await storage.failed_setups("never-failed", T0) == 0


async def test_a_failed_setup_recorded_first_can_be_forgotten_and_no_other(
    storage: Storage,
) -> None:
    kept = await storage.record_failed_setup(TENANT, T0)
    forgotten = await storage.record_failed_setup(TENANT, T0 + timedelta(seconds=1))
    other = await storage.record_failed_setup(OTHER_TENANT, T0)
    assert len({kept, forgotten, other}) == 3
    assert await storage.failed_setups(TENANT, T0) == 2

    await storage.forget_failed_setup(TENANT, forgotten)
    await storage.forget_failed_setup(TENANT, other)  # another tenant's: not this one's to forget
    await storage.forget_failed_setup(TENANT, forgotten)  # twice: nothing more happens
    await storage.forget_failed_setup(TENANT, "'; DROP TABLE x; --")

    assert await storage.failed_setups(TENANT, T0) == 1
    assert await storage.failed_setups(OTHER_TENANT, T0) == 1


async def test_attempts_recorded_at_once_on_two_instances_all_count(
    storage_opener: StorageOpener,
) -> None:
    first, second = await storage_opener(), await storage_opener()
    counts = await asyncio.gather(
        *(
            _record_then_count(first if i % 2 else second, T0 + timedelta(milliseconds=i % 3))
            for i in range(30)
        )
    )
    # Each attempt saw itself and every attempt recorded before it, on either instance: the
    # k-th smallest count is at least k, so no more than five saw five or fewer.
    assert all(count >= k for k, count in enumerate(sorted(counts), start=1))
    assert sum(1 for count in counts if count <= 5) <= 5
    assert await first.failed_setups(TENANT, T0) == 30


async def _record_then_count(storage: Storage, at: datetime) -> int:
    await storage.record_failed_setup(TENANT, at)
    return await storage.failed_setups(TENANT, T0)


# -- a team's own options -----------------------------------------------------------------------


def team_settings(team: str = TEAM, *, members: bool = True) -> TeamSettings:
    return TeamSettings(TENANT, team, members, T0, "8f7e6d5c-0000-4000-8000-000000000002")


async def test_a_teams_options_are_its_own_and_leave_every_link_alone(storage: Storage) -> None:
    await storage.put_link(link())
    assert await storage.team_settings(TENANT, TEAM) is None

    assert await storage.put_team_settings(team_settings()) is None
    assert await storage.put_team_settings(team_settings(AWKWARD_TEAM)) is None

    assert await storage.team_settings(TENANT, TEAM) == team_settings()
    assert await storage.team_settings(TENANT, AWKWARD_TEAM) == team_settings(AWKWARD_TEAM)
    assert await storage.team_settings(TENANT, "19:other@thread.tacv2") is None
    assert await storage.team_settings(OTHER_TENANT, TEAM) is None
    # The tenant's link is untouched, and no team gained a link of its own.
    assert await storage.links() == [link()]

    again = replace(team_settings(), members_may_change=False, changed_at=T0 + timedelta(hours=1))
    assert await storage.put_team_settings(again) == team_settings()
    assert await storage.team_settings(TENANT, TEAM) == again


# -- audit trail ------------------------------------------------------------------------------


async def test_an_audit_entry_keeps_every_field_and_gets_an_id(storage: Storage) -> None:
    full = AuditEntry(
        at=T0 + timedelta(microseconds=123456),
        action=AuditAction.REMAP,
        outcome="ok",
        actor_id="8f7e6d5c-0000-4000-8000-000000000001",
        actor_name="Zoë O'Brien",
        tenant_id=TENANT,
        team_id=AWKWARD_TEAM,
        channel_id="19:chan@thread.tacv2",
        enterprise_id="ent-1",
        number="+15551234567",
        before="19:old@thread.tacv2",
        after="19:chan@thread.tacv2",
        request_id="req-42",
    )
    bare = AuditEntry(at=T0, action=AuditAction.ENTERPRISE_CREATED, outcome="failed")

    stored = await storage.append_audit(full)
    stored_bare = await storage.append_audit(bare)

    assert stored.entry_id and stored_bare.entry_id and stored.entry_id != stored_bare.entry_id
    assert stored == replace(full, entry_id=stored.entry_id)
    assert await storage.audit(tenant_id=TENANT) == [stored]
    assert await storage.audit() == [stored, stored_bare]  # newest first, tenant or not


async def test_audit_ids_sort_by_time_whatever_order_entries_arrive_in(storage: Storage) -> None:
    times = [T0 + timedelta(minutes=m) for m in (5, 1, 3, 1, 4)]
    stored = [await storage.append_audit(entry(at, tenant_id=TENANT)) for at in times]

    by_id = sorted(stored, key=lambda one: one.entry_id)
    assert [one.at for one in by_id] == sorted(times)
    newest_first = await storage.audit(tenant_id=TENANT)
    assert [one.at for one in newest_first] == sorted(times, reverse=True)


async def test_audit_filters_by_tenant_team_and_time(storage: Storage) -> None:
    plan = [
        (0, TENANT, TEAM),
        (1, TENANT, "19:other@thread.tacv2"),
        (2, OTHER_TENANT, "19:theirs@thread.tacv2"),
        (3, TENANT, TEAM),
        (4, TENANT, None),
        (5, TENANT, TEAM),
    ]
    stored = {
        minute: await storage.append_audit(
            entry(T0 + timedelta(minutes=minute), tenant_id=tenant, team_id=team)
        )
        for minute, tenant, team in plan
    }

    def minutes(found: list[AuditEntry]) -> list[int]:
        return [next(m for m, one in stored.items() if one == got) for got in found]

    assert minutes(await storage.audit(tenant_id=TENANT)) == [5, 4, 3, 1, 0]
    assert minutes(await storage.audit(tenant_id=OTHER_TENANT)) == [2]
    assert minutes(await storage.audit(tenant_id=TENANT, team_id=TEAM)) == [5, 3, 0]
    assert minutes(await storage.audit(team_id=TEAM)) == [5, 3, 0]
    assert minutes(await storage.audit(since=T0 + timedelta(minutes=3))) == [5, 4, 3]
    assert minutes(
        await storage.audit(tenant_id=TENANT, team_id=TEAM, since=T0 + timedelta(minutes=1))
    ) == [5, 3]
    assert minutes(await storage.audit()) == [5, 4, 3, 2, 1, 0]
    assert await storage.audit(tenant_id="nobody") == []
    assert await storage.audit(since=T0 + timedelta(minutes=5, microseconds=1)) == []


async def test_audit_pages_backwards_newest_first(storage: Storage) -> None:
    stored = [
        await storage.append_audit(entry(T0 + timedelta(seconds=s), tenant_id=TENANT, team_id=TEAM))
        for s in range(7)
    ]
    await storage.append_audit(entry(T0 + timedelta(seconds=3), tenant_id=OTHER_TENANT))
    expected = list(reversed(stored))

    for scope in ({"tenant_id": TENANT}, {"team_id": TEAM}):
        pages: list[list[AuditEntry]] = []
        before: str | None = None
        while page := await storage.audit(**scope, before_id=before, limit=3):  # type: ignore[arg-type]
            pages.append(page)
            before = page[-1].entry_id
        assert [len(page) for page in pages] == [3, 3, 1]
        assert [one for page in pages for one in page] == expected

    assert await storage.audit(tenant_id=TENANT, limit=0) == []
    older = await storage.audit(
        tenant_id=TENANT, since=T0 + timedelta(seconds=2), before_id=stored[5].entry_id
    )
    assert older == [stored[4], stored[3], stored[2]]


async def test_audit_refuses_a_page_cursor_that_is_not_an_entry_id(storage: Storage) -> None:
    await storage.append_audit(entry(T0, tenant_id=TENANT))

    with pytest.raises(ValueError, match="not an audit entry id"):
        await storage.audit(tenant_id=TENANT, before_id="'; DROP TABLE audit; --")


# -- conversation references ------------------------------------------------------------------


async def test_references_are_put_replaced_read_and_removed(storage: Storage) -> None:
    reference = {
        "bot": {"id": "28:app", "name": "ContextSMS"},
        "conversation": {"id": AWKWARD_TEAM, "tenantId": TENANT, "isGroup": True},
        "serviceUrl": "https://smba.trafficmanager.net/amer/",
        "nested": [1, 2.5, None, "é"],
    }
    ref = ConversationRef(AWKWARD_TEAM, TENANT, TEAM, "19:chan@thread.tacv2", reference, T0)
    other = ConversationRef("a:1personal", OTHER_TENANT, None, None)

    await storage.put_reference(ref)
    await storage.put_reference(other)
    assert await storage.reference(AWKWARD_TEAM) == ref
    assert await storage.reference("a:1personal") == other
    assert await storage.reference("unknown") is None

    moved = replace(ref, channel_id=None, reference={"v": 2}, updated_at=T0 + timedelta(days=1))
    await storage.put_reference(moved)
    assert await storage.reference(AWKWARD_TEAM) == moved

    await storage.remove_reference(AWKWARD_TEAM)
    await storage.remove_reference(AWKWARD_TEAM)  # removed twice (the bot removed twice)
    assert await storage.reference(AWKWARD_TEAM) is None
    assert await storage.reference("a:1personal") == other


# -- cached permission answers ----------------------------------------------------------------


async def test_a_cached_role_is_served_until_it_expires(storage: Storage) -> None:
    owner = CachedRole(TENANT, "group-1", "user-1", ("owner",), T0 + timedelta(minutes=5))
    member = CachedRole(TENANT, "group-1", "user-2", (), T0 + timedelta(minutes=5))
    await storage.cache_role(owner)
    await storage.cache_role(member)

    assert await storage.cached_role(TENANT, "group-1", "user-1", T0) == owner
    assert await storage.cached_role(TENANT, "group-1", "user-2", T0) == member
    assert await storage.cached_role(TENANT, "group-2", "user-1", T0) is None
    assert await storage.cached_role(OTHER_TENANT, "group-1", "user-1", T0) is None
    just_before = T0 + timedelta(minutes=5) - timedelta(microseconds=1)
    assert await storage.cached_role(TENANT, "group-1", "user-1", just_before) == owner
    assert await storage.cached_role(TENANT, "group-1", "user-1", T0 + timedelta(minutes=5)) is None

    demoted = replace(owner, roles=(), expires_at=T0 + timedelta(minutes=20))
    await storage.cache_role(demoted)
    assert (
        await storage.cached_role(TENANT, "group-1", "user-1", T0 + timedelta(minutes=10))
        == demoted
    )


async def test_naive_times_are_refused_rather_than_read_as_local_time(storage: Storage) -> None:
    with pytest.raises(ValueError, match="aware"):
        await storage.record_failed_setup(TENANT, datetime(2025, 3, 1, 12, 0))
    assert await storage.failed_setups(TENANT, T0 - timedelta(days=1)) == 0


# -- bulk runs ---------------------------------------------------------------------------------

# The longest a run holds: 500 rows whose names are 100 emoji (4 bytes in UTF-8, 2 units in
# UTF-16 each), typed lines of 200 characters, long channel ids.
EMOJI_NAME = "\U0001f600" * 100


def bulk_run(rows: int = 3, tenant: str = TENANT, run_id: str = "run-1") -> BulkRun:
    kinds = list(RowKind)
    made = []
    for n in range(rows):
        kind = kinds[n % len(kinds)]
        number = None if kind is RowKind.INVALID else f"+1555{n:07d}"
        entry = BulkEntry(
            line=n + 1, typed=("\U0001f4de" * 200), number=number, name=EMOJI_NAME,
            channel_id=f"19:{'c' * 60}{n}@thread.tacv2" if n % 2 else None,
            problem="it is not a number" if number is None else None,
        )  # fmt: skip
        made.append(
            BulkRow(
                entry, f"19:{'t' * 60}{n}@thread.tacv2", kind,
                current_channel=f"19:{'o' * 60}@thread.tacv2" if kind is RowKind.MOVE else None,
                mapping_id=f"NTMAP{n:07d}" if kind in (RowKind.MOVE, RowKind.HERE) else None,
                problem="why " * 20 if kind is RowKind.INVALID else None,
            )
        )  # fmt: skip
    return BulkRun(
        run_id=run_id, tenant_id=tenant, team_id=TEAM, channel_id="19:here@thread.tacv2",
        enterprise_id="ent-1", created_by=Person("oid-1", "Carla \U0001f600"), created_at=T0,
        state=RunState.PREVIEWED, rows=tuple(made),
    )  # fmt: skip


def results_of(run: BulkRun, count: int) -> tuple[RowResult, ...]:
    outcomes = list(RowOutcome)
    return tuple(
        RowResult(row, outcomes[n % len(outcomes)], "detail \U0001f600 " * 10, f"req-{n}")
        for n, row in enumerate(run.rows[:count])
    )


async def test_a_run_of_500_rows_with_long_emoji_names_is_kept_whole(storage: Storage) -> None:
    run = bulk_run(500)
    await storage.put_bulk_run(run)
    assert await storage.bulk_run("run-1") == run
    assert await storage.bulk_run("run-2") is None

    claimed = await storage.claim_bulk_run("run-1", TENANT, True, T0 + timedelta(seconds=5))
    assert claimed == replace(
        run, state=RunState.APPLYING, move=True, updated_at=T0 + timedelta(seconds=5)
    )
    # Results as they grow, then all of them: each read gives the last write, whole, with
    # the time it was written (how a reader tells a run under way from a killed one).
    partial = replace(
        claimed, results=results_of(run, 120), updated_at=T0 + timedelta(seconds=7, microseconds=3)
    )
    await storage.put_bulk_results(partial)
    assert await storage.bulk_run("run-1") == partial
    done = replace(
        claimed, state=RunState.DONE, results=results_of(run, 500),
        updated_at=T0 + timedelta(seconds=9),
    )  # fmt: skip
    await storage.put_bulk_results(done)
    assert await storage.bulk_run("run-1") == done


async def test_a_run_stopped_part_way_is_kept_as_stopped_with_its_results(
    storage: Storage,
) -> None:
    run = bulk_run(30)
    await storage.put_bulk_run(run)
    claimed = await storage.claim_bulk_run("run-1", TENANT, False, T0)
    assert claimed is not None
    stopped = replace(
        claimed, state=RunState.STOPPED, results=results_of(run, 11),
        updated_at=T0 + timedelta(minutes=1),
    )  # fmt: skip
    await storage.put_bulk_results(stopped)
    assert await storage.bulk_run("run-1") == stopped
    assert await storage.claim_bulk_run("run-1", TENANT, False, T0) is None  # never again


async def test_a_run_is_claimed_once_by_its_own_tenant_only(storage: Storage) -> None:
    await storage.put_bulk_run(bulk_run())
    assert await storage.claim_bulk_run("unknown-run", TENANT, False, T0) is None
    assert await storage.claim_bulk_run("run-1", OTHER_TENANT, False, T0) is None
    assert (await storage.bulk_run("run-1")) == bulk_run()  # still PREVIEWED, nothing changed

    claimed = await storage.claim_bulk_run("run-1", TENANT, False, T0)
    assert claimed is not None
    assert (claimed.state, claimed.move, claimed.updated_at) == (RunState.APPLYING, False, T0)
    assert await storage.claim_bulk_run("run-1", TENANT, True, T0) is None
    assert await storage.bulk_run("run-1") == claimed
    # Done is done: never claimed again.
    await storage.put_bulk_results(replace(claimed, state=RunState.DONE))
    assert await storage.claim_bulk_run("run-1", TENANT, False, T0) is None


# -- two instances at once, and a restart -----------------------------------------------------


async def test_of_twenty_concurrent_claims_from_two_instances_exactly_one_wins(
    storage_opener: StorageOpener,
) -> None:
    first, second = await storage_opener(), await storage_opener()
    await first.add_code(code())
    tenants = [f"tenant-{n}" for n in range(20)]

    results = await asyncio.gather(
        *(
            (first if n % 2 else second).claim_code("a" * 64, tenant, T0)
            for n, tenant in enumerate(tenants)
        )
    )

    winners = [claimed for claimed in results if claimed is not None]
    assert len(winners) == 1
    assert winners[0].used_by_tenant in tenants
    assert await second.code("a" * 64) == winners[0]
    assert await first.code("a" * 64) == winners[0]


async def test_of_twenty_clicks_on_a_run_from_two_instances_exactly_one_applies(
    storage_opener: StorageOpener,
) -> None:
    first, second = await storage_opener(), await storage_opener()
    await first.put_bulk_run(bulk_run(50))

    results = await asyncio.gather(
        *(
            (first if n % 2 else second).claim_bulk_run("run-1", TENANT, bool(n % 3), T0)
            for n in range(20)
        )
    )

    winners = [claimed for claimed in results if claimed is not None]
    assert len(winners) == 1
    assert winners[0].state is RunState.APPLYING
    assert await first.bulk_run("run-1") == winners[0]
    assert await second.bulk_run("run-1") == winners[0]


async def test_two_instances_appending_at_once_lose_no_entry(
    storage_opener: StorageOpener,
) -> None:
    first, second = await storage_opener(), await storage_opener()
    now = datetime.now(UTC)

    appended = await asyncio.gather(
        *(
            writer.append_audit(entry(now, tenant_id=TENANT, number=f"+1555{n:07d}", actor_id=name))
            for n in range(200)
            for writer, name in ((first, "first"), (second, "second"))
        )
    )

    ids = [one.entry_id for one in appended]
    assert len(set(ids)) == 400
    for reader in (first, second):
        stored = await reader.audit(tenant_id=TENANT, limit=1000)
        assert len(stored) == 400
        assert {one.entry_id for one in stored} == set(ids)
        assert [one.entry_id for one in stored] == sorted(ids, reverse=True)
    # Each instance's own entries keep the order it appended them in.
    for name in ("first", "second"):
        own = [one for one in reversed(stored) if one.actor_id == name]
        assert [one.number for one in own] == [f"+1555{n:07d}" for n in range(200)]


async def test_nothing_is_lost_when_the_storage_is_closed_and_reopened(
    storage_opener: StorageOpener,
) -> None:
    before = await storage_opener()
    await before.put_link(link())
    await before.put_link(link(team=TEAM, enterprise="ent-team"))
    await before.add_code(code())
    await before.add_code(code("c" * 64))
    claimed = await before.claim_code("c" * 64, TENANT, T0)
    await before.record_failed_setup(TENANT, T0)
    await before.put_team_settings(team_settings())
    stored = await before.append_audit(entry(T0, tenant_id=TENANT, number="+15551234567"))
    ref = ConversationRef("conv-1", TENANT, TEAM, None, {"serviceUrl": "https://x/"}, T0)
    await before.put_reference(ref)
    role = CachedRole(TENANT, "group-1", "user-1", ("owner",), T0 + timedelta(minutes=5))
    await before.cache_role(role)
    await before.put_bulk_run(bulk_run(20))
    await storage_opener.close_all()

    after = await storage_opener()

    assert await after.links() == [link(), link(team=TEAM, enterprise="ent-team")]
    assert await after.code("a" * 64) == code()
    assert await after.code("c" * 64) == claimed
    assert await after.claim_code("c" * 64, OTHER_TENANT, T0) is None
    assert await after.failed_setups(TENANT, T0) == 1
    assert await after.team_settings(TENANT, TEAM) == team_settings()
    assert await after.audit() == [stored]
    assert await after.reference("conv-1") == ref
    assert await after.cached_role(TENANT, "group-1", "user-1", T0) == role
    assert await after.bulk_run("run-1") == bulk_run(20)
    # New entries after the restart still sort after the old ones.
    later = await after.append_audit(entry(T0 + timedelta(milliseconds=1), tenant_id=TENANT))
    assert [one.entry_id for one in await after.audit()] == [later.entry_id, stored.entry_id]
