"""Phone numbers: the plain-mobile shortcut of ``identity.normalise_phone`` decides exactly as phonenumbers'
own parse does (the shortcut exists only for speed: a roster import checks a phone per household)."""

import random

import phonenumbers
import pytest

from dibao.errors import Invalid
from dibao.identity import normalise_phone


def _by_parse(raw: str) -> str | None:
    """What phonenumbers says of the number, parsed the long way: the stored form, or None when refused."""
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 86:
        return None
    kind = phonenumbers.number_type(number)
    if kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return str(number.national_number)
    return "landline" if kind != phonenumbers.PhoneNumberType.UNKNOWN else None


def _ours(raw: str) -> str | None:
    try:
        stored = normalise_phone(raw)
    except Invalid:
        return None
    return "landline" if "-" in stored else stored


def test_every_eleven_digit_number_starting_with_1_is_decided_as_phonenumbers_parse_decides():
    rng = random.Random(13)
    numbers = [f"{prefix}{rng.randrange(10 ** 8):08d}" for prefix in range(100, 200) for _ in range(40)]
    numbers += ["17951234567", "17911112222", "11012345678", "12345678901", "13912345678"]
    differ = [raw for raw in numbers if _ours(raw) != _by_parse(raw)]
    assert differ == []
    assert sum(_ours(raw) is not None for raw in numbers) > 1000  # most mobiles are accepted, the shortcut taken


@pytest.mark.parametrize("raw, stored", [("139 1234 5678", "13912345678"), ("0551-12345678", "0551-12345678"),
                                         ("(0551)12345678", "0551-12345678"), ("010-12345678", "010-12345678")])
def test_typed_forms_are_stored_in_one_form(raw, stored):
    assert normalise_phone(raw) == stored


@pytest.mark.parametrize("raw", ["12345678901", "1391234567", "139123456789", "17951", "abc"])
def test_what_is_not_a_phone_number_is_refused_with_a_message(raw):
    with pytest.raises(Invalid) as refused:
        normalise_phone(raw)
    assert "电话号码格式不对" in str(refused.value.message)


def _in(digits: str, number: str) -> str:
    """``number`` with its ASCII digits written in another script's (digits[0] … digits[9])."""
    return "".join(digits[int(c)] if c.isascii() and c.isdigit() else c for c in number)


@pytest.mark.parametrize("spoil", [
    lambda n: n[:16] + "³" + n[17],  # a superscript: a digit to str.isdigit(), not to int()
    lambda n: "①" + n[1:],  # a circled digit, as some input methods offer
    lambda n: _in("٠١٢٣٤٥٦٧٨٩", n),  # Arabic-Indic digits: int() reads them, a keyed hash would not match
    lambda n: _in("०१२३४५६७८९", n),  # Devanagari
])
def test_an_id_number_in_other_digits_is_refused_with_a_message(spoil):
    from dibao.identity import normalise_id_number, with_check_digit

    number = with_check_digit("34010219600101001")
    assert normalise_id_number(number) == number
    with pytest.raises(Invalid, match="身份证号码应为 18 位"):
        normalise_id_number(spoil(number))


def test_an_id_number_in_full_width_digits_is_stored_in_ascii():
    from dibao.identity import normalise_id_number, with_check_digit

    number = with_check_digit("34010219600101001")
    assert normalise_id_number(_in("０１２３４５６７８９", number)) == number
