"""The sandbox ContextSMS server: the whole contract under /api/v2, on a real database.

The wire format lives in wire.py, Stripe in billing.py, and the test controls under /_sandbox
(stats, faults, forced token expiry) in controls.py; they are part of the sandbox only, never of
the contract.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from sandbox.auth import ACCESS, REFRESH, Principal, TokenError, TokenIssuer
from sandbox.billing import Billing
from sandbox.controls import Controls
from sandbox.faults import FaultPlan
from sandbox.records import (
    Csp,
    Enterprise,
    Mapping,
    MappingChanges,
    NewCsp,
    NewEnterprise,
    NewMapping,
)
from sandbox.settings import SandboxSettings
from sandbox.store import Conflict, Store
from sandbox.wire import (
    MAX_SECRET,
    NEWER_ENTERPRISE_FIELDS,
    NEWER_MAPPING_FIELDS,
    REQUEST_ID,
    UNAUTHORIZED,
    ApiFailure,
    Handler,
    JsonObject,
    bad_request,
    branding_json,
    csp_json,
    denied,
    email_field,
    enterprise_json,
    json_errors,
    mapping_json,
    not_found,
    optional_text,
    phone_field,
    read_object,
    text_field,
)

log = logging.getLogger("sandbox")

API = "/api/v2"


class SandboxApi:
    def __init__(self, settings: SandboxSettings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.tokens = TokenIssuer(
            store.secret("jwt-signing-key"),
            settings.access_token_ttl_seconds,
            settings.refresh_token_ttl_seconds,
        )
        self.controls = Controls(
            self.tokens,
            FaultPlan(
                latency_ms=settings.fault_latency_ms,
                error_rate=settings.fault_error_rate,
                seed=settings.fault_seed,
                path_prefix=API,
            ),
        )
        self.billing = Billing(settings, store, self.principal)
        # Password hashing takes tens of milliseconds of CPU: done in threads so the event loop
        # goes on serving, and in few of them, so that a flood of logins leaves a core free
        # for every other request.
        self.hashing = ThreadPoolExecutor(
            max_workers=max(1, (os.cpu_count() or 2) - 1), thread_name_prefix="sandbox-login"
        )

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(f"{API}/auth/login", self.login),
            web.post(f"{API}/auth/getaccesstoken", self.refresh),
            web.post(f"{API}/csp", self.create_csp),
            web.get(f"{API}/csp/getcspconfig", self.csp_config),
            web.get(f"{API}/csp/enterprises/{{cspId}}", self.list_enterprises),
            web.post(f"{API}/enterprise/{{cspId}}", self.create_enterprise),
            web.get(f"{API}/enterprise/getenterprise/{{enterpriseId}}", self.get_enterprise),
            web.delete(
                f"{API}/enterprise/deleteenterprise/{{enterpriseId}}", self.delete_enterprise
            ),
            web.post(f"{API}/mapping/add/{{enterpriseId}}", self.add_mapping),
            web.get(
                f"{API}/numbertomessageappmapping/enterprise/{{enterpriseId}}",
                self.list_mappings,
            ),
            web.get(f"{API}/mapping/csp/{{cspId}}", self.list_csp_mappings),
            web.post(f"{API}/mapping/messagingAppId", self.mapping_by_app_id),
            web.put(f"{API}/mapping/{{mapId}}", self.update_mapping),
            web.delete(f"{API}/mapping/{{mapId}}", self.delete_mapping),
            web.post(f"{API}/stripe/check-payment", self.billing.check_payment),
            web.post(f"{API}/stripe/webhook", self.billing.webhook),
            *self.controls.routes(),
        ]

    def answer(
        self, data: JsonObject | list[JsonObject], newer: JsonObject, status: int = 200
    ) -> web.Response:
        if self.settings.newer_reference:
            items = data if isinstance(data, list) else [data]
            for item in items:
                item.update(newer)
        return web.json_response(data, status=status)

    # -- authorisation --------------------------------------------------------------------

    def principal(self, request: web.Request) -> Principal:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            self.controls.stats.rejected_tokens += 1
            raise UNAUTHORIZED
        try:
            principal = self.tokens.verify(token.strip(), ACCESS)
        except TokenError:
            self.controls.stats.rejected_tokens += 1
            raise UNAUTHORIZED from None
        if self.store.account(principal.username) is None:
            raise UNAUTHORIZED
        return principal

    def csp_for(self, principal: Principal, csp_id: str, action: str) -> Csp:
        csp = self.store.csp(csp_id)
        if csp is None:
            raise not_found("CSP not found")
        if not principal.may_act_on(csp_id):
            raise denied(f"CSP does not have permission to {action}")
        return csp

    def enterprise_for(self, principal: Principal, enterprise_id: str) -> Enterprise:
        enterprise = self.store.enterprise(enterprise_id)
        if enterprise is None:
            raise not_found("Enterprise not found")
        if not principal.may_act_on(enterprise.csp_id):
            raise denied(f"CSP does not have permission to access enterprise {enterprise_id}")
        return enterprise

    def mapping_for(self, principal: Principal, mapping_id: str) -> Mapping:
        found = self.store.mapping_with_csp(mapping_id)
        if found is None:
            raise not_found("Mapping not found")
        mapping, owner_csp = found
        if not principal.may_act_on(owner_csp):
            raise denied(f"CSP does not have permission to access mapping {mapping_id}")
        return mapping

    def conflict(self, exc: Conflict, enterprise_id: str) -> ApiFailure:
        where = (
            "in this enterprise" if exc.enterprise_id == enterprise_id else "to another enterprise"
        )
        return ApiFailure(
            409, "DUPLICATE_MAPPING", f"Phone number {exc.phone_number} is already mapped {where}"
        )

    # -- auth (1, 2) ------------------------------------------------------------------------

    async def login(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        username = text_field(body, "username")
        password = text_field(body, "password", max_length=MAX_SECRET)
        account = await asyncio.get_running_loop().run_in_executor(
            self.hashing, self.store.authenticate, username, password
        )
        if account is None:
            raise ApiFailure(401, "UNAUTHORIZED", "Invalid username or password")
        self.controls.stats.logins += 1
        return web.json_response(self.tokens.issue(account))

    async def refresh(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        username = text_field(body, "username")
        token = text_field(body, "refreshToken", max_length=MAX_SECRET)
        try:
            principal = self.tokens.verify(token, REFRESH)
        except TokenError:
            raise ApiFailure(401, "UNAUTHORIZED", "Invalid or expired refresh token") from None
        account = self.store.account(principal.username)
        if account is None or principal.username != username:
            raise ApiFailure(401, "UNAUTHORIZED", "Invalid or expired refresh token")
        self.controls.stats.refreshes += 1
        return web.json_response(self.tokens.issue(account))

    # -- CSPs (3, 4, 7) ---------------------------------------------------------------------

    async def create_csp(self, request: web.Request) -> web.Response:
        principal = self.principal(request)
        body = await read_object(request)
        if not principal.is_partner:
            raise denied("Account does not have permission to create CSPs")
        new = NewCsp(
            email=email_field(body, "email"),
            name=text_field(body, "name"),
            carrier=optional_text(body, "carrier") or "BANDWIDTH",
            house_number=text_field(body, "houseNumber"),
            street_name=text_field(body, "streetName"),
            city=text_field(body, "city"),
            state_code=text_field(body, "stateCode"),
            zip=text_field(body, "zip"),
            country=text_field(body, "country"),
            location_id=text_field(body, "locationId"),
            sub_account_id=text_field(body, "subAccountId"),
            authorizing_person_name=text_field(body, "authorizingPersonName"),
        )
        return web.json_response(csp_json(self.store.create_csp(new)), status=201)

    async def csp_config(self, request: web.Request) -> web.Response:
        number = request.query.get("phoneNumber", "")
        if number.startswith(" ") and number[1:].isdigit():
            number = "+" + number[1:]  # an unencoded '+' in a query string reads as a space
        phone = phone_field({"phoneNumber": number}, "phoneNumber")
        return web.json_response(branding_json(self.store.csp_of_phone(phone)))

    async def list_enterprises(self, request: web.Request) -> web.Response:
        principal = self.principal(request)
        csp_id = request.match_info["cspId"]
        self.csp_for(principal, csp_id, "list these enterprises")
        return web.json_response([enterprise_json(e) for e in self.store.enterprises(csp_id)])

    # -- enterprises (5, 6, 8) --------------------------------------------------------------

    async def create_enterprise(self, request: web.Request) -> web.Response:
        principal = self.principal(request)
        csp_id = request.match_info["cspId"]
        body = await read_object(request)
        self.csp_for(principal, csp_id, "create enterprises")
        new = NewEnterprise(
            name=text_field(body, "name"),
            contact=text_field(body, "contact"),
            number=phone_field(body, "number"),
            email=email_field(body, "email"),
        )
        enterprise = self.store.create_enterprise(csp_id, new)
        return self.answer(enterprise_json(enterprise), NEWER_ENTERPRISE_FIELDS, status=201)

    async def get_enterprise(self, request: web.Request) -> web.Response:
        principal = self.principal(request)
        enterprise = self.enterprise_for(principal, request.match_info["enterpriseId"])
        return self.answer(enterprise_json(enterprise), NEWER_ENTERPRISE_FIELDS)

    async def delete_enterprise(self, request: web.Request) -> web.Response:
        principal = self.principal(request)
        enterprise_id = request.match_info["enterpriseId"]
        self.enterprise_for(principal, enterprise_id)
        self.store.delete_enterprise(enterprise_id)
        return web.Response(text=f"Deleted enterprise {enterprise_id}")

    # -- mappings (9 to 14) -----------------------------------------------------------------

    async def add_mapping(self, request: web.Request) -> web.Response:
        principal = self.principal(request)
        enterprise_id = request.match_info["enterpriseId"]
        body = await read_object(request)
        self.enterprise_for(principal, enterprise_id)
        new = NewMapping(
            phone_number=phone_field(body, "phoneNumber"),
            messaging_app_type=text_field(body, "messagingAppType"),
            messaging_app_id=text_field(body, "messagingAppId"),
            name=optional_text(body, "name"),
        )
        try:
            mapping = self.store.add_mapping(enterprise_id, new)
        except Conflict as exc:
            raise self.conflict(exc, enterprise_id) from None
        status = 201 if self.settings.newer_reference else 200
        return self.answer(mapping_json(mapping), NEWER_MAPPING_FIELDS, status=status)

    async def list_mappings(self, request: web.Request) -> web.Response:
        principal = self.principal(request)
        enterprise_id = request.match_info["enterpriseId"]
        self.enterprise_for(principal, enterprise_id)
        rows = self.store.mappings_of_enterprise(enterprise_id)
        return self.answer([mapping_json(m) for m in rows], NEWER_MAPPING_FIELDS)

    async def list_csp_mappings(self, request: web.Request) -> web.Response:
        principal = self.principal(request)
        csp_id = request.match_info["cspId"]
        self.csp_for(principal, csp_id, "list these mappings")
        return web.json_response([mapping_json(m) for m in self.store.mappings_of_csp(csp_id)])

    async def mapping_by_app_id(self, request: web.Request) -> web.Response:
        principal = self.principal(request)
        body = await read_object(request)
        app_id = text_field(body, "messagingAppId")
        scope = None if principal.is_partner else principal.csp_id
        mapping = self.store.mapping_by_app_id(app_id, scope)
        if mapping is None:
            raise not_found("Mapping not found")
        return web.json_response(mapping_json(mapping))

    async def update_mapping(self, request: web.Request) -> web.Response:
        principal = self.principal(request)
        mapping_id = request.match_info["mapId"]
        body = await read_object(request)
        mapping = self.mapping_for(principal, mapping_id)
        changes: MappingChanges = {}
        if "messagingAppId" in body:
            changes["messaging_app_id"] = text_field(body, "messagingAppId")
        if "phoneNumber" in body:
            changes["phone_number"] = phone_field(body, "phoneNumber")
        if "name" in body:
            changes["name"] = optional_text(body, "name")
        if not changes:
            raise bad_request("Nothing to update: give messagingAppId, phoneNumber or name")
        try:
            updated = self.store.update_mapping(mapping_id, changes)
        except Conflict as exc:
            raise self.conflict(exc, mapping.enterprise_id) from None
        return web.json_response(mapping_json(updated))

    async def delete_mapping(self, request: web.Request) -> web.Response:
        principal = self.principal(request)
        mapping_id = request.match_info["mapId"]
        self.mapping_for(principal, mapping_id)
        self.store.delete_mapping(mapping_id)
        return web.Response(text=f"Deleted mapping {mapping_id}")

    # -- the request log --------------------------------------------------------------------

    @web.middleware
    async def log_requests(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        request[REQUEST_ID] = f"req-{secrets.token_hex(6)}"
        # Counted on arrival: an answer held back by an injected delay counts in its own test.
        resource = request.match_info.route.resource
        if resource is not None:
            self.controls.stats.requests[f"{request.method} {resource.canonical}"] += 1
        started = time.monotonic()
        status = 500
        try:
            response = await handler(request)
            status = response.status
        finally:
            log.info(
                "%s %s %s %.1fms %s",
                request.method,
                request.rel_url.raw_path,  # percent-encoded as sent: no control characters
                status,
                (time.monotonic() - started) * 1000,
                request[REQUEST_ID],
            )
        response.headers["X-Request-Id"] = request[REQUEST_ID]
        return response


SANDBOX_KEY: web.AppKey[SandboxApi] = web.AppKey("sandbox", SandboxApi)


def create_app(settings: SandboxSettings, store: Store | None = None) -> web.Application:
    """The sandbox as an aiohttp app. Seed it with `sandbox.seed.seed()` first."""
    store = store or Store(settings.db)
    api = SandboxApi(settings, store)
    app = web.Application(
        middlewares=[api.log_requests, api.controls.inject_faults, json_errors],
        client_max_size=256 * 1024,
    )
    app.add_routes(api.routes())
    app[SANDBOX_KEY] = api

    async def close_store(_: web.Application) -> None:
        api.hashing.shutdown(wait=True)
        store.close()

    app.on_cleanup.append(close_store)
    return app
