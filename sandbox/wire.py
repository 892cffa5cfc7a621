"""The contract's wire format at the sandbox's edge: request bodies and their fields in, records
and errors out, in the camelCase the contract speaks. Everything inside is snake_case."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from sandbox.phone import E164_HINT, is_e164
from sandbox.records import Csp, Enterprise, Mapping

log = logging.getLogger("sandbox")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JsonObject = dict[str, Any]
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


# -- in ---------------------------------------------------------------------------------------


def parse_object(raw: bytes) -> JsonObject:
    try:
        body = json.loads(raw or b"null")
    except RecursionError:
        # No body of the contract nests more than a few levels; the parser's limit is the
        # interpreter's stack, and running out of it is the client's doing, not a crash.
        raise bad_request("Malformed JSON body: nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Malformed JSON body") from None
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


async def read_object(request: web.Request) -> JsonObject:
    return parse_object(await request.read())


def optional_text(body: JsonObject, name: str, *, max_length: int = MAX_TEXT) -> str | None:
    value = body.get(name)
    if value is None or value == "":
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


def text_field(body: JsonObject, name: str, *, max_length: int = MAX_TEXT) -> str:
    value = optional_text(body, name, max_length=max_length)
    if value is None:
        raise bad_request(f"Missing required field '{name}'")
    return value


def phone_field(body: JsonObject, name: str) -> str:
    value = text_field(body, name)
    if not is_e164(value):
        raise bad_request(f"Invalid field '{name}': expected {E164_HINT}")
    return value


def email_field(body: JsonObject, name: str) -> str:
    value = text_field(body, name)
    if not EMAIL.match(value):
        raise bad_request(f"Invalid field '{name}': expected an email address")
    return value


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# -- out --------------------------------------------------------------------------------------

NEWER_ENTERPRISE_FIELDS = {"defaultMmsSelection": False, "enterpriseFeatures": []}
NEWER_MAPPING_FIELDS = {"mmsEnabled": False, "mappingFeatures": []}


def enterprise_json(enterprise: Enterprise) -> JsonObject:
    return {
        "enterpriseId": enterprise.enterprise_id,
        "name": enterprise.name,
        "contact": enterprise.contact,
        "number": enterprise.number,
        "email": enterprise.email,
        "deleted": enterprise.deleted,
        "createdDate": enterprise.created_date,
        "updateDate": enterprise.update_date,
    }


def mapping_json(mapping: Mapping) -> JsonObject:
    return {
        "numberToMessageAppMapId": mapping.mapping_id,
        "phoneNumber": mapping.phone_number,
        "messagingAppType": mapping.messaging_app_type,
        "messagingAppId": mapping.messaging_app_id,
        "name": mapping.name,
        "enterpriseId": mapping.enterprise_id,
        "createdDate": mapping.created_date,
        "updateDate": mapping.update_date,
    }


def csp_json(csp: Csp) -> JsonObject:
    return {
        "cspId": csp.csp_id,
        "email": csp.email,
        "name": csp.name,
        "carrier": csp.carrier,
        "houseNumber": csp.house_number,
        "streetName": csp.street_name,
        "city": csp.city,
        "stateCode": csp.state_code,
        "zip": csp.zip,
        "country": csp.country,
        "locationId": csp.location_id,
        "subAccountId": csp.sub_account_id,
        "authorizingPersonName": csp.authorizing_person_name,
    }


def branding_json(csp: Csp | None) -> JsonObject:
    if csp is None:
        return {"productName": "ContextSMS", "favicon": None, "logo": None, "color": "#000000"}
    return {
        "productName": csp.product_name,
        "favicon": csp.favicon,
        "logo": csp.logo,
        "color": csp.color,
    }


def server_error_body(request: web.Request, message: str) -> JsonObject:
    """The contract's 5xx shape: a request id to report and the time."""
    return {
        "error": message,
        "requestId": request[REQUEST_ID],
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure in the contract's error shape; never a trace to the caller."""
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
        log.exception("unhandled error in %s %r", request.method, request.path)
        return web.json_response(server_error_body(request, "Internal server error"), status=500)
