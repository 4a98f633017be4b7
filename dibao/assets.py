"""Assets and the verification of income and assets (核对, issue 10 item 7).

* A county sets its asset limits (housing units and area per person, vehicles, deposits and securities per
  person, whether a registered business is allowed).
* Staff record the household's assets; a verification request (agencies asked, date) and its result (with the
  agencies' document as an attachment) belong to every case: the county approval requires a completed one
  (:func:`approval_guard`, called by ``workflow.record_county_decision``).
* The 返贫 case: assets above a limit while the income is below the standard is FLAGGED for the county's written
  discretionary decision (:func:`record_discretion`), never refused by the code.
* Marginal households (低保边缘: income per person under 1.5 × the standard) have their own list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from dibao import audit, cases, clock, db, entitlement, media, scope, workflow
from dibao.errors import Conflict, Invalid, NotFound, Problems, chosen, collect
from dibao.household import OPEN, Rule, require
from dibao.models import Case, Region, Role, Stage, User
from dibao.models.household import (
    Asset,
    AssetDiscretion,
    AssetKind,
    AssetLimits,
    Verification,
    VerificationResult,
)
from dibao.models.records import Attachment

ASSET_LABELS = {AssetKind.housing: _l("住房"), AssetKind.vehicle: _l("机动车辆"), AssetKind.deposit: _l("存款"),
                AssetKind.securities: _l("有价证券"), AssetKind.business: _l("工商登记（经营实体）")}
RESULT_LABELS = {VerificationResult.consistent: _l("与申报一致"), VerificationResult.discrepancy: _l("发现不一致")}
AGENCIES = ["公安（车辆）", "不动产登记", "银行（存款）", "证券", "市场监管（工商登记）", "人社（社保、就业）", "税务",
            "住房公积金"]
MAX_AGENCY = 100  # characters of one agency's name
LIMITS_OWNER = _l("资产核对标准由县级系统管理员设置。")

RECORD = Rule(_l("登记家庭资产"), {Role.community_staff: OPEN, Role.town_reviewer: OPEN,
                                  Role.county_approver: OPEN})
REQUEST = Rule(_l("发起家庭经济状况核对"), {Role.community_staff: OPEN, Role.town_reviewer: OPEN,
                                           Role.county_approver: OPEN})
RESULT = Rule(_l("登记核对结果"), {Role.town_reviewer: OPEN, Role.county_approver: OPEN})
DISCRETION = Rule(_l("资产超标酌情决定"), {Role.county_approver: frozenset({Stage.county_approval, Stage.active})})


# --- limits per county ------------------------------------------------------------------------------------

def limits_for(session: Session, region: Region) -> AssetLimits | None:
    return session.scalar(select(AssetLimits).where(AssetLimits.region_id == scope.county_of(region).id))


def _decimal(problems: Problems, value: Decimal | str | None, field_name: str) -> Decimal | None:
    """A number as typed (or given): None when left empty or typed wrong (its problem kept)."""
    return problems.check(entitlement.parse_money, value, field_name=field_name, allow_empty=True)


def set_limits(session: Session, actor: User | None, county: Region, *, housing_units: int | None,
               housing_area_per_person: Decimal | str | None, vehicles: int | None,
               deposits_per_person: Decimal | str | None, business_allowed: bool) -> AssetLimits:
    """The county's asset limits; the two amounts as typed (or given), checked with the rest."""
    scope.require_county_settings_owner(actor, county, LIMITS_OWNER)
    with collect() as problems:  # every problem at once
        for name, value in (("housing_units", housing_units), ("vehicles", vehicles)):
            if value is None or not 0 <= value <= 99:
                problems.add(name, _l("请填写 0 至 99 之间的整数。"))
        housing_area_per_person = _decimal(problems, housing_area_per_person, "housing_area_per_person")
        deposits_per_person = _decimal(problems, deposits_per_person, "deposits_per_person")
        if not problems.has("housing_area_per_person") and (
                housing_area_per_person is None or not 0 < housing_area_per_person < 10000):
            problems.add("housing_area_per_person", _l("请填写人均住房面积上限（平方米）。"))
        if deposits_per_person is None and not problems.has("deposits_per_person"):
            problems.add("deposits_per_person", _l("请填写人均存款和有价证券上限（元）。"))
    limits = limits_for(session, county) or AssetLimits(region_id=county.id)
    before = None if limits.id is None else [limits.housing_units, str(limits.housing_area_per_person),
                                             limits.vehicles, str(limits.deposits_per_person), limits.business_allowed]
    limits.housing_units, limits.housing_area_per_person = housing_units, housing_area_per_person
    limits.vehicles, limits.deposits_per_person = vehicles, deposits_per_person
    limits.business_allowed = bool(business_allowed)
    limits.updated_by_id = actor.id if actor else None
    limits.updated_by_name = actor.display_name if actor else audit.SYSTEM_ACTOR
    limits.updated_at = clock.now()
    session.add(limits)
    session.flush()
    audit.record(session, actor, "asset_limits_set", "asset_limits", limits.id, region_id=county.id,
                 details={"before": before, "after": [housing_units, str(housing_area_per_person), vehicles,
                                                      str(deposits_per_person), bool(business_allowed)]})
    return limits


# --- the household's assets --------------------------------------------------------------------------------

def _int(value, field_name: str, *, low: int = 0, high: int = 99) -> int:
    if value is None or not low <= int(value) <= high:
        raise Invalid(_l("请填写 %(a)d 至 %(b)d 之间的整数。", a=low, b=high), field=field_name)
    return int(value)


def add_asset(session: Session, actor: User, case: Case, *, kind: AssetKind | str, description: str = "",
              units: int | None = 1, area: Decimal | str | None = None,
              value: Decimal | str | None = None) -> Asset:
    """One asset of the household; ``area`` and ``value`` as typed (or given), checked with the rest."""
    require(actor, case, RECORD)
    kind = chosen(AssetKind, kind)
    with collect() as problems:  # every problem at once
        if kind is None:
            problems.add("kind", _l("请选择资产类型。"))
        units = problems.check(_int, units if units is not None else 1, "units", low=1)
        area, value = _decimal(problems, area, "area"), _decimal(problems, value, "value")
        if kind == AssetKind.housing and (area is None or area <= 0) and not problems.has("area"):
            problems.add("area", _l("住房请填写建筑面积（平方米）。"))
        if kind in (AssetKind.deposit, AssetKind.securities) and value is None and not problems.has("value"):
            problems.add("value", _l("存款和有价证券请填写金额（元）。"))
    asset = Asset(case_id=case.id, kind=kind, description=(description or "").strip()[:200], units=units,
                  area=area if kind == AssetKind.housing else None,
                  value=value if kind in (AssetKind.deposit, AssetKind.securities) else None,
                  recorded_by_id=actor.id, recorded_by_name=actor.display_name, created_at=clock.now())
    session.add(asset)
    case.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "asset_added", "case", case.id, region_id=case.region_id,
                 details={"asset": asset.id, "kind": kind.value, "units": units,
                          "area": str(asset.area) if asset.area is not None else None,
                          "value": str(asset.value) if asset.value is not None else None})
    return asset


def remove_asset(session: Session, actor: User, case: Case, asset_id: int) -> None:
    require(actor, case, RECORD)
    asset = db.get_record(session, Asset, asset_id)
    if asset is None or asset.case_id != case.id:
        raise NotFound(_l("没有找到该资产记录。"))
    session.delete(asset)
    case.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "asset_removed", "case", case.id, region_id=case.region_id,
                 details={"asset": asset_id, "kind": asset.kind.value})


def assets_of(session: Session, case: Case) -> list[Asset]:
    return list(session.scalars(select(Asset).where(Asset.case_id == case.id).order_by(Asset.kind, Asset.id)))


# --- the verification (核对) ---------------------------------------------------------------------------------

def request_verification(session: Session, actor: User, case: Case, *, requested_on: date | None,
                         authorised_on: date | None, agencies: list[str]) -> Verification:
    """家庭经济状况核对 is asked of the agencies only with the family's written authorisation (授权书, A 14 and
    B 11): the day its members signed it is required, on or before the request."""
    require(actor, case, REQUEST)
    with collect() as problems:  # every problem at once
        # Organisations, not persons: cleaned as a line (公安（车辆） keeps its brackets), each named once.
        names = problems.check(workflow._names, agencies, "other_agencies", clean=workflow.organisation,
                               maximum=MAX_AGENCY)
        if requested_on is None or requested_on > clock.today():
            problems.add("requested_on", _l("请填写发起核对的日期（不能晚于今天）。"))
        if authorised_on is None:
            problems.add("authorised_on", _l("请填写家庭成员签署经济状况核对授权书的日期：没有书面授权，不能向各部门发起核对。"))
        elif requested_on is not None and authorised_on > requested_on:
            problems.add("authorised_on", _l("授权书须在发起核对之前（或当天）签署。"))
        if names is not None and not names:
            problems.add("agencies", _l("请选择或填写被核对的部门（至少一个）。"))
    verification = Verification(case_id=case.id, requested_on=requested_on, authorised_on=authorised_on,
                                agencies="\n".join(names),
                                requested_by_id=actor.id, requested_by_name=actor.display_name,
                                created_at=clock.now())
    session.add(verification)
    case.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "verification_requested", "case", case.id, region_id=case.region_id,
                 details={"verification": verification.id, "agencies": names,
                          "requested_on": requested_on.isoformat(), "authorised_on": authorised_on.isoformat()})
    return verification


def get_verification(session: Session, case: Case, verification_id: int) -> Verification:
    verification = db.get_record(session, Verification, verification_id)
    if verification is None or verification.case_id != case.id:
        raise NotFound(_l("没有找到该核对记录。"))
    return verification


def record_result(session: Session, actor: User, case: Case, verification_id: int, *,
                  result: VerificationResult | str | None, result_on: date | None, findings: str,
                  document: bytes | None = None, filename: str = "", media_dir: str = "") -> Verification:
    """The agencies answered: the result, the date, what was found and (optionally) their document, kept as an
    attachment of the case through the one media pipeline (a bad file is said with the other problems)."""
    require(actor, case, RESULT)
    verification = get_verification(session, case, verification_id)
    if verification.result is not None:
        raise Conflict(_l("该次核对已登记结果；如有新情况，请重新发起核对。"))
    findings = (findings or "").strip()
    with collect() as problems:  # every problem at once
        picked = chosen(VerificationResult, result)
        if picked is None:
            problems.add("result", _l("请选择核对结果。"))
        if result_on is None or result_on > clock.today() or result_on < verification.requested_on:
            problems.add("result_on", _l("请填写核对结果的日期（不早于发起日期，不晚于今天）。"))
        if picked == VerificationResult.discrepancy and len(findings) < workflow.MIN_REASON:
            problems.add("findings", _l("核对发现不一致时，请写明不一致的情况（至少 %(n)d 个字）。",
                                        n=workflow.MIN_REASON))
        # the agencies' document: checked with the rest, stored only once everything passed
        prepared = (problems.check(media.prepare_document, document, filename or "", field="document")
                    if document else None)
    if prepared is not None:
        attachment = cases.store_attachment(session, actor, case, title=str(_l("家庭经济状况核对报告")),
                                            prepared=prepared, filename=filename, media_dir=media_dir)
        verification.attachment_id = attachment.id
    assert picked is not None and result_on is not None  # (collect raised otherwise)
    verification.result, verification.result_on, verification.findings = picked, result_on, findings[:4000]
    verification.result_by_id, verification.result_by_name = actor.id, actor.display_name
    case.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "verification_result", "case", case.id, region_id=case.region_id,
                 details={"verification": verification.id, "result": picked.value,
                          "result_on": result_on.isoformat(), "document": verification.attachment_id})
    return verification


def verifications(session: Session, case: Case) -> list[Verification]:
    return list(session.scalars(select(Verification).where(Verification.case_id == case.id)
                                .order_by(Verification.id)))


def attachment_title(session: Session, verification: Verification) -> str | None:
    if verification.attachment_id is None:
        return None
    attachment = session.get(Attachment, verification.attachment_id)
    return attachment.title if attachment else None


# --- the asset check beside the income ------------------------------------------------------------------------

@dataclass
class CheckLine:
    label: str
    found: str
    limit: str
    exceeds: bool


@dataclass
class AssetCheck:
    limits: AssetLimits | None
    lines: list[CheckLine] = field(default_factory=list)
    income_below: bool = False  # the computed amount is above 0: income per person below the standard
    discretion: AssetDiscretion | None = None
    verified: Verification | None = None  # the latest completed verification

    @property
    def exceeds(self) -> bool:
        return any(line.exceeds for line in self.lines)

    @property
    def verified_label(self) -> str:
        return str(RESULT_LABELS[self.verified.result]) if self.verified and self.verified.result else ""

    @property
    def flagged(self) -> bool:
        """返贫: an asset above a limit with income below the standard — for a written decision, not refused."""
        return self.exceeds and self.income_below


def _fmt(value: Decimal) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def asset_check(session: Session, case: Case, computation: entitlement.Computation | None = None) -> AssetCheck:
    computation = computation or entitlement.compute_for(session, case)
    limits = limits_for(session, case.region)
    items = assets_of(session, case)
    size = max(len(case.members), 1)
    check = AssetCheck(limits=limits, income_below=computation.qualifies,
                       discretion=latest_discretion(session, case), verified=completed_verification(session, case))
    housing = [a for a in items if a.kind == AssetKind.housing]
    units = sum(a.units for a in housing)
    area = sum((Decimal(a.area or 0) for a in housing), Decimal("0"))
    vehicles = sum(a.units for a in items if a.kind == AssetKind.vehicle)
    money = sum((Decimal(a.value or 0) for a in items if a.kind in (AssetKind.deposit, AssetKind.securities)),
                Decimal("0"))
    businesses = sum(a.units for a in items if a.kind == AssetKind.business)
    if limits is None:
        return check
    per_person_area = area / size
    per_person_money = money / size
    check.lines = [
        CheckLine(str(_l("住房套数")), str(_l("%(n)d 套", n=units)), str(_l("不超过 %(n)d 套", n=limits.housing_units)),
                  units > limits.housing_units),
        CheckLine(str(_l("人均住房面积")), str(_l("%(a)s 平方米", a=_fmt(per_person_area))),
                  str(_l("不超过 %(a)s 平方米", a=_fmt(Decimal(limits.housing_area_per_person)))),
                  per_person_area > Decimal(limits.housing_area_per_person)),
        CheckLine(str(_l("机动车辆")), str(_l("%(n)d 辆", n=vehicles)), str(_l("不超过 %(n)d 辆", n=limits.vehicles)),
                  vehicles > limits.vehicles),
        CheckLine(str(_l("人均存款和有价证券")), str(_l("%(a)s 元", a=_fmt(per_person_money))),
                  str(_l("不超过 %(a)s 元", a=_fmt(Decimal(limits.deposits_per_person)))),
                  per_person_money > Decimal(limits.deposits_per_person)),
        CheckLine(str(_l("工商登记")), str(_l("%(n)d 家", n=businesses)),
                  str(_l("允许") if limits.business_allowed else _l("不应有")),
                  businesses > 0 and not limits.business_allowed),
    ]
    return check


def completed_verification(session: Session, case: Case) -> Verification | None:
    return session.scalar(select(Verification).where(Verification.case_id == case.id,
                                                     Verification.result.is_not(None))
                          .order_by(Verification.id.desc()).limit(1))


def latest_discretion(session: Session, case: Case) -> AssetDiscretion | None:
    return session.scalar(select(AssetDiscretion).where(AssetDiscretion.case_id == case.id)
                          .order_by(AssetDiscretion.id.desc()).limit(1))


def record_discretion(session: Session, actor: User, case: Case, text: str) -> AssetDiscretion:
    """The county's written decision on a flagged household (it may approve, adjust or refuse afterwards)."""
    require(actor, case, DISCRETION)
    check = asset_check(session, case)
    if not check.exceeds:
        raise Conflict(_l("该户资产没有超过核对标准，不需要酌情决定。"))
    text = (text or "").strip()
    if len(text) < 10:
        raise Invalid(_l("请写明酌情决定和理由（至少 10 个字），例如住房为唯一住所、车辆为残疾人代步车等。"),
                      field="text")
    decision = AssetDiscretion(case_id=case.id, text=text[:4000], decided_by_id=actor.id,
                               decided_by_name=actor.display_name, created_at=clock.now())
    session.add(decision)
    case.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "asset_discretion", "case", case.id, region_id=case.region_id,
                 details={"discretion": decision.id, "exceeds": [line.label for line in check.lines if line.exceeds]})
    return decision


def approval_guard(session: Session, case: Case) -> None:
    """What the county approval requires of the verification (called by ``workflow.record_county_decision``)."""
    check = asset_check(session, case)
    if check.verified is None:
        raise Conflict(_l("该户还没有完成家庭经济状况核对：请先发起核对并登记核对结果（核对报告），再审批。"))
    if check.flagged and check.discretion is None:
        raise Conflict(_l("该户资产超过核对标准而收入低于低保标准（返贫情形），不能按常规审批：请先在“资产超标酌情决定”中"
                          "写明县级的酌情决定和理由，再审批。"))


# --- marginal households (低保边缘) -------------------------------------------------------------------------------

def marginal_households(session: Session, actor: User) -> list[Case]:
    """Households whose income per person is under 1.5 × the standard without qualifying, in the actor's scope."""
    stmt = (select(Case).join(Region, Case.region_id == Region.id)
            .where(scope.subtree_condition(actor.region), Case.marginal.is_(True))
            .order_by(Region.path, Case.number))
    return list(session.scalars(stmt))
