"""Personal identifiers: resident ID numbers and phone numbers — validated with the libraries the field uses
(python-stdnum, phonenumbers), normalised to one stored form, and masked for lists.

These values are for staff only: no public channel ever shows them (dibao.disclosure never receives them).
"""

from __future__ import annotations

from datetime import date

import phonenumbers
from flask_babel import lazy_gettext as _l
from stdnum import luhn
from stdnum.cn import ric

from dibao.errors import Invalid


def normalise_id_number(value: str | None, *, field: str = "head_id_number", required: bool = True) -> str | None:
    """An 18-character resident ID number (居民身份证号码) with a valid birth date and check digit.

    ``ric.validate`` would also look the first six digits up by the birth year, but a code is the one in force
    when the number was issued (from 1984), so everyone born before their county's code existed would be
    refused — most elderly applicants. The place is therefore not checked.
    """
    if value and not _is_compact_id(value):  # a number already in its stored form needs no cleaning (imports)
        value = ric.compact(value)
    if not value:
        if required:
            raise Invalid(_l("请填写身份证号码。"), field=field)
        return None
    # ASCII only: isdigit() also admits ³ and ① (int() refuses them) and other scripts' digits (int() reads them,
    # and the keyed hash of such a number would differ from the same number's in ASCII).
    if (len(value) != 18 or not value.isascii() or not value[:17].isdigit()
            or not (value[17].isdigit() or value[17] == "X")):
        raise Invalid(_l("身份证号码应为 18 位（最后一位可以是 X）。"), field=field)
    try:  # digits 7–14 (what ric.get_birth_date reads, after cleaning the number once more: a roster import
        # checks tens of thousands)
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise Invalid(_l("身份证号码中的出生日期不对，请核对。"), field=field) from None
    if ric.calc_check_digit(value) != value[17]:
        raise Invalid(_l("身份证号码校验不通过，请逐位核对。"), field=field)
    return value


def _is_compact_id(value: str) -> bool:
    """18 ASCII characters, digits but for a last X: what ric.compact leaves unchanged."""
    return (len(value) == 18 and value.isascii() and value[:17].isdigit()
            and (value[17].isdigit() or value[17] == "X"))


def is_valid_id_number(value: str) -> bool:
    """Whether ``value`` is a whole resident ID number by the rules of :func:`normalise_id_number` (birth date
    and check digit; no message: for searches)."""
    try:
        return bool(normalise_id_number(value))
    except Invalid:
        return False


def with_check_digit(first17: str) -> str:
    """The 18-character number for 17 digits (demo data and tests make valid numbers with it)."""
    return first17 + ric.calc_check_digit(first17 + "0")


def with_luhn_digit(base: str) -> str:
    """A bank card number for its leading digits (demo data and tests make valid cards with it)."""
    return base + luhn.calc_check_digit(base)


_MOBILE_SECOND = frozenset("3456789")


def normalise_phone(value: str | None, *, field: str = "head_phone") -> str | None:
    """A mainland mobile (11 digits) or landline with its area code; stored as typed digits with one dash
    after the area code (0551-12345678) so staff can read and dial it. Empty → None."""
    raw = "".join(ch for ch in (value or "") if not ch.isspace() and ch not in "()（）")
    if not raw:
        return None
    if len(raw) == 11 and raw.isascii() and raw.isdigit() and raw[0] == "1" and raw[1] in _MOBILE_SECOND \
            and not raw.startswith("179"):
        # A plain mobile: what parse gives for it, without parse's scanning for prefixes (a fifth of a roster
        # import's checks; tests compare the two). 11… and 179… may start a dialling prefix: parse decides those.
        number = phonenumbers.PhoneNumber(country_code=86, national_number=int(raw))
    else:
        try:
            number = phonenumbers.parse(raw, "CN")
        except phonenumbers.NumberParseException:
            number = None
    # number_type is UNKNOWN exactly when is_valid_number is false; asking once (and formatting only landlines)
    # halves the cost of a roster import's phone column.
    kind = phonenumbers.number_type(number) if number is not None and number.country_code == 86 else None
    if kind in (None, phonenumbers.PhoneNumberType.UNKNOWN):
        raise Invalid(_l("电话号码格式不对：手机 11 位，固定电话如 0551-12345678。"), field=field)
    if kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return str(number.national_number)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL).replace(" ", "")
    return national if "-" in national else _with_area_dash(national)


def _with_area_dash(national: str) -> str:
    # phonenumbers formats Chinese landlines as "0551 1234 5678"; keep the area code apart with a dash.
    digits = national.replace("-", "")
    area = 3 if digits[:2] in ("01", "02") else 4
    return f"{digits[:area]}-{digits[area:]}"


def mask_id(value: str | None) -> str:
    """35*************123 (first 2, last 3)."""
    if not value:
        return ""
    if len(value) <= 5:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 5) + value[-3:]


def mask_phone(value: str | None) -> str:
    """138****1234 (first 3, last 4)."""
    if not value:
        return ""
    digits = value.replace("-", "")
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def normalise_account_number(value: str | None, *, luhn_checked: bool, field: str = "account_number") -> str:
    """A payment account number (bank card, 社保卡, 一卡通): digits only, 8 to 30 of them; a bank card's last
    digit is a Luhn check digit, which catches most typing mistakes."""
    digits = value or ""
    if not (digits.isascii() and digits.isdigit()):  # most numbers arrive as plain digits (an import)
        digits = "".join(ch for ch in digits if not ch.isspace() and ch != "-")
    if not digits:
        raise Invalid(_l("请填写账号。"), field=field)
    if not digits.isascii() or not digits.isdigit() or not 8 <= len(digits) <= 30:
        raise Invalid(_l("账号应为 8 到 30 位数字。"), field=field)
    if luhn_checked and not 12 <= len(digits) <= 19:
        raise Invalid(_l("银行卡号应为 12 到 19 位数字。"), field=field)
    if luhn_checked and not luhn.is_valid(digits):
        raise Invalid(_l("银行卡号校验不通过，请逐位核对。"), field=field)
    return digits


def mask_account(value: str | None) -> str:
    """6222 **** **** 1234 (first 4, last 4)."""
    if not value:
        return ""
    if len(value) <= 8:
        return "*" * len(value)
    return f"{value[:4]} **** **** {value[-4:]}"
