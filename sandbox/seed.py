"""Demo data: a CSP, a CSP_BUSINESS account of it and an enterprise, made once."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.records import NewEnterprise
from sandbox.settings import SandboxSettings
from sandbox.store import Store


@dataclass(frozen=True)
class Seeded:
    csp_id: str
    username: str
    enterprise_id: str
    enterprise_name: str


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
    enterprise = (
        enterprises[0]
        if enterprises
        else store.create_enterprise(
            settings.csp_id,
            NewEnterprise(
                name=settings.enterprise_name,
                contact="Demo Contact",
                number="+15555550100",
                email="admin@example.com",
            ),
        )
    )
    return Seeded(settings.csp_id, settings.username, enterprise.enterprise_id, enterprise.name)
