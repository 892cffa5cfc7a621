"""Demo data, made once (a restart finds it and changes nothing):

- the demo CSP, its CSP_BUSINESS account and its enterprise, whose subscription is active so
  that the bot maps numbers out of the box;
- a second enterprise of that CSP whose subscription was canceled: the bot refuses to map or
  move its numbers;
- a second CSP with a brand of its own (product name, colour, an https logo), its
  CSP_BUSINESS account and a paid enterprise of it;
- a partner account, which may act on both CSPs (one bot deployment serving both).
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.records import Enterprise, NewEnterprise
from sandbox.settings import SandboxSettings
from sandbox.store import Store

DEMO_EMAIL = "admin@example.com"
UNPAID_EMAIL = "billing@unpaid-demo.example"
SECOND_EMAIL = "office@northwind-clinic.example"
SECOND_PRODUCT = "Northwind Connect"
SECOND_COLOR = "#107C10"  # green: cards show it as Adaptive Cards' "good"
SECOND_LOGO = "https://placehold.co/96x96/107C10/FFFFFF/png?text=NW"


@dataclass(frozen=True)
class Seeded:
    csp_id: str
    username: str
    enterprise_id: str
    enterprise_name: str
    email: str
    unpaid_enterprise_id: str
    unpaid_enterprise_name: str
    unpaid_email: str
    second_csp_id: str
    second_product: str
    second_username: str
    second_enterprise_id: str
    second_enterprise_name: str
    second_email: str
    partner_username: str


def seed(store: Store, settings: SandboxSettings) -> Seeded:
    store.ensure_csp(
        settings.csp_id,
        name="Demo CSP",
        email="csp@example.com",
        carrier="BANDWIDTH",
        product_name="ContextSMS",
        color="#0F6CBD",
    )
    store.ensure_account(
        settings.username, settings.password.get_secret_value(), "CSP_BUSINESS", settings.csp_id
    )
    enterprises = store.enterprises(settings.csp_id)
    demo = (
        enterprises[0]
        if enterprises
        else store.create_enterprise(
            settings.csp_id,
            NewEnterprise(
                name=settings.enterprise_name,
                contact="Demo Contact",
                number="+15555550100",
                email=DEMO_EMAIL,
            ),
        )
    )
    subscribe_once(store, demo.email, "active")
    unpaid = ensure_enterprise(
        store,
        settings.csp_id,
        NewEnterprise(
            name=settings.unpaid_enterprise_name,
            contact="Una Paid",
            number="+15555550101",
            email=UNPAID_EMAIL,
        ),
    )
    subscribe_once(store, unpaid.email, "canceled")

    store.ensure_csp(
        settings.second_csp_id,
        name="Northwind Telecom",
        email="csp@northwind.example",
        carrier="BANDWIDTH",
        product_name=SECOND_PRODUCT,
        logo=SECOND_LOGO,
        color=SECOND_COLOR,
    )
    store.ensure_account(
        settings.second_username,
        settings.second_password.get_secret_value(),
        "CSP_BUSINESS",
        settings.second_csp_id,
    )
    second = ensure_enterprise(
        store,
        settings.second_csp_id,
        NewEnterprise(
            name="Northwind Demo Clinic",
            contact="Nora North",
            number="+15555550200",
            email=SECOND_EMAIL,
        ),
    )
    subscribe_once(store, second.email, "active")
    store.ensure_account(
        settings.partner_username, settings.partner_password.get_secret_value(), "CSP_PARTNER", None
    )
    return Seeded(
        csp_id=settings.csp_id,
        username=settings.username,
        enterprise_id=demo.enterprise_id,
        enterprise_name=demo.name,
        email=demo.email,
        unpaid_enterprise_id=unpaid.enterprise_id,
        unpaid_enterprise_name=unpaid.name,
        unpaid_email=unpaid.email,
        second_csp_id=settings.second_csp_id,
        second_product=SECOND_PRODUCT,
        second_username=settings.second_username,
        second_enterprise_id=second.enterprise_id,
        second_enterprise_name=second.name,
        second_email=second.email,
        partner_username=settings.partner_username,
    )


def ensure_enterprise(store: Store, csp_id: str, new: NewEnterprise) -> Enterprise:
    """The CSP's enterprise of that name, made if there is none."""
    found = next((e for e in store.enterprises(csp_id) if e.name == new.name), None)
    return found or store.create_enterprise(csp_id, new)


def subscribe_once(store: Store, email: str, status: str) -> None:
    """Give `email` a subscription in `status` unless it has one: a state reached later by
    Stripe's webhooks (a cancellation tried in the demo) survives a restart."""
    if store.subscription_status(email) is None:
        store.set_subscription(f"sub_seed_{email}", status, None, email, None)
