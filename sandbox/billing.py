"""Stripe in the sandbox: the signed webhook that feeds payment state, and the payment check
(contract 15, 16)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import stripe
from aiohttp import web

from sandbox.settings import SandboxSettings
from sandbox.store import PAID_STATUSES, Store
from sandbox.wire import (
    ApiFailure,
    JsonObject,
    bad_request,
    email_field,
    parse_object,
    read_object,
    text_field,
)


@dataclass(frozen=True)
class StripeEvent:
    event_id: str
    event_type: str
    # Epoch seconds, as Stripe writes it; None when the sender left it out (the contract's
    # example has none), and then the event applies in the order it arrives.
    created: int | None
    obj: JsonObject

    @classmethod
    def parse(cls, body: JsonObject) -> StripeEvent:
        event_id = text_field(body, "id")
        event_type = text_field(body, "type")
        created = body.get("created")
        if created is not None and (type(created) is not int or created < 0):
            raise bad_request("Field 'created' must be a whole number of seconds")
        data = body.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict):
            raise bad_request("Missing required field 'data.object'")
        return cls(event_id, event_type, created, obj)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class Billing:
    def __init__(
        self,
        settings: SandboxSettings,
        store: Store,
        authorize: Callable[[web.Request], object],
    ) -> None:
        self.settings = settings
        self.store = store
        self.authorize = authorize

    async def check_payment(self, request: web.Request) -> web.Response:
        self.authorize(request)
        body = await read_object(request)
        email = email_field(body, "email")
        status = self.store.subscription_status(email)
        return web.json_response(
            {"email": email, "paid": status in PAID_STATUSES, "subscriptionStatus": status}
        )

    async def webhook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        signature = request.headers.get("Stripe-Signature")
        if not signature:
            raise bad_request("Missing Stripe-Signature header")
        try:
            stripe.WebhookSignature.verify_header(
                raw.decode("utf-8", errors="replace"),
                signature,
                self.settings.stripe_webhook_secret.get_secret_value(),
                self.settings.stripe_tolerance_seconds,
            )
        except stripe.SignatureVerificationError:
            raise bad_request("Invalid Stripe signature") from None
        event = StripeEvent.parse(parse_object(raw))
        if not self.store.record_event(event.event_id, event.event_type):
            # A replay (or Stripe redelivering): acknowledged, never applied twice.
            return web.json_response({"status": "received", "processed": False})
        try:
            applied = self.apply(event)
        except ApiFailure:
            self.store.forget_event(event.event_id)
            raise
        # An event older than one applied already is kept as received but changes nothing.
        return web.json_response({"status": "received", "processed": applied})

    def apply(self, event: StripeEvent) -> bool:
        obj = event.obj
        if event.event_type in ("customer.created", "customer.updated"):
            customer, email = _text(obj.get("id")), _text(obj.get("email"))
            if customer and email:
                self.store.set_customer(customer, email)
            return True
        if event.event_type == "checkout.session.completed":
            details = obj.get("customer_details")
            email = _text(obj.get("customer_email")) or (
                _text(details.get("email")) if isinstance(details, dict) else None
            )
            customer = _text(obj.get("customer"))
            if customer and email:
                self.store.set_customer(customer, email)
            subscription = _text(obj.get("subscription"))
            if subscription:
                return self.store.set_subscription(
                    subscription, "active", customer, email, event.created
                )
            return True
        if event.event_type.startswith("customer.subscription."):
            subscription, status = _text(obj.get("id")), _text(obj.get("status"))
            if not subscription or not status:
                raise bad_request("A subscription event needs data.object.id and status")
            if event.event_type == "customer.subscription.deleted":
                status = "canceled"
            metadata = obj.get("metadata")
            email = _text(metadata.get("email")) if isinstance(metadata, dict) else None
            return self.store.set_subscription(
                subscription, status, _text(obj.get("customer")), email, event.created
            )
        return True
