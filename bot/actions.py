"""Card actions carry ids only, signed, so that an edited card action is refused.

The data of each `Action.Execute` is `{"ctx": {...ids...}, "sig": ...}`; Teams adds the form's
inputs beside it. The signature covers the verb and the ids, the channel and the enterprise
included, so a card posted in one channel cannot act in another and an edited id is noticed
before anything is looked up.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any


class TamperedAction(Exception):
    """The action's data is not what the bot put on the card."""


class ActionSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, verb: str, ctx: dict[str, str]) -> str:
        message = json.dumps([verb, ctx], sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def __call__(self, verb: str, ctx: dict[str, str]) -> dict[str, Any]:
        return {"ctx": ctx, "sig": self._mac(verb, ctx)}

    def verify(self, verb: str, data: Any) -> dict[str, str]:
        if not isinstance(data, dict):
            raise TamperedAction("no action data")
        ctx, sig = data.get("ctx"), data.get("sig")
        if not isinstance(ctx, dict) or not isinstance(sig, str):
            raise TamperedAction("no signed context")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in ctx.items()):
            raise TamperedAction("malformed context")
        if not hmac.compare_digest(self._mac(verb, ctx), sig):
            raise TamperedAction("signature mismatch")
        return ctx
