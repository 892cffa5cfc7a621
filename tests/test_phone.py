"""Phone numbers as people type them, turned into E.164."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contextsms.phone import InvalidPhoneNumber, is_e164, national_format, normalize


@pytest.mark.parametrize(
    "typed",
    [
        "+1 555 987 6543",
        "(555) 987-6543",
        "555.987.6543",
        "555-987-6543",
        "5559876543",
        "+15559876543",
        "1 (555) 987-6543",
        "tel:+1-555-987-6543",
        "TEL:+15559876543;phone-context=example.com",
        "  +1 555 987 6543  ",
    ],
)
def test_what_people_type_becomes_e164(typed: str) -> None:
    assert normalize(typed) == "+15559876543"


def test_default_region_reads_national_numbers() -> None:
    assert normalize("020 7946 0018", default_region="GB") == "+442079460018"
    assert normalize("+44 20 7946 0018") == "+442079460018"


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "empty"),
        ("hello", "letters"),
        ("1-800-FLOWERS", "letters"),
        ("555-0123", "lacks an area code"),
        ("555 98", "too few digits"),
        ("+1 555 987 65431234567", "too many digits"),
        ("+999 123 456", "unknown country code"),
        ("555 987 6543 ext. 12", "letters"),
        ("tel:+1-555-987-6543;ext=9", "an extension cannot be mapped"),
        ("TEL:+15559876543;phone-context=example.com;EXT=12", "an extension cannot be mapped"),
    ],
)
def test_invalid_numbers_say_why_and_name_the_format(typed: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize(typed)
    assert reason in str(caught.value)
    assert "E.164" in str(caught.value) and "+15551234567" in str(caught.value)


def test_is_e164_is_strict() -> None:
    assert is_e164("+15559876543")
    assert not is_e164("15559876543")
    assert not is_e164("+1 555 987 6543")
    assert not is_e164("+1555987654")  # too short for +1
    assert not is_e164("+0123456789")


def test_national_format() -> None:
    assert national_format("+15559876543") == "(555) 987-6543"
    assert national_format("not a number") == "not a number"


regions = st.sampled_from(["US", "GB", "DE", "FR", "IN", "AU", "BR", "JP", "CA", "ZA"])


@st.composite
def real_numbers(draw: st.DrawFn) -> phonenumbers.PhoneNumber:
    region = draw(regions)
    kind = draw(
        st.sampled_from(
            [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE]
        )
    )
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None
    return example


@given(real_numbers())
def test_every_written_form_of_a_number_gives_the_same_e164(
    number: phonenumbers.PhoneNumber,
) -> None:
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(number)
    assert region is not None
    international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    rfc3966 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.RFC3966)
    assert normalize(e164) == e164
    assert normalize(international) == e164
    assert normalize(rfc3966) == e164
    assert normalize(national, default_region=region) == e164
    assert is_e164(normalize(international))


@given(st.text(max_size=40))
def test_any_text_gives_e164_or_a_clear_error(text: str) -> None:
    try:
        result = normalize(text)
    except InvalidPhoneNumber as exc:
        assert "E.164" in str(exc)
    else:
        assert is_e164(result)
        assert normalize(result) == result
