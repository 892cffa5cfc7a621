"""A linked enterprise's brand: its CSP's product name, logo and colour (contract 4,
GET /csp/getcspconfig for the enterprise's number), cached per enterprise. The deployment's
own brand wherever that cannot be had; a failed read is logged, never shown."""

from __future__ import annotations

import asyncio
import colorsys
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from bot.enterprise_info import EnterpriseInfo
from bot.expiring import Expiring
from contextsms import ContextSMSClient
from contextsms.errors import ContextSMSError
from contextsms.models import CspConfig
from contextsms.retry import Deadline

log = logging.getLogger("bot.branding")

# The colours Adaptive Cards let a host theme: a CSP's hex colour is shown as the nearest.
BrandColor = Literal["default", "accent", "good", "warning", "attention"]

# A turn waits this long for a brand it does not have (Teams gives a card action 5 s in all);
# the read goes on in the background and the next turn has it.
BRAND_WAIT = 1.0
# How long the background read may take, retries included.
READ_LIMIT = 10.0
# After a failed read the default is kept this long (at most the cache's own time), so a
# platform that is down costs each turn nothing rather than a second.
FAILED_KEPT = 30.0
PRODUCT_LIMIT = 40  # characters of a product name: it is in headings and sentences
LOGO_URL_LIMIT = 1024  # characters of a logo's address: it is on every card
_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")


@dataclass(frozen=True)
class Brand:
    product: str = "ContextSMS"
    logo_url: str | None = None  # https only; None when the CSP has none usable
    color: BrandColor = "accent"


def brand_color(value: str | None, default: BrandColor) -> BrandColor:
    """The Adaptive Cards colour nearest to a CSP's `#rrggbb`: greys, black and white are the
    host's default text colour; otherwise by hue (Teams' accent is blue to purple)."""
    found = _HEX.match(value.strip()) if value else None
    if found is None:
        return default
    digits = found.group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    red, green, blue = (int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))
    hue, saturation, brightness = colorsys.rgb_to_hsv(red, green, blue)
    if saturation < 0.25 or brightness < 0.2:
        return "default"
    degrees = hue * 360
    if degrees < 15 or degrees >= 330:
        return "attention"
    if degrees < 65:
        return "warning"
    if degrees < 170:
        return "good"
    return "accent"


def logo_url(value: str | None) -> str | None:
    """The logo's address when a card may show it: https, a host, no spaces, not too long."""
    if not value:
        return None
    url = value.strip()
    if len(url) > LOGO_URL_LIMIT or any(c.isspace() or not c.isprintable() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.username is not None or parts.password is not None:
        return None  # credentials in an address every reader's client would send
    return url if parts.scheme.lower() == "https" and parts.hostname else None


def product_name(value: str, default: str) -> str:
    """A product name as one short line (cards escape its markup where they show it)."""
    # Control characters part words; format characters (zero-width, direction overrides)
    # are dropped, as they are refused in mapping names.
    visible = "".join(_visible(c) for c in value)
    one_line = " ".join(visible.split())
    if not one_line:
        return default
    return one_line if len(one_line) <= PRODUCT_LIMIT else one_line[: PRODUCT_LIMIT - 1] + "…"


def _visible(char: str) -> str:
    category = unicodedata.category(char)
    return " " if category in ("Cc", "Zl", "Zp") else "" if category == "Cf" else char


def brand_of_config(config: CspConfig, default: Brand) -> Brand:
    return Brand(
        product=product_name(config.product_name, default.product),
        logo_url=logo_url(config.logo),
        color=brand_color(config.color, default.color),
    )


class Branding:
    """Brands of linked enterprises: `brand_of` never raises and never waits long; the
    deployment's `default` stands in wherever a brand cannot be had."""

    def __init__(
        self, client: ContextSMSClient, info: EnterpriseInfo, default: Brand, *, ttl: float = 600.0
    ) -> None:
        self.client = client
        self.info = info
        self.default = default
        self.ttl = ttl
        self.wait = BRAND_WAIT
        self._cache: Expiring[Brand] = Expiring(ttl)

    async def brand_of(self, enterprise_id: str | None) -> Brand:
        """The enterprise's brand; the default for None, and whenever it cannot be read."""
        if not enterprise_id:
            return self.default
        try:
            return await asyncio.wait_for(
                self._cache.get(enterprise_id, lambda: self._read(enterprise_id)), self.wait
            )
        except TimeoutError:
            log.warning(
                "brand of enterprise %r not read within %.1f s: the default brand this time",
                enterprise_id, self.wait,
            )  # fmt: skip
        except ContextSMSError:
            pass  # logged by the read, once for every turn that shared it
        return self.default

    async def _read(self, enterprise_id: str) -> Brand:
        limit = Deadline(READ_LIMIT)
        try:
            enterprise = await self.info.get(enterprise_id, limit)
            if not enterprise.number:
                return self.default
            config = await self.client.get_csp_config(enterprise.number, deadline=limit.remaining())
        except ContextSMSError as exc:
            # The kind of failure only: an error's text may quote the number.
            log.warning(
                "brand of enterprise %r unreadable (%s): the default brand for %.0f s",
                enterprise_id, type(exc).__name__, min(self.ttl, FAILED_KEPT),
            )  # fmt: skip
            self._cache.put(enterprise_id, self.default, ttl=min(self.ttl, FAILED_KEPT))
            raise
        return brand_of_config(config, self.default)
