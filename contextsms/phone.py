"""Phone numbers: what people type, turned into the E.164 form the API speaks.

The contract checks E.164 as a format only (a *possible* number for its country), so the
vendor's fictional `+1 555 ...` examples are accepted here as they are by the platform.
"""

from __future__ import annotations

import re

import phonenumbers

E164_HINT = "an E.164 number such as +15551234567"
EXTENSION_PROBLEM = "an extension cannot be mapped, only the main number"

# A plus, a country code that cannot start with 0, and at most 15 digits in all.
_E164_SHAPE = re.compile(r"^\+[1-9]\d{1,14}$")


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we can put into E.164 form."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"{text!r} is not a valid phone number ({reason}); expected {E164_HINT}")
        self.text = text
        self.reason = reason


def is_e164(value: str) -> bool:
    """True when `value` is already a possible number written in strict E.164 form."""
    if not _E164_SHAPE.match(value):
        return False
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    return _length_problem(parsed) is None and _format(parsed) == value


def normalize(text: str, default_region: str = "US") -> str:
    """Return the E.164 form of a number as people write it.

    Accepts `+1 555 987 6543`, `(555) 987-6543`, `555.987.6543` (national numbers read in
    `default_region`) and `tel:` links. Raises InvalidPhoneNumber otherwise.
    """
    candidate = text.strip()
    if candidate.lower().startswith("tel:"):
        # RFC 3966: parameters (";ext=", ";phone-context=") follow the number.
        candidate, _, params = candidate[4:].partition(";")
        if any(p.strip().lower().startswith("ext=") for p in params.split(";")):
            raise InvalidPhoneNumber(text, EXTENSION_PROBLEM)
    if not candidate:
        raise InvalidPhoneNumber(text, "it is empty")
    if re.search(r"[A-Za-z]", candidate):
        # phonenumbers would map letters to keypad digits (1-800-FLOWERS); nobody types a
        # business line that way into a chat command, and it hides typos.
        raise InvalidPhoneNumber(text, "it contains letters")
    try:
        parsed = phonenumbers.parse(candidate, default_region.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(text, _parse_reason(exc)) from None
    if parsed.extension:
        raise InvalidPhoneNumber(text, EXTENSION_PROBLEM)
    problem = _length_problem(parsed)
    if problem is not None:
        raise InvalidPhoneNumber(text, problem)
    result = _format(parsed)
    if not _E164_SHAPE.match(result):
        raise InvalidPhoneNumber(text, "it has too many digits")
    return result


def national_format(e164: str) -> str:
    """The number as people of its country write it, e.g. `(555) 987-6543`."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL))


def _length_problem(parsed: phonenumbers.PhoneNumber) -> str | None:
    result = phonenumbers.is_possible_number_with_reason(parsed)
    if result == phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    return {
        phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "it lacks an area code",
        phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
        phonenumbers.ValidationResult.TOO_SHORT: "it has too few digits",
        phonenumbers.ValidationResult.TOO_LONG: "it has too many digits",
    }.get(result, "it has the wrong number of digits for its country")


def _format(parsed: phonenumbers.PhoneNumber) -> str:
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def _parse_reason(exc: phonenumbers.NumberParseException) -> str:
    reasons = {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "it is not a number",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "it has too few digits",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "it has too few digits",
        phonenumbers.NumberParseException.TOO_LONG: "it has too many digits",
    }
    return reasons.get(exc.error_type, "it is not a number")
