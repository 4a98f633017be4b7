"""Made-up personal numbers for demo households: valid in form (check digit, a real mobile prefix) so they
pass the same checks as typed ones, and random, so they belong to nobody."""

from __future__ import annotations

import random
from datetime import date

from dibao.identity import with_check_digit

MOBILE_PREFIXES = ("133", "135", "136", "138", "139", "150", "151", "158", "177", "180", "186", "187", "189")


def id_number(rng: random.Random, birth: date, place: str = "341399") -> str:
    return with_check_digit(f"{place}{birth:%Y%m%d}{rng.randint(0, 999):03d}")


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + "".join(str(rng.randint(0, 9)) for _ in range(8))
