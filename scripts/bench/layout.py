"""Who sends what, where: the tenants, teams and channels of the load, and the activities.

Teams limits a bot's posts per conversation (60 in 30 s) and per tenant (30 a second), and the
bot keeps those limits: load in few channels measures that limiter, not the bot. So the load is
spread over 64 tenants, each one team of 16 channels (1,024 conversations), every tenant linked
to the sandbox's enterprise, the sender an owner of every team (Graph stand-in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.actions import ActionContext, ActionSigner, CardVerb
from bot.audit import tenant_key

APP_ID = "11111111-2222-3333-4444-555555555555"
APP_PASSWORD = "bot-password"  # noqa: S105 (what the Entra stand-in accepts)
OWNER_ID = "a1e0a1e0-0000-4000-8000-0000000000a1"
TENANTS = tuple(f"7e7e7e7e-0000-4000-8000-{i:012d}" for i in range(1, 65))
CHANNELS_PER_TEAM = 16


@dataclass(frozen=True)
class Place:
    tenant: str
    team: str  # the team's id: its General channel's
    channel: str


def place(i: int) -> Place:
    """The i-th conversation of the load: consecutive ones in different tenants."""
    tenant_index = i % len(TENANTS)
    channel_index = (i // len(TENANTS)) % CHANNELS_PER_TEAM
    team = f"19:bench-team-{tenant_index}@thread.tacv2"
    channel = f"19:bench-{tenant_index}-{channel_index}@thread.tacv2" if channel_index else team
    return Place(TENANTS[tenant_index], team, channel)


PLACES = len(TENANTS) * CHANNELS_PER_TEAM


def message(where: Place, text: str, service_url: str) -> dict[str, Any]:
    """A channel message mentioning the bot, as Teams sends it."""
    return {
        "type": "message", "id": "1700000000000", "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": "29:bench-owner", "name": "Owner", "aadObjectId": OWNER_ID},
        "recipient": {"id": f"28:{APP_ID}", "name": "Bot"},
        "text": f"<at>Bot</at> {text}",
        "entities": [{"type": "mention", "text": "<at>Bot</at>",
                      "mentioned": {"id": f"28:{APP_ID}", "name": "Bot"}}],
        "conversation": {"id": where.channel, "conversationType": "channel",
                         "tenantId": where.tenant, "isGroup": True},
        "channelData": {"teamsChannelId": where.channel, "channel": {"id": where.channel},
                        "team": {"id": where.team}, "tenant": {"id": where.tenant}},
    }  # fmt: skip


def card_action(
    where: Place, signer: ActionSigner, verb: CardVerb, enterprise: str, service_url: str,
    mapping_id: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A click on a button of a card the bot sent in `where` (signed as the bot signs them)."""
    ctx = ActionContext(where.channel, enterprise, mapping_id, tenant=tenant_key(where.tenant))
    activity = message(where, "", service_url)
    del activity["text"], activity["entities"]
    activity.update(
        type="invoke", name="adaptiveCard/action", replyToId="1700000000000",
        value={"action": {"type": "Action.Execute", "verb": verb.value,
                          "data": signer(verb, ctx)}},
    )  # fmt: skip
    return activity
