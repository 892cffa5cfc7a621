"""E.164 as the contract checks it, written apart from the client's parser on purpose: a fake
that shared the client's check would let one bug pass on both sides.

The contract: `+`, a country code (never starting with 0), at most 15 digits in all, and a
length that fits the country (what `phonenumbers` calls a *possible* number). Whether the number
is assigned is not checked, so the vendor's fictional `+1 555 ...` examples are accepted.
"""

from __future__ import annotations

import re

import phonenumbers

E164_HINT = "an E.164 number such as +15551234567"

# ASCII digits only: `\d` would also take other scripts' digits.
_SHAPE = re.compile(r"\+[1-9][0-9]{1,14}")


def is_e164(value: str) -> bool:
    if not _SHAPE.fullmatch(value):
        return False
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    possible = phonenumbers.is_possible_number_with_reason(number)
    written = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # A number possible only locally lacks its area code; the platform stores whole numbers.
    return possible == phonenumbers.ValidationResult.IS_POSSIBLE and written == value
