"""The vocabulary of card actions: verbs, their signed context, and the invoke payload.

A card's `Action.Execute` carries `{"ctx": {...ids...}, "sig": ...}` as its data; Teams adds
the form's inputs beside it. The signature covers the verb and the ids, the tenant, the channel
and the enterprise included, so a card posted in one tenant or channel cannot act in another
and an edited id is noticed before anything is looked up.

The wire values (verb strings, the `ch`/`ent`/`id`/`page` keys) are those of cards already
posted in Teams: changing one would make their buttons refused as tampered. Cards posted
before tenants were signed have no `ten` key: they are still accepted where their channel and
enterprise match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class CardVerb(StrEnum):
    HELP = "help"
    STATUS = "status"
    LIST = "list"
    MAP = "map"
    REMAP = "remap"  # "Move it here": this channel takes a number of another channel
    REMAP_PICK = "remap.pick"
    REMAP_MOVE = "remap.move"
    UNMAP_ASK = "unmap.ask"
    UNMAP_CONFIRM = "unmap.confirm"
    # Many organizations: setup by code, the team's history and settings.
    SETUP = "setup"
    HISTORY = "history"  # `id`: the entry before which the page starts (older ones)
    SETTINGS = "settings"
    SETTINGS_MEMBERS_ON = "settings.members.on"
    SETTINGS_MEMBERS_OFF = "settings.members.off"
    # Operators only: `id` is the enterprise (invite) or the tenant or team (unlink) acted on.
    ENTERPRISES = "enterprises"
    ENTERPRISE_NEW = "enterprise.new"
    ENTERPRISE_CREATE = "enterprise.create"
    INVITE = "invite"
    LINKS = "links"
    UNLINK_ASK = "unlink.ask"
    UNLINK_CONFIRM = "unlink.confirm"
    # Finding numbers: `id` the query, `page`; unmapping what it found in another channel:
    # `id` the mapping, `to` the channel the card showed it in.
    FIND = "find"
    FIND_UNMAP_ASK = "find.unmap.ask"
    FIND_UNMAP_CONFIRM = "find.unmap.confirm"
    # Bulk mapping: the form, its preview, applying a previewed run (`id` the run, `to`
    # "move" or "new": whether numbers of other channels are moved), and a run's state now.
    BULK_FORM = "bulk.form"
    BULK_PREVIEW = "bulk.preview"
    BULK_APPLY = "bulk.apply"
    BULK_SHOW = "bulk.show"


class TamperedAction(Exception):
    """The action's data is not what the bot put on the card."""


@dataclass(frozen=True)
class ActionContext:
    """What a card action acts on. `channel` is "" for cards sent outside a channel;
    `enterprise` is "" for cards sent where no enterprise was linked; `tenant` is None only on
    cards made before tenants were signed. `mapping_id` is the object the verb acts on (a
    mapping, an enterprise, a link's tenant or team, a history position, a query, a bulk run);
    `target` a second one where a verb needs it (the channel a mapping was shown in, a
    choice)."""

    channel: str
    enterprise: str
    mapping_id: str | None = None
    page: int | None = None
    tenant: str | None = None
    target: str | None = None

    def to_wire(self) -> dict[str, str]:
        wire = {"ch": self.channel, "ent": self.enterprise}
        if self.tenant is not None:
            wire["ten"] = self.tenant
        if self.mapping_id is not None:
            wire["id"] = self.mapping_id
        if self.page is not None:
            wire["page"] = str(self.page)
        if self.target is not None:
            wire["to"] = self.target
        return wire

    @classmethod
    def from_wire(cls, wire: dict[str, str]) -> ActionContext:
        unknown = set(wire) - {"ch", "ent", "id", "page", "ten", "to"}
        if unknown or "ent" not in wire:
            raise TamperedAction("malformed context")
        page = wire.get("page")
        if page is not None and not (page.isascii() and page.isdigit() and len(page) < 7):
            raise TamperedAction("malformed page")
        return cls(
            channel=wire.get("ch", ""),
            enterprise=wire["ent"],
            mapping_id=wire.get("id"),
            page=int(page) if page is not None else None,
            tenant=wire.get("ten"),
            target=wire.get("to"),
        )

    def at(
        self, *, mapping_id: str | None = None, page: int | None = None, target: str | None = None
    ) -> ActionContext:
        return ActionContext(self.channel, self.enterprise, mapping_id, page, self.tenant, target)


class _SignedData(BaseModel):
    # Teams puts the card's inputs beside ctx and sig: they are kept as the person's input.
    model_config = ConfigDict(extra="allow", frozen=True)

    ctx: dict[str, str]
    sig: str = Field(max_length=64)


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True)

    verb: CardVerb
    data: _SignedData


class _Invoke(BaseModel):
    action: _Action


@dataclass(frozen=True)
class CardAction:
    """A clicked card button, parsed once: the verb, its signed context (not yet verified)
    and what the person entered in the card's inputs."""

    verb: CardVerb
    signed: dict[str, str]
    sig: str
    inputs: dict[str, Any]

    def text_input(self, name: str) -> str | None:
        value = self.inputs.get(name)
        return value if isinstance(value, str) else None


def parse_invoke(value: Any) -> CardAction:
    """The `adaptiveCard/action` invoke's value, `{"action": {"verb", "data"}}`, as a
    CardAction; anything else is refused as tampered."""
    try:
        invoke = _Invoke.model_validate(value)
    except ValidationError:
        raise TamperedAction("malformed card action") from None
    data = invoke.action.data
    return CardAction(invoke.action.verb, dict(data.ctx), data.sig, dict(data.model_extra or {}))


def card_action(verb: str, data: Any) -> CardAction:
    """A CardAction from a verb and the action's data, as a button of a card holds them."""
    return parse_invoke({"action": {"verb": verb, "data": data}})


class ActionSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, verb: str, ctx: dict[str, str]) -> str:
        message = json.dumps([verb, ctx], sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def __call__(self, verb: CardVerb, ctx: ActionContext) -> dict[str, Any]:
        wire = ctx.to_wire()
        return {"ctx": wire, "sig": self._mac(verb.value, wire)}

    def verify(self, action: CardAction) -> ActionContext:
        expected = self._mac(action.verb.value, action.signed).encode()
        if not hmac.compare_digest(expected, action.sig.encode()):
            raise TamperedAction("signature mismatch")
        return ActionContext.from_wire(action.signed)
