"""The amount (保障金额) and the regional standard (低保标准).

    monthly amount = (standard − counted monthly income per person) × household size, never below 0

computed for the household as ``standard × size − counted income`` (the same formula without rounding
the per-person figure first), in Decimal, rounded half up to 0.01 yuan.

* Counted income excludes awards and scholarships, special-care pensions and assistance payments
  (REGULATIONS "Amount", A 13); each member's allowed costs (illness, disability, work) are deducted.
* A 三无 household (no income, no work capacity, no supporter) gets the full standard for every member.
* A county may calculate by tiers instead (分档, REGULATIONS "Amount", A 23): its standard lists tiers (一档, 二档…),
  each a share of the standard per person, staff choose a household's tier with a written reason, and the amount
  is ``standard × share × size``. Without a chosen tier there is no computed amount.
* Staff may override the computed amount only with a written reason.
* A household that does not qualify but whose income per person is below 1.5 × the standard is marginal
  (低保边缘).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, func, select
from sqlalchemy.orm import Session

from dibao import audit, clock, scope
from dibao.db import chunks
from dibao.errors import Conflict, Invalid, Problems, collect
from dibao.models import AmountChange, AmountPeriod, Case, Region, User
from dibao.models.records import Standard, StandardMethod, StandardTier
from dibao.text import clean_line

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MARGINAL_FACTOR = Decimal("1.5")

# source code → (label, counted?)
INCOME_SOURCES: dict[str, tuple[object, bool]] = {
    "wage": (_l("工资性收入"), True),
    "business": (_l("经营性收入"), True),
    "farming": (_l("种养殖收入"), True),
    "property": (_l("财产性收入（租金、利息）"), True),
    "pension": (_l("养老金、退休金"), True),
    "support": (_l("赡养费、抚（扶）养费"), True),
    "other": (_l("其他收入"), True),
    "award": (_l("奖励金、奖学金（不计入）"), False),
    "special_care": (_l("优抚对象抚恤金、补助金（不计入）"), False),
    "assistance": (_l("社会救助金、临时救助金（不计入）"), False),
}

ADMIN_ONLY = _l("只有系统管理员可以设置低保标准。")
MAX_STANDARD_NOTE = 200  # (Standard.note)
MAX_TIER_NAME = 20  # (StandardTier.name, Case.tier_name)
MAX_TIERS = 10
MIN_TIER_REASON = 4  # as an override's reason

METHOD_LABELS = {StandardMethod.gap: _l("差额"), StandardMethod.tiered: _l("分档")}
TIER_NEEDED = _l("本地区低保标准按分档计算：请选择该户的分档。")  # an approval or adjustment without a tier


def round_money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def summed_money(value) -> Decimal:
    """A sum of amounts as the database hands it back (SQLite: a float or text; PostgreSQL: a Decimal), in yuan
    to the cent."""
    return Decimal(value).quantize(CENT)


def parse_money(text: str | Decimal | None, *, field_name: str, allow_empty: bool = False) -> Decimal | None:
    """A yuan amount typed by staff: non-negative, at most two decimals."""
    if text is None or (isinstance(text, str) and not text.strip()):
        if allow_empty:
            return None
        raise Invalid(_l("请填写金额。"), field=field_name)
    try:
        value = Decimal(str(text).strip().replace(",", "").replace("，", ""))
    except InvalidOperation:
        raise Invalid(_l("金额格式不对，请填写数字，例如 780 或 780.50。"), field=field_name) from None
    if not value.is_finite():  # NaN, Infinity
        raise Invalid(_l("金额格式不对，请填写数字，例如 780 或 780.50。"), field=field_name)
    if value < 0:
        raise Invalid(_l("金额不能为负数。"), field=field_name)
    if value >= Decimal("1000000"):  # before quantize: 1e308 has no place for two decimals
        raise Invalid(_l("金额过大，请核对。"), field=field_name)
    if value != value.quantize(CENT):
        raise Invalid(_l("金额最多保留两位小数（分）。"), field=field_name)
    return value.quantize(CENT)


def source_label(source: str) -> str:
    entry = INCOME_SOURCES.get(source)
    return str(entry[0]) if entry else source


def is_counted(source: str) -> bool:
    entry = INCOME_SOURCES.get(source)
    return entry[1] if entry else True  # an unknown source counts: never exclude by accident


@dataclass
class IncomeLine:
    member: str
    source: str
    label: str
    amount: Decimal
    counted: bool
    note: str = ""


@dataclass
class DeductionLine:
    member: str
    amount: Decimal
    note: str


@dataclass
class Computation:
    """Every step of the amount, for the case page and for the stored figures."""

    size: int
    standard: Decimal | None
    standard_from: date | None = None
    standard_region: str = ""
    no_income_no_capacity_no_supporter: bool = False  # 三无
    incomes: list[IncomeLine] = field(default_factory=list)
    deductions: list[DeductionLine] = field(default_factory=list)
    gross_income: Decimal = ZERO  # all incomes
    excluded_income: Decimal = ZERO
    counted_income: Decimal = ZERO  # gross − excluded
    deduction_total: Decimal = ZERO
    net_income: Decimal = ZERO  # max(counted − deductions, 0): the household's monthly income
    per_person: Decimal = ZERO
    gap_per_person: Decimal = ZERO
    computed: Decimal | None = None
    override: Decimal | None = None
    override_reason: str | None = None
    marginal: bool = False
    # 分档: the standard's method; the household's tier (by name), its share (%) and the amount per person
    method: StandardMethod = StandardMethod.gap
    tiers: list[tuple[str, int]] = field(default_factory=list)  # the standard's tiers, (name, share %)
    tier_name: str | None = None
    tier_reason: str | None = None
    tier_share: int | None = None
    tier_per_person: Decimal | None = None
    # under 差额: the tier the household keeps by name from an earlier 分档 standard, not applied now (it applies
    # again should 分档 return with a tier of that name; the case page says so)
    dormant_tier: str | None = None

    @property
    def tiered(self) -> bool:
        return self.method == StandardMethod.tiered

    @property
    def tier_missing(self) -> bool:
        """Under 分档, no amount for want of a tier: none chosen yet, or one the standard in force does not have."""
        return (self.tiered and self.standard is not None and self.size > 0 and self.computed is None
                and not self.no_income_no_capacity_no_supporter and self.tier_share is None)

    @property
    def amount(self) -> Decimal | None:
        """What applies: the override when staff gave one, otherwise the computed figure."""
        return self.override if self.override is not None else self.computed

    @property
    def qualifies(self) -> bool:
        return self.computed is not None and self.computed > 0

    @property
    def household_standard(self) -> Decimal | None:
        return None if self.standard is None else round_money(self.standard * self.size)

    @property
    def marginal_line(self) -> Decimal | None:
        return None if self.standard is None else round_money(self.standard * MARGINAL_FACTOR)


def compute(case: Case, standard: Decimal | None, *, standard_from: date | None = None,
            standard_region: str = "", method: StandardMethod = StandardMethod.gap,
            tiers: Sequence[tuple[str, int]] = ()) -> Computation:
    """The amount under ``standard`` calculated by ``method``: 差额, or 分档 with the standard's ``tiers`` (name,
    share %) and the case's tier chosen by name."""
    size = len(case.members)
    method = StandardMethod(method)
    result = Computation(size=size, standard=standard, standard_from=standard_from,
                         standard_region=standard_region, no_income_no_capacity_no_supporter=case.no_income_no_capacity_no_supporter,
                         override=case.override_amount, override_reason=case.override_reason,
                         method=method, tiers=list(tiers))
    if result.tiered:
        result.tier_name, result.tier_reason = case.tier_name, case.tier_reason
    elif standard is not None:
        result.dormant_tier = case.tier_name
    for member in case.members:
        for income in member.incomes:
            counted = is_counted(income.source)
            amount = Decimal(income.monthly_amount)
            result.incomes.append(IncomeLine(member.name, income.source, source_label(income.source), amount,
                                             counted, income.note or ""))
            result.gross_income += amount
            if not counted:
                result.excluded_income += amount
        if member.monthly_deduction and Decimal(member.monthly_deduction) > 0:
            result.deductions.append(DeductionLine(member.name, Decimal(member.monthly_deduction),
                                                   member.deduction_note or ""))
            result.deduction_total += Decimal(member.monthly_deduction)
    result.counted_income = result.gross_income - result.excluded_income
    result.net_income = max(result.counted_income - result.deduction_total, ZERO)
    if size:
        result.per_person = round_money(result.net_income / size)
    if standard is None or size == 0:
        return result
    if result.no_income_no_capacity_no_supporter:
        result.gap_per_person = standard
        result.computed = round_money(standard * size)
        return result
    result.gap_per_person = max(standard - result.per_person, ZERO)
    if result.tiered:
        # 分档 changes how the amount is reckoned, not who qualifies (A 23): income per person at or above the
        # standard gets nothing, whatever the tier, and may be marginal as under 差额.
        if result.gap_per_person <= 0:
            result.computed = ZERO
            result.marginal = result.net_income < standard * MARGINAL_FACTOR * size
            return result
        # standard × share per person (to the cent, as the case page shows it), × household size; income decides
        # the tier (staff's judgement), not the figure
        share = dict(result.tiers).get(case.tier_name) if case.tier_name else None
        if share is None:
            return result
        result.tier_share = share
        result.tier_per_person = round_money(standard * share / 100)
        result.computed = round_money(result.tier_per_person * size)
        return result
    result.computed = max(round_money(standard * size - result.net_income), ZERO)
    if not result.qualifies and result.net_income < standard * MARGINAL_FACTOR * size:
        result.marginal = True
    return result


# --- standards ------------------------------------------------------------------------------------------

def _ancestor_codes(region: Region) -> list[str]:
    return [code for code in region.path.split("/") if code]


def find_standard(session: Session, region: Region, on: date, *,
                  excluding: int | Collection[int] | None = None) -> Standard | None:
    """The standard in force for ``region`` on ``on``: the nearest region up the tree that has one. ``excluding``:
    a standard's id (or ids) to leave out (the one a set standard follows, as if it were being set now; and one
    about to be deleted)."""
    codes = _ancestor_codes(region)
    stmt = (
        select(Standard)
        .join(Region, Standard.region_id == Region.id)
        .where(Region.code.in_(codes), Standard.effective_from <= on)
        .order_by(func.length(Region.path).desc(), Standard.effective_from.desc())
        .limit(1)
    )
    if excluding is not None:
        stmt = stmt.where(Standard.id.not_in([excluding] if isinstance(excluding, int) else list(excluding)))
    return session.scalar(stmt)


def standards_in_force(session: Session, regions: Sequence[Region], on: date) -> dict[int, Standard | None]:
    """:func:`find_standard` of many regions at once (region id → its standard on ``on``): the standards of every
    region at or above them read in one pass, each region taking its nearest — a province's communities in a few
    statements rather than one each."""
    codes = sorted({code for region in regions for code in _ancestor_codes(region)})
    latest: dict[str, Standard] = {}  # region code → its own latest standard on ``on``
    for chunk in chunks(codes):
        for found, code in session.execute(select(Standard, Region.code).join(Region, Standard.region_id == Region.id)
                                           .where(Region.code.in_(chunk), Standard.effective_from <= on)):
            if code not in latest or found.effective_from > latest[code].effective_from:
                latest[code] = found
    return {region.id: next((latest[code] for code in reversed(_ancestor_codes(region)) if code in latest), None)
            for region in regions}


def compute_under(case: Case, standard: Standard | None) -> Computation:
    """:func:`compute` under a stored standard: its amount, method and tiers."""
    if standard is None:
        return compute(case, None)
    return compute(case, Decimal(standard.monthly_amount), standard_from=standard.effective_from,
                   standard_region=standard.region.name, method=standard.method,
                   tiers=standard.tier_shares)


def compute_for(session: Session, case: Case, on: date | None = None) -> Computation:
    on = on or clock.today()
    return compute_under(case, find_standard(session, case.region, on))


def refresh(session: Session, case: Case, *, update_payment: bool) -> Computation:
    """Store the current computation on the case; ``update_payment`` also sets the amount that applies."""
    session.flush()
    session.refresh(case, attribute_names=["members"])
    result = compute_for(session, case)
    case.computed_amount = result.computed
    case.household_income = round_money(result.net_income)
    case.marginal = result.marginal
    if update_payment:
        case.monthly_amount = result.amount
    return result


def override_reason(amount: Decimal | None, reason: str | None) -> str | None:
    """The written reason an override of the computed amount needs (None: no override, no reason kept)."""
    if amount is None:
        return None
    reason = (reason or "").strip()
    if len(reason) < 4:
        raise Invalid(_l("调整核算金额必须写明理由。"), field="override_reason")
    return reason


def set_override(case: Case, amount: Decimal | None, reason: str | None) -> None:
    """An override of the computed amount: only with a written reason. ``None`` removes it."""
    reason = override_reason(amount, reason)
    case.override_amount = amount
    case.override_reason = reason


@dataclass
class TierChoice:
    """A tier staff chose for a household (分档), checked, with its written reason."""

    name: str
    reason: str


def tier_choice(session: Session, case: Case, tier: str | None, reason: str | None) -> TierChoice | None:
    """The tier typed (chosen) for ``case``, checked against the standard in force: one of its tiers, with a written
    reason. None when nothing changes (no tier chosen, or the one the household has)."""
    tier = clean_line(tier).strip()
    if not tier or tier == case.tier_name:
        return None
    standard = find_standard(session, case.region, clock.today())
    if standard is None or standard.method != StandardMethod.tiered:
        raise Invalid(_l("本地区的低保标准按差额计算，不分档。"), field="tier")
    if tier not in {t.name for t in standard.tiers}:
        raise Invalid(_l("请从现行低保标准的分档中选择。"), field="tier")
    reason = clean_line(reason).strip()
    if len(reason) < MIN_TIER_REASON:
        raise Invalid(_l("选择或改变分档必须写明理由（至少 %(n)d 个字）。", n=MIN_TIER_REASON), field="tier_reason")
    if len(reason) > 2000:
        raise Invalid(_l("内容太长，请精简到 %(n)d 字以内。", n=2000), field="tier_reason")
    return TierChoice(tier, reason)


def set_tier(session: Session, actor: User, case: Case, choice: TierChoice | None) -> None:
    """Give ``case`` the tier ``choice`` (from :func:`tier_choice`; None: nothing changes), audited."""
    if choice is None:
        return
    before = case.tier_name
    case.tier_name, case.tier_reason = choice.name, choice.reason
    audit.record(session, actor, "tier_chosen", "case", case.id, region_id=case.region_id,
                 details={"before": before, "after": choice.name, "reason": choice.reason})


def list_standards(session: Session, actor: User) -> list[Standard]:
    stmt = (
        select(Standard)
        .join(Region, Standard.region_id == Region.id)
        .where(scope.subtree_condition(actor.region))
        .order_by(Region.path, Standard.effective_from.desc())
    )
    return list(session.scalars(stmt))


@dataclass
class TierRow:
    """One tier as typed in the standards form: a name and a share of the standard (%, 1–100)."""

    name: str | None
    share: str | int | None


def parse_share(text: str | int | None, *, field_name: str) -> int:
    """A tier's share of the standard as typed: a whole percentage from 1 to 100 ("70", "70%")."""
    value = str(text if text is not None else "").strip().rstrip("%％").strip()
    if not value:
        raise Invalid(_l("请填写该档占低保标准的比例。"), field=field_name)
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= 100:
        raise Invalid(_l("比例须是 1 到 100 之间的整数（百分比），例如 70。"), field=field_name)
    return int(value)


def _tiers(problems: Problems, rows: Sequence[TierRow]) -> list[tuple[str, int]]:
    """The tiers typed (rows with anything in them), checked: a name, unique, and a share of 1–100%."""
    out: list[tuple[str, int]] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        name = clean_line(row.name).strip()
        share_typed = row.share if isinstance(row.share, int) else clean_line(row.share).strip()
        if not name and share_typed in ("", None):
            continue
        if not name:
            problems.add(f"tiers-{i}-name", _l("请填写分档名称，例如“一档”。"))
        elif len(name) > MAX_TIER_NAME:
            problems.add(f"tiers-{i}-name", _l("分档名称最多 %(n)d 个字。", n=MAX_TIER_NAME))
        elif name in seen:
            problems.add(f"tiers-{i}-name", _l("分档名称“%(name)s”重复了，各档名称须不同。", name=name))
        seen.add(name)
        share = problems.check(parse_share, share_typed, field_name=f"tiers-{i}-share")
        if name and share is not None:
            out.append((name, share))
    if len(out) > MAX_TIERS:
        problems.add("tiers", _l("最多设置 %(n)d 档。", n=MAX_TIERS))
    return out


def set_standard(session: Session, actor: User, *, region: Region | None, amount: Decimal | str | None,
                 effective_from: date | None, note: str = "", method: StandardMethod | str | None = None,
                 tiers: Sequence[TierRow] = ()) -> Standard:
    """A new standard for ``region`` from ``effective_from``. ``amount`` as typed (checked by :func:`parse_money`)
    or a Decimal; every problem is reported at once, before anything is written. ``region`` None: none chosen, or
    one the form's list does not offer.

    ``method`` 差额 or 分档 (None or "": as the standard it follows, the one in force there on that date; 差额 when
    there is none). A 分档 standard without ``tiers`` typed takes those of the standard it follows; with tiers, it
    must keep every tier name of that standard, since a household's tier is kept by name (a 提标 must not leave a
    household without one). Looking forward the same: a 分档 standard already set that will follow the new one
    (:func:`_followers`: scheduled later in the region, or a region below's first own standard) must keep every
    tier name of the new one, or households given a new tier in between would lose it on that date."""
    scope.require_admin(actor, ADMIN_ONLY)
    if region is not None:
        scope.require_in_scope(actor, region)
    note = (note or "").strip()
    follows = find_standard(session, region, effective_from) if region is not None and effective_from else None
    followed_tiers = follows.tier_shares if follows is not None and follows.method == StandardMethod.tiered else []
    with collect() as problems:
        if method in (None, ""):
            method = follows.method if follows is not None else StandardMethod.gap
        elif method not in {m.value for m in StandardMethod}:
            problems.add("method", _l("请选择计算方法：差额或分档。"))
            method = None
        if method is not None:
            method = StandardMethod(method)
        typed_tiers = _tiers(problems, tiers)
        chosen_tiers: list[tuple[str, int]] = []
        if method == StandardMethod.gap and typed_tiers:
            problems.add("method", _l("按差额计算的标准不设分档：请清空各档，或将计算方法选为“分档”。"))
        elif method == StandardMethod.tiered:
            chosen_tiers = typed_tiers or followed_tiers
            typed_any = any(clean_line(row.name).strip() or clean_line(str(row.share or "")).strip() for row in tiers)
            if not chosen_tiers and not typed_any:  # (rows typed wrong say so beside them)
                problems.add("tiers", _l("按分档计算时至少要设置一档（名称和占标准的比例）。"))
            kept = {name for name, _share in chosen_tiers}
            missing = [name for name, _share in followed_tiers if name not in kept]
            if typed_tiers and missing:
                problems.add("tiers", _l("新标准须保留现行标准的各档名称（各户按名称对应分档）：缺少%(names)s。",
                                         names="、".join(missing)))
            if region is not None and effective_from is not None and chosen_tiers:
                for later in _followers(session, region, effective_from):
                    later_names = {t.name for t in later.tiers}
                    dropped = [name for name, _share in chosen_tiers if name not in later_names]
                    if later.method == StandardMethod.tiered and dropped:
                        problems.add("tiers", _l(
                            "%(day)s 起执行的%(region)s低保标准已经设定，它须保留新标准的各档名称（各户按名称对应分档，"
                            "否则选了这些档的家庭到时将没有分档）：它缺少%(names)s。请不设这些档，或先删除那条标准再重新设置。",
                            day=later.effective_from.isoformat(), region=later.region.name, names="、".join(dropped)))

        if region is None:
            problems.add("region_id", _l("请选择适用区划。"))
        amount = problems.check(parse_money, amount, field_name="monthly_amount")
        if amount is not None and amount <= 0:
            problems.add("monthly_amount", _l("低保标准必须大于 0。"))
        if effective_from is None:
            problems.add("effective_from", _l("请填写生效日期。"))
        elif region is not None and session.scalar(
                select(Standard.id).where(Standard.region_id == region.id,
                                          Standard.effective_from == effective_from)) is not None:
            problems.add_error(Conflict(_l("%(region)s 在 %(day)s 已有一条标准，请换一个生效日期。",
                                           region=region.name, day=effective_from.isoformat()),
                                        field="effective_from"))
        if len(note) > MAX_STANDARD_NOTE:
            problems.add("note", _l("依据最多 %(n)d 个字。", n=MAX_STANDARD_NOTE))
    standard = Standard(region=region, monthly_amount=amount, effective_from=effective_from,
                        note=note, method=method, created_by_id=actor.id, created_at=clock.now(),
                        tiers=[StandardTier(position=i, name=name, share_percent=share)
                               for i, (name, share) in enumerate(chosen_tiers)])
    session.add(standard)
    session.flush()
    details = {"region": region.code, "amount": str(amount), "effective_from": effective_from.isoformat(),
               "method": method.value}
    if chosen_tiers:
        details["tiers"] = tier_summary(chosen_tiers)
    audit.record(session, actor, "standard_set", "standard", standard.id, region_id=region.id, details=details)
    return standard


def _followers(session: Session, region: Region, day: date) -> list[Standard]:
    """The standards already set that a new standard for ``region`` from ``day`` would come before: those whose
    standard in force just before them (:func:`find_standard` on their date, themselves left out — what
    :func:`set_standard` would find had they been set after it) would be the new one. Of ``region`` and each region
    below it only the first standard from ``day`` on can be one (a later one follows that first); a region below
    follows the new one only while neither it nor a region between has a standard of its own by then."""
    followers = []
    # (one of ``region`` on ``day`` itself is refused as a clash)
    for later in _firsts(session, region, day, lambda found: found.region_id == region.id
                         and found.effective_from == day):
        before = find_standard(session, later.region, later.effective_from, excluding=later.id)
        # find_standard's order: the nearest region, then the latest date
        if before is None or (len(region.path), day) > (len(before.region.path), before.effective_from):
            followers.append(later)
    return sorted(followers, key=lambda s: (s.effective_from, s.region.path))


def _firsts(session: Session, region: Region, day: date, skip: Callable[[Standard], bool]) -> list[Standard]:
    """Of ``region`` and each region below it, the first standard from ``day`` on (those ``skip`` says, left out):
    the only ones that can follow a standard of ``region`` from ``day`` (a later one follows that first)."""
    first: dict[int, Standard] = {}
    for found in session.scalars(select(Standard).join(Region, Standard.region_id == Region.id)
                                 .where(scope.subtree_condition(region), Standard.effective_from >= day)
                                 .order_by(Standard.effective_from, Standard.id)):
        if not skip(found):
            first.setdefault(found.region_id, found)
    return list(first.values())


def _followers_of(session: Session, standard: Standard) -> list[Standard]:
    """The standards already set that follow ``standard``: those whose standard just before them
    (:func:`find_standard` on their date, themselves left out) is it — of its region and each region below only
    the first standard from its date on can be one (as in :func:`_followers`)."""
    followers = []
    for later in _firsts(session, standard.region, standard.effective_from, lambda found: found.id == standard.id):
        before = find_standard(session, later.region, later.effective_from, excluding=later.id)
        if before is not None and before.id == standard.id:
            followers.append(later)
    return sorted(followers, key=lambda s: (s.effective_from, s.region.path))


def tier_summary(tiers: Sequence[tuple[str, int]]) -> str:
    """"一档 100%、二档 70%": a standard's tiers in one line (the audit log and the standards list)."""
    return "、".join(f"{name} {share}%" for name, share in tiers)


def delete_standard(session: Session, actor: User, standard_id: int) -> None:
    """Only a standard that has not yet taken effect may be removed (past ones are history), and only while each
    分档 standard that followed it keeps the tier names of the one it would then follow (:func:`_followers_of`)."""
    scope.require_admin(actor, ADMIN_ONLY)
    standard = scope.get(session, actor, Standard, standard_id, _l("没有找到该标准。"))
    if standard.effective_from <= clock.today():
        raise Conflict(_l("已经生效的标准不能删除；如需调整，请新增一条标准。"))
    # Without it, each standard that followed it follows the one before it: a 分档 one must then keep that one's
    # tier names (as set_standard asks of a standard set after another), or its households would lose their tier.
    for later in _followers_of(session, standard):
        if later.method != StandardMethod.tiered:
            continue
        before = find_standard(session, later.region, later.effective_from, excluding=(later.id, standard.id))
        if before is None or before.method != StandardMethod.tiered:
            continue
        later_names = {t.name for t in later.tiers}
        lacking = [t.name for t in before.tiers if t.name not in later_names]
        if lacking:
            raise Conflict(_l(
                "不能删除这条标准：%(day)s 起执行的%(region)s低保标准按分档计算，删除后它将接续 %(before_day)s 起执行的"
                "%(before_region)s低保标准，却缺少其中的%(names)s（各户按名称对应分档，选了这些档的家庭到时将没有分档）。"
                "请先删除那条标准，再按需要重新设置。",
                day=later.effective_from.isoformat(), region=later.region.name,
                before_day=before.effective_from.isoformat(), before_region=before.region.name,
                names="、".join(lacking)))
    audit.record(session, actor, "standard_deleted", "standard", standard.id, region_id=standard.region_id,
                 details={"amount": str(standard.monthly_amount),
                          "effective_from": standard.effective_from.isoformat()})
    session.delete(standard)


# --- the amount in force, month by month (保障金额的变动) ----------------------------------------------------

AMOUNT_CHANGE_LABELS = {
    AmountChange.approved: _l("审批同意，开始发放"),
    AmountChange.adjusted: _l("调整保障金额"),
    AmountChange.standard_raised: _l("提标"),
    AmountChange.reviewed: _l("复核后重新核定"),
    AmountChange.household_changed: _l("家庭成员变化"),
    AmountChange.transferred: _l("迁移"),
    AmountChange.suspended: _l("暂停发放"),
    AmountChange.resumed: _l("恢复发放"),
    AmountChange.exited: _l("退保，停止发放"),
}


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def start_period(session: Session, actor: User | None, case: Case, *, amount: Decimal, starts_on: date,
                 change: AmountChange, reason: str = "") -> AmountPeriod:
    """From the month of ``starts_on`` on, ``case`` is paid ``amount`` a month (0: nothing). Periods follow each
    other in time (a new one starts in the month of the latest or after it; in the same month the newer wins),
    so "the latest period starting on or before a month" is always the latest decision for it. The caller's
    action writes the audit event; this only records the period and never changes one already written."""
    return start_periods(session, actor, [(case, amount, starts_on)], change=change, reason=reason)[0]


def start_periods(session: Session, actor: User | None, starts: Sequence[tuple[Case, Decimal, date]], *,
                  change: AmountChange, reason: str = "") -> list[AmountPeriod]:
    """:func:`start_period` for several households at once — ``(case, amount, starts_on)`` each, the same rules —
    with one look at their latest periods and one flush (a county's 提标 gives tens of thousands a new amount)."""
    for _case, amount, _starts_on in starts:
        if amount < 0:
            raise Invalid(_l("保障金额不能为负数。"), field="amount")
    latest = latest_starts(session, [case.id for case, _amount, _starts_on in starts])
    made = []
    for case, amount, starts_on in starts:
        starts_on = month_start(starts_on)
        before = latest.get(case.id)
        if before is not None and starts_on < before:
            # Periods only follow each other: a change reaching back behind a later one would leave it unclear
            # which decision holds for the months after (correct from that later month instead).
            raise Conflict(_l("该户已有从 %(month)s 起的金额变动，新的变动不能早于这个月份。", month=before.isoformat()[:7]),
                           field="effective_from")
        latest[case.id] = starts_on
        made.append(AmountPeriod(case_id=case.id, starts_on=starts_on, amount=round_money(amount), change=change,
                                 reason=reason, created_by_id=actor.id if actor else None,
                                 created_by_name=actor.display_name if actor else audit.SYSTEM_ACTOR,
                                 created_at=clock.now()))
    session.add_all(made)
    session.flush()
    return made


def latest_starts(session: Session, case_ids: Sequence[int]) -> dict[int, date]:
    """Each household's latest period start (households without a period are absent)."""
    out: dict[int, date] = {}
    for chunk in chunks(sorted(set(case_ids))):
        out.update(session.execute(select(AmountPeriod.case_id, func.max(AmountPeriod.starts_on))
                                   .where(AmountPeriod.case_id.in_(chunk)).group_by(AmountPeriod.case_id)).all())
    return out


def periods(session: Session, case: Case) -> list[AmountPeriod]:
    """Every amount period of a household, oldest first (the archive shows them)."""
    return list(session.scalars(select(AmountPeriod).where(AmountPeriod.case_id == case.id)
                                .order_by(AmountPeriod.starts_on, AmountPeriod.id)))


def in_force_intervals(up_to: date):
    """The one rule of which amount is in force when: a select of ``(case_id, amount, period_id, starts_on,
    until)``, one row for each amount period starting in or before ``up_to``'s month, where ``until`` is the month
    the household's next period starts (None: none starts by ``up_to``). A period is in force in each month ``m``
    with ``starts_on <= m < until``: from its first month until the next period starts; of two periods starting
    the same month the newer (higher id) wins, the older's interval being empty. An amount of 0 means stopped.

    Callers may join and filter the select (a WHERE applies before the window, so restrict it to whole
    households — by case or region — never to some of a household's periods)."""
    return (
        select(AmountPeriod.case_id, AmountPeriod.amount, AmountPeriod.id.label("period_id"), AmountPeriod.starts_on,
               func.lead(AmountPeriod.starts_on, type_=Date).over(
                   partition_by=AmountPeriod.case_id, order_by=(AmountPeriod.starts_on, AmountPeriod.id)).label("until"))
        .where(AmountPeriod.starts_on <= month_start(up_to))
    )


def in_force(month: date):
    """A select of ``(case_id, amount, period_id)``: each household's amount in force in ``month`` — the latest
    period starting on or before it (the newest row among equals; :func:`in_force_intervals` up to ``month``, the
    intervals still open). Households with no such period are absent; an amount of 0 means stopped. Payment runs
    build on this one query."""
    intervals = in_force_intervals(month).subquery()
    return select(intervals.c.case_id, intervals.c.amount, intervals.c.period_id).where(intervals.c.until.is_(None))


def amount_in_force(session: Session, case: Case, month: date) -> Decimal | None:
    """What ``case`` is to be paid for ``month`` (None: nothing was ever approved for that month)."""
    return session.scalar(
        select(AmountPeriod.amount).where(AmountPeriod.case_id == case.id,
                                          AmountPeriod.starts_on <= month_start(month))
        .order_by(AmountPeriod.starts_on.desc(), AmountPeriod.id.desc()).limit(1))
