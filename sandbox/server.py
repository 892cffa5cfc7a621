"""The sandbox ContextSMS server: the whole contract under /api/v2, on a real database.

Test controls live under /_sandbox (stats, faults, forced token expiry); they are part of the
sandbox only, never of the contract.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import stripe
from aiohttp import web

from contextsms.phone import E164_HINT, is_e164
from sandbox.auth import ACCESS, REFRESH, Principal, TokenError, TokenIssuer
from sandbox.faults import FaultPlan, Faults, ScriptedFault
from sandbox.settings import SandboxSettings
from sandbox.store import CSP_FIELDS, PAID_STATUSES, Conflict, Store

log = logging.getLogger("sandbox")

API = "/api/v2"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_TEXT = 200
MAX_SECRET = 4096
REQUEST_ID = web.RequestKey("request_id", str)


class ApiFailure(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad_request(message: str) -> ApiFailure:
    return ApiFailure(400, "BAD_REQUEST", message)


def not_found(message: str) -> ApiFailure:
    return ApiFailure(404, "NOT_FOUND", message)


def denied(message: str) -> ApiFailure:
    return ApiFailure(403, "PERMISSION_DENIED", message)


UNAUTHORIZED = ApiFailure(401, "UNAUTHORIZED", "Invalid or expired access token")


@dataclass
class Stats:
    logins: int = 0
    refreshes: int = 0
    rejected_tokens: int = 0
    requests: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "logins": self.logins,
            "refreshes": self.refreshes,
            "rejectedTokens": self.rejected_tokens,
            "requests": dict(self.requests),
        }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


NEWER_ENTERPRISE_FIELDS = {"defaultMmsSelection": False, "enterpriseFeatures": []}
NEWER_MAPPING_FIELDS = {"mmsEnabled": False, "mappingFeatures": []}


def enterprise_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "enterpriseId": row["enterprise_id"],
        "name": row["name"],
        "contact": row["contact"],
        "number": row["number"],
        "email": row["email"],
        "deleted": bool(row["deleted"]),
        "createdDate": row["created_date"],
        "updateDate": row["update_date"],
    }


def mapping_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "numberToMessageAppMapId": row["mapping_id"],
        "phoneNumber": row["phone_number"],
        "messagingAppType": row["messaging_app_type"],
        "messagingAppId": row["messaging_app_id"],
        "name": row["name"],
        "enterpriseId": row["enterprise_id"],
        "createdDate": row["created_date"],
        "updateDate": row["update_date"],
    }


def csp_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"cspId": row["csp_id"], **{_camel(f): row[f] for f in CSP_FIELDS}}


async def read_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Malformed JSON body") from None
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


def text_field(
    body: dict[str, Any], name: str, *, required: bool = True, max_length: int = MAX_TEXT
) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise bad_request(f"Missing required field '{name}'")
        return None
    if not isinstance(value, str):
        raise bad_request(f"Field '{name}' must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request(f"Field '{name}' is not valid text") from None
    if len(value) > max_length:
        raise bad_request(f"Field '{name}' is longer than {max_length} characters")
    return value


def phone_field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = text_field(body, name, required=required)
    if value is not None and not is_e164(value):
        raise bad_request(f"Invalid field '{name}': expected {E164_HINT}")
    return value


def email_field(body: dict[str, Any], name: str) -> str:
    value = text_field(body, name)
    assert value is not None
    if not EMAIL.match(value):
        raise bad_request(f"Invalid field '{name}': expected an email address")
    return value


def error_body(request: web.Request, status: int, message: str) -> dict[str, Any]:
    return {
        "error": message,
        "requestId": request[REQUEST_ID],
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


class SandboxApi:
    def __init__(self, settings: SandboxSettings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.tokens = TokenIssuer(
            store.secret("jwt-signing-key"),
            settings.access_token_ttl_seconds,
            settings.refresh_token_ttl_seconds,
        )
        self.faults = Faults(
            FaultPlan(
                latency_ms=settings.fault_latency_ms,
                error_rate=settings.fault_error_rate,
                seed=settings.fault_seed,
                path_prefix=API,
            )
        )
        self.stats = Stats()

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
            web.post(f"{API}/stripe/check-payment", self.check_payment),
            web.post(f"{API}/stripe/webhook", self.stripe_webhook),
            web.get("/_sandbox/stats", self.get_stats),
            web.post("/_sandbox/stats/reset", self.reset_stats),
            web.get("/_sandbox/faults", self.get_faults),
            web.put("/_sandbox/faults", self.put_faults),
            web.post("/_sandbox/revoke-tokens", self.revoke_tokens),
        ]

    def answer(
        self, data: dict[str, Any] | list[dict[str, Any]], newer: dict[str, Any], status: int = 200
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
            self.stats.rejected_tokens += 1
            raise UNAUTHORIZED
        try:
            principal = self.tokens.verify(token.strip(), ACCESS)
        except TokenError:
            self.stats.rejected_tokens += 1
            raise UNAUTHORIZED from None
        if self.store.account(principal.username) is None:
            raise UNAUTHORIZED
        return principal

    def csp_for(self, principal: Principal, csp_id: str, action: str) -> dict[str, Any]:
        csp = self.store.csp(csp_id)
        if csp is None:
            raise not_found("CSP not found")
        if not principal.may_act_on(csp_id):
            raise denied(f"CSP does not have permission to {action}")
        return csp

    def enterprise_for(self, principal: Principal, enterprise_id: str) -> dict[str, Any]:
        enterprise = self.store.enterprise(enterprise_id)
        if enterprise is None:
            raise not_found("Enterprise not found")
        if not principal.may_act_on(enterprise["csp_id"]):
            raise denied(f"CSP does not have permission to access enterprise {enterprise_id}")
        return enterprise

    def mapping_for(self, principal: Principal, mapping_id: str) -> dict[str, Any]:
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
        assert username is not None and password is not None
        account = self.store.authenticate(username, password)
        if account is None:
            raise ApiFailure(401, "UNAUTHORIZED", "Invalid username or password")
        self.stats.logins += 1
        return web.json_response(self.tokens.issue(account))

    async def refresh(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        username = text_field(body, "username")
        token = text_field(body, "refreshToken", max_length=MAX_SECRET)
        assert token is not None
        try:
            principal = self.tokens.verify(token, REFRESH)
        except TokenError:
            raise ApiFailure(401, "UNAUTHORIZED", "Invalid or expired refresh token") from None
        account = self.store.account(principal.username)
        if account is None or principal.username != username:
            raise ApiFailure(401, "UNAUTHORIZED", "Invalid or expired refresh token")
        self.stats.refreshes += 1
        return web.json_response(self.tokens.issue(account))

    # -- CSPs (3, 4, 7) ---------------------------------------------------------------------

    async def create_csp(self, request: web.Request) -> web.Response:
        principal = self.principal(request)
        body = await read_object(request)
        if not principal.is_partner:
            raise denied("Account does not have permission to create CSPs")
        fields: dict[str, Any] = {"email": email_field(body, "email")}
        for name in CSP_FIELDS[1:]:
            fields[name] = text_field(body, _camel(name), required=name != "carrier")
        fields["carrier"] = fields["carrier"] or "BANDWIDTH"
        return web.json_response(csp_json(self.store.create_csp(fields)), status=201)

    async def csp_config(self, request: web.Request) -> web.Response:
        number = request.query.get("phoneNumber", "")
        if number.startswith(" ") and number[1:].isdigit():
            number = "+" + number[1:]  # an unencoded '+' in a query string reads as a space
        phone = phone_field({"phoneNumber": number}, "phoneNumber")
        assert phone is not None
        csp = self.store.csp_of_phone(phone) or {
            "product_name": "ContextSMS", "favicon": None, "logo": None, "color": "#000000",
        }  # fmt: skip
        return web.json_response(
            {
                "productName": csp["product_name"],
                "favicon": csp["favicon"],
                "logo": csp["logo"],
                "color": csp["color"],
            }
        )

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
        fields = {
            "name": text_field(body, "name"),
            "contact": text_field(body, "contact"),
            "number": phone_field(body, "number"),
            "email": email_field(body, "email"),
        }
        enterprise = self.store.create_enterprise(csp_id, fields)  # type: ignore[arg-type]
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
        fields = {
            "phoneNumber": phone_field(body, "phoneNumber"),
            "messagingAppType": text_field(body, "messagingAppType"),
            "messagingAppId": text_field(body, "messagingAppId"),
            "name": text_field(body, "name", required=False),
        }
        try:
            mapping = self.store.add_mapping(enterprise_id, fields)
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
        assert app_id is not None
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
        changes: dict[str, Any] = {}
        if "messagingAppId" in body:
            changes["messagingAppId"] = text_field(body, "messagingAppId")
        if "phoneNumber" in body:
            changes["phoneNumber"] = phone_field(body, "phoneNumber")
        if "name" in body:
            changes["name"] = text_field(body, "name", required=False)
        if not changes:
            raise bad_request("Nothing to update: give messagingAppId, phoneNumber or name")
        try:
            updated = self.store.update_mapping(mapping_id, changes)
        except Conflict as exc:
            raise self.conflict(exc, mapping["enterprise_id"]) from None
        return web.json_response(mapping_json(updated))

    async def delete_mapping(self, request: web.Request) -> web.Response:
        principal = self.principal(request)
        mapping_id = request.match_info["mapId"]
        self.mapping_for(principal, mapping_id)
        self.store.delete_mapping(mapping_id)
        return web.Response(text=f"Deleted mapping {mapping_id}")

    # -- Stripe (15, 16) --------------------------------------------------------------------

    async def check_payment(self, request: web.Request) -> web.Response:
        self.principal(request)
        body = await read_object(request)
        email = email_field(body, "email")
        status = self.store.subscription_status(email)
        return web.json_response(
            {"email": email, "paid": status in PAID_STATUSES, "subscriptionStatus": status}
        )

    async def stripe_webhook(self, request: web.Request) -> web.Response:
        payload = (await request.read()).decode("utf-8", errors="replace")
        signature = request.headers.get("Stripe-Signature")
        if not signature:
            raise bad_request("Missing Stripe-Signature header")
        try:
            stripe.WebhookSignature.verify_header(
                payload,
                signature,
                self.settings.stripe_webhook_secret.get_secret_value(),
                self.settings.stripe_tolerance_seconds,
            )
        except stripe.SignatureVerificationError:
            raise bad_request("Invalid Stripe signature") from None
        event = await read_object(request)
        event_id = text_field(event, "id")
        event_type = text_field(event, "type")
        data = event.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict):
            raise bad_request("Missing required field 'data.object'")
        assert event_id is not None and event_type is not None
        if not self.store.record_event(event_id, event_type):
            # A replay (or Stripe redelivering): acknowledged, never applied twice.
            return web.json_response({"status": "received", "processed": False})
        try:
            self.apply_stripe_event(event_type, obj)
        except ApiFailure:
            self.store.forget_event(event_id)
            raise
        return web.json_response({"status": "received", "processed": True})

    def apply_stripe_event(self, event_type: str, obj: dict[str, Any]) -> None:
        def text(value: Any) -> str | None:
            return value if isinstance(value, str) and value else None

        if event_type in ("customer.created", "customer.updated"):
            if text(obj.get("id")) and text(obj.get("email")):
                self.store.set_customer(obj["id"], obj["email"])
        elif event_type == "checkout.session.completed":
            details = obj.get("customer_details")
            email = text(obj.get("customer_email")) or (
                text(details.get("email")) if isinstance(details, dict) else None
            )
            customer = text(obj.get("customer"))
            if customer and email:
                self.store.set_customer(customer, email)
            subscription = text(obj.get("subscription"))
            if subscription:
                self.store.set_subscription(subscription, "active", customer, email)
        elif event_type.startswith("customer.subscription."):
            subscription = text(obj.get("id"))
            status = text(obj.get("status"))
            if not subscription or not status:
                raise bad_request("A subscription event needs data.object.id and status")
            if event_type == "customer.subscription.deleted":
                status = "canceled"
            metadata = obj.get("metadata")
            email = text(metadata.get("email")) if isinstance(metadata, dict) else None
            self.store.set_subscription(subscription, status, text(obj.get("customer")), email)

    # -- test controls ----------------------------------------------------------------------

    async def get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.as_json())

    async def reset_stats(self, request: web.Request) -> web.Response:
        self.stats = Stats()
        return web.json_response(self.stats.as_json())

    async def get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.faults.plan.model_dump())

    async def put_faults(self, request: web.Request) -> web.Response:
        try:
            plan = FaultPlan.model_validate(await read_object(request))
        except ValueError as exc:
            raise bad_request(f"Invalid fault plan: {exc.__class__.__name__}") from None
        if not plan.path_prefix:
            plan.path_prefix = API
        self.faults.set(plan)
        return web.json_response(plan.model_dump())

    async def revoke_tokens(self, request: web.Request) -> web.Response:
        body = await read_object(request) if request.can_read_body else {}
        refresh = body.get("refresh") is True
        self.tokens.expire_issued(refresh=refresh)
        return web.json_response({"access": True, "refresh": refresh})

    # -- middlewares ------------------------------------------------------------------------

    @web.middleware
    async def log_requests(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        request[REQUEST_ID] = f"req-{secrets.token_hex(6)}"
        # Counted on arrival: an answer held back by an injected delay counts in its own test.
        resource = request.match_info.route.resource
        if resource is not None:
            self.stats.requests[f"{request.method} {resource.canonical}"] += 1
        started = time.monotonic()
        status = 500
        try:
            response = await handler(request)
            status = response.status
        finally:
            log.info(
                "%s %s %s %.1fms %s",
                request.method,
                request.path,
                status,
                (time.monotonic() - started) * 1000,
                request[REQUEST_ID],
            )
        response.headers["X-Request-Id"] = request[REQUEST_ID]
        return response

    @web.middleware
    async def inject_faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = self.faults.take(request.method, request.path)
        if fault is None:
            return await handler(request)
        if fault.after_handler:
            await handler(request)
        if fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault.status is None:
            return await handler(request)
        return self.fault_response(request, fault)

    def fault_response(self, request: web.Request, fault: ScriptedFault) -> web.Response:
        assert fault.status is not None
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
        reason = HTTPStatus(fault.status).phrase
        if fault.html:
            page = f"<html><body><h1>{fault.status} {reason}</h1></body></html>"
            return web.Response(
                status=fault.status, text=page, content_type="text/html", headers=headers
            )
        message = "Internal server error" if fault.status == 500 else str(reason)
        return web.json_response(
            error_body(request, fault.status, message), status=fault.status, headers=headers
        )

    @web.middleware
    async def json_errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiFailure as failure:
            return web.json_response(
                {"error": failure.message, "code": failure.code}, status=failure.status
            )
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            code = {404: "NOT_FOUND", 405: "BAD_REQUEST"}.get(exc.status, "BAD_REQUEST")
            return web.json_response({"error": exc.reason, "code": code}, status=exc.status)
        except Exception:
            log.exception("unhandled error in %s %s", request.method, request.path)
            return web.json_response(error_body(request, 500, "Internal server error"), status=500)


SANDBOX_KEY: web.AppKey[SandboxApi] = web.AppKey("sandbox", SandboxApi)


def create_app(settings: SandboxSettings, store: Store | None = None) -> web.Application:
    """The sandbox as an aiohttp app. Seed it with `sandbox.seed.seed()` first."""
    store = store or Store(settings.db)
    api = SandboxApi(settings, store)
    app = web.Application(
        middlewares=[api.log_requests, api.inject_faults, api.json_errors],
        client_max_size=256 * 1024,
    )
    app.add_routes(api.routes())
    app[SANDBOX_KEY] = api

    async def close_store(_: web.Application) -> None:
        store.close()

    app.on_cleanup.append(close_store)
    return app
