"""Local stand-ins for Microsoft's side of a Teams bot, over real HTTP:

- `Identity`: the Bot Framework OpenID metadata and JWKS (inbound tokens are signed here, by
  keys it publishes and can rotate) and an Entra token endpoint for the bot's own tokens;
- `Connector`: the Bot Connector service that a bot replies to (the activity's serviceUrl),
  which records what it receives per conversation and when (for Teams' rate limits), can be
  told to throttle (429 with Retry-After) or to answer that the bot was removed from a
  conversation (403 BotNotInConversationRoster), and which tells a team's channels and
  details (its Microsoft 365 group id, `aadGroupId`, by default one derived from the team id).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from pydantic import SecretStr

from standins.servers import ThreadedServer, serve_in_thread

ISSUER = "https://api.botframework.com"


def new_key() -> tuple[str, rsa.RSAPrivateKey]:
    return f"key-{secrets.token_hex(4)}", rsa.generate_private_key(
        public_exponent=65537, key_size=2048
    )


def entra_configuration(tenant_base: str, jwks_uri: str) -> web.Response:
    """Entra's OpenID configuration of a tenant (its URL `tenant_base`), which msal reads
    before it asks for a token."""
    return web.json_response({
        "issuer": f"{tenant_base}/v2.0", "token_endpoint": f"{tenant_base}/oauth2/v2.0/token",
        "authorization_endpoint": f"{tenant_base}/oauth2/v2.0/authorize", "jwks_uri": jwks_uri,
    })  # fmt: skip


@dataclass
class Identity:
    server: ThreadedServer = field(init=False)
    published: list[tuple[str, rsa.RSAPrivateKey]] = field(default_factory=lambda: [new_key()])
    metadata_fetches: int = 0
    token_requests: int = 0
    token_lifetime: int = 3600
    # Set to answer with this status instead (an outage of the keys, or of Entra's tokens).
    metadata_status: int | None = None
    token_status: int | None = None
    ssl_context: ssl.SSLContext | None = None  # HTTPS, as msal insists
    # Entra's tenants served: "{tenant}" any; a process that also serves Graph's per-tenant
    # Entra on the same host (`python -m standins`) takes only the bot's own, botframework.com.
    entra_tenant: str = "{tenant}"
    start: bool = True  # serve at once on a free port, in a thread of its own
    base_url: str = ""  # where it is served (set when started here)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.start:
            self.server = serve_in_thread(self.app(), "identity", self.ssl_context)
            self.base_url = self.server.base_url

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/v1/keys", self._jwks)
        tenant = self.entra_tenant
        app.router.add_get(f"/{tenant}/v2.0/.well-known/openid-configuration", self._entra)
        app.router.add_post(f"/{tenant}/oauth2/v2.0/token", self._token)
        return app

    async def _entra(self, request: web.Request) -> web.Response:
        tenant = request.match_info.get("tenant", self.entra_tenant)
        return entra_configuration(f"{self.base_url}/{tenant}", f"{self.base_url}/v1/keys")

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/v1/.well-known/openidconfiguration"

    async def _metadata(self, request: web.Request) -> web.Response:
        with self._lock:
            self.metadata_fetches += 1
        if self.metadata_status is not None:
            return web.json_response({"error": "unavailable"}, status=self.metadata_status)
        return web.json_response({"issuer": ISSUER, "jwks_uri": f"{self.base_url}/v1/keys",
                                  "id_token_signing_alg_values_supported": ["RS256"]})  # fmt: skip

    async def _jwks(self, request: web.Request) -> web.Response:
        keys = []
        for kid, private in self.published:
            jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "endorsements": ["msteams"]})
        return web.json_response({"keys": keys})

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        with self._lock:
            self.token_requests += 1
        if self.token_status is not None:
            return web.json_response({"error": "temporarily_unavailable"}, status=self.token_status)
        if form.get("client_secret") != "bot-password":
            return web.json_response({"error": "invalid_client"}, status=401)
        return web.json_response({"token_type": "Bearer", "expires_in": self.token_lifetime,
                                  "access_token": f"outbound-{self.token_requests}"})  # fmt: skip

    def rotate(self) -> str:
        """Publish a new key (Microsoft rotates its keys); the old one stops being published."""
        self.published = [new_key()]
        return self.published[0][0]

    def sign(self, claims: dict[str, Any], *, kid: str | None = None,
             key: rsa.RSAPrivateKey | None = None) -> str:  # fmt: skip
        use_kid, use_key = self.published[0]
        return jwt.encode(
            claims, key or use_key, algorithm="RS256", headers={"kid": kid or use_kid}
        )

    def claims(self, app_id: str, service_url: str, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": app_id, "exp": now + 3600, "nbf": now - 10,
                  "serviceurl": service_url}  # fmt: skip
        claims.update(changes)
        return claims

    def token_source(
        self,
    ) -> Callable[[str, str, SecretStr | None, list[str]], Callable[[], dict[str, Any]]]:
        """Fetches the bot's own tokens from this stand-in (in place of msal and Entra)."""

        def factory(app_id: str, authority: str, password: SecretStr | None,
                    scopes: list[str]) -> Callable[[], dict[str, Any]]:  # fmt: skip
            def fetch() -> dict[str, Any]:
                time.sleep(0.2)  # a real token endpoint is slow: the bot must not wait on it
                answer: dict[str, Any] = httpx.post(
                    f"{self.base_url}/tenant/oauth2/v2.0/token",
                    data={"client_id": app_id, "scope": " ".join(scopes),
                          "client_secret": password.get_secret_value() if password else "",
                          "grant_type": "client_credentials"},
                ).json()  # fmt: skip
                return answer

            return fetch

        return factory


def most_in_window(times: list[float], seconds: float) -> int:
    """The most of `times` (monotonic seconds) that fall within any span of `seconds`."""
    ordered = sorted(times)
    most = start = 0
    for end, at in enumerate(ordered):
        while at - ordered[start] > seconds:
            start += 1
        most = max(most, end - start + 1)
    return most


@dataclass
class ReplyCounts:
    """Posts and puts received, how many held `expect`, and the first one that did not (to
    say what was answered instead)."""

    expect: str = ""
    replies: int = 0
    expected: int = 0
    unexpected_sample: str | None = None

    def add(self, raw: bytes) -> None:
        self.replies += 1
        if self.expect.encode() in raw:
            self.expected += 1
        elif self.unexpected_sample is None:
            self.unexpected_sample = raw[:2000].decode(errors="replace")


@dataclass
class Connector:
    """Each received post or put is kept in `received` with its `conversation` (the channel,
    a thread's message id left out), its `tenant` (the body's conversation.tenantId or
    channelData.tenant.id) and its time `at` (time.monotonic()); every
    attempt, served or refused, is in `answered` as (conversation, at, status)."""

    server: ThreadedServer = field(init=False)
    received: list[dict[str, Any]] = field(default_factory=list)
    throttle: list[int] = field(default_factory=list)  # statuses to answer before serving
    retry_after: str = "0"  # the Retry-After of a throttle's 429
    removed_from: set[str] = field(default_factory=set)  # conversations the bot is not in
    answered: list[tuple[str, float, int]] = field(default_factory=list)
    attempts: int = 0
    groups: dict[str, str] = field(default_factory=dict)  # team id -> aadGroupId, if not derived
    team_details_requests: int = 0
    team_details_status: int | None = None  # answer team details with this instead
    # Under load (the benchmark): count posts and puts, keep none; `counts` says how many came
    # and how many held `expect` (the words a right answer has), since the last reset.
    keep: bool = True
    counts: ReplyCounts = field(default_factory=ReplyCounts)
    start: bool = True  # serve at once on a free port, in a thread of its own
    base_url: str = ""  # where it is served (set when started here)

    def __post_init__(self) -> None:
        if self.start:
            self.server = serve_in_thread(self.app(), "connector")
            self.base_url = self.server.base_url

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._post)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._post)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._post)
        app.router.add_get("/v3/teams/{team}/conversations", self._channels)
        app.router.add_get("/v3/teams/{team}", self._team)
        app.router.add_get("/v3/conversations/{conversation}/members/{member}", self._member)
        app.router.add_get("/_standin/counts", self._counts)
        app.router.add_post("/_standin/counts", self._reset)
        return app

    @property
    def url(self) -> str:
        return self.base_url + "/"

    async def _counts(self, request: web.Request) -> web.Response:
        return web.json_response(dataclasses.asdict(self.counts))

    async def _reset(self, request: web.Request) -> web.Response:
        """Starts counting afresh; the body `{"expect": "..."}` names the words to look for."""
        expect = (await request.json()).get("expect") or ""
        self.counts = ReplyCounts(expect=str(expect))
        return web.json_response(dataclasses.asdict(self.counts))

    def throttle_next(self, calls: int, retry_after: int) -> None:
        """Answer the next `calls` posts and puts 429 with Retry-After `retry_after` seconds."""
        self.retry_after = str(retry_after)
        self.throttle.extend([429] * calls)

    def times(self, conversation: str | None = None) -> list[float]:
        """When each post or put was received (in `conversation`, or anywhere)."""
        return [item["at"] for item in self.received
                if conversation is None or item["conversation"] == conversation]  # fmt: skip

    async def _post(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        self.attempts += 1
        conversation = request.match_info["conversation"].split(";messageid=", 1)[0]
        if conversation in self.removed_from:
            self.answered.append((conversation, at, 403))
            return web.json_response(
                {"error": {"code": "BotNotInConversationRoster",
                           "message": "The bot is not part of the conversation roster."}},
                status=403,
            )  # fmt: skip
        if self.throttle:
            status = self.throttle.pop(0)
            self.answered.append((conversation, at, status))
            retry_after = {"Retry-After": self.retry_after} if status == 429 else None
            return web.json_response({"error": {"code": "Throttled"}}, status=status,
                                     headers=retry_after)  # fmt: skip
        if not self.keep:
            raw = await request.read()
            self.counts.add(raw)
            return web.json_response({"id": f"activity-{self.counts.replies}"})
        body = await request.json()
        self.answered.append((conversation, at, 200))
        tenant = (body.get("conversation") or {}).get("tenantId") or (
            (body.get("channelData") or {}).get("tenant") or {}
        ).get("id")
        self.received.append({
            "method": request.method, "path": request.path, "body": body,
            "authorization": request.headers.get("Authorization"),
            "conversation": conversation, "tenant": tenant, "at": at,
        })  # fmt: skip
        return web.json_response({"id": f"activity-{len(self.received)}"})

    async def _member(self, request: web.Request) -> web.Response:
        member = request.match_info["member"]
        return web.json_response({"id": member, "name": "New Person", "aadObjectId": member})

    async def _channels(self, request: web.Request) -> web.Response:
        team = request.match_info["team"]
        return web.json_response({"conversations": [
            {"id": team, "name": None}, {"id": "19:sales@thread.tacv2", "name": "Sales"},
        ]})  # fmt: skip

    def group_of(self, team_id: str) -> str:
        """The team's Microsoft 365 group id, as its details tell it."""
        return self.groups.get(team_id) or str(uuid.uuid5(uuid.NAMESPACE_URL, f"team:{team_id}"))

    async def _team(self, request: web.Request) -> web.Response:
        team = request.match_info["team"]
        self.team_details_requests += 1
        if self.team_details_status is not None:
            return web.json_response({"error": {"code": "ServiceError"}},
                                     status=self.team_details_status)  # fmt: skip
        return web.json_response({"id": team, "name": "My Team", "aadGroupId": self.group_of(team)})

    def cards(self) -> list[dict[str, Any]]:
        return [
            attachment["content"]
            for item in self.received
            for attachment in item["body"].get("attachments") or []
        ]
