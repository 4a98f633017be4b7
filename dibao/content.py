"""四公开 content pages: the policy, the procedure and the rights of applicants, per county, edited by that
county's admin (town and community admins read them).

Until the county's admin saves a page, the portal shows the built-in text below, so a fresh deployment is never
empty. Bodies are plain text (paragraphs separated by blank lines, "- " starts a list item); they are
escaped when shown, never rendered as HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from dibao import audit, clock, scope
from dibao.errors import NotFound, collect
from dibao.models import Level, Region, User
from dibao.models.disclosure import ContentPage
from dibao.models.records import Standard

SLUGS = ("policy", "procedure", "rights")

DEFAULTS: dict[str, tuple[str, str]] = {
    "policy": (
        "低保政策",
        "最低生活保障（低保）保障共同生活的家庭成员人均收入低于当地低保标准、且家庭财产状况符合规定的城乡居民。\n\n"
        "保障金额按“（当地低保标准 − 家庭月人均收入）× 家庭人口”计算；无收入、无劳动能力、无法定赡养抚养扶养人的，"
        "按当地低保标准全额保障。奖励、奖学金、优抚金和各类救助金不计入家庭收入，因病、因残的必要支出可以扣减。\n\n"
        "低保家庭按类别定期复核：一类每年、二类每半年、三类每季度、四类每月。家庭成员就业后收入超过标准的，"
        "可以给予最长 6 个月的渐退期。\n\n"
        "政策依据：\n"
        "- 民政部《最低生活保障审核确认办法》（2021 年）\n"
        "- 国务院《社会救助暂行办法》\n"
        "- 《城市居民最低生活保障条例》",
    ),
    "procedure": (
        "办事程序",
        "申请低保可以书面或网上提出，也可以委托社区（村）代为提出；材料不全的，经办人员一次性告知需要补齐的全部材料。\n\n"
        "受理后 3 个工作日内开始入户调查，调查人员不少于 2 人，采取“一看二问三走访”的办法核实家庭情况。"
        "县民政部门在 10 个工作日内作出决定，整个审核确认一般在 30 个工作日内办结。\n\n"
        "每一级的意见都在社区张榜公示 7 天，接受群众监督。公示期间任何人都可以提出异议；"
        "不予批准的，书面告知理由。对结果不服的，可以依法申请行政复议或者提起行政诉讼。",
    ),
    "rights": (
        "监督与举报",
        "对公示对象有异议的，可以在公示期内通过网上异议、扫描公示栏二维码或拨打社会救助服务热线提出。\n\n"
        "发现“人情保、关系保”、隐瞒收入、工作人员违规等情况，任何时候都可以举报。实名举报的，核查结果会告知举报人。\n\n"
        "工作人员对申请人的个人信息负有保密义务。公示内容仅限于姓名、家庭人口、保障金额等必要信息，"
        "不公开身份证号码、电话号码、银行账户等信息。",
    ),
}

# The seed's nine steps (个人申报 … 三次张榜公示), for the procedure diagram. ``level`` marks a notice round; its
# number of days is the deployment's (the diagram's tag shows it), so the texts do not say one.
STEPS: list[tuple[str, str, Level | None]] = [
    (_l("个人申报"), _l("向社区（村）提出书面或网上申请，也可委托代办。"), None),
    (_l("入户调查"), _l("社区组织调查组入户：一看住房和消费，二问就业、收入和健康，三走访三户以上邻居，作好笔录。"), None),
    (_l("民主评议、初审"), _l("社区评议小组逐户评议，提出初审意见；居民代表列席旁听。"), None),
    (_l("社区张榜公示"), _l("初审意见在社区张榜公示，公示期内可提出异议。"), Level.community),
    (_l("乡镇（街道）复查"), _l("乡镇（街道）对材料和调查结果进行审核复查。"), None),
    (_l("乡镇会议研究"), _l("乡镇党委（街道党工委）会议讨论复查结果，形成审核意见。"), None),
    (_l("二次张榜公示"), _l("审核意见在社区张榜公示，公示期内可提出异议。"), Level.town),
    (_l("县民政局审批"), _l("县民政局在 10 个工作日内作出批准或不予批准的决定。"), None),
    (_l("三次张榜公示"), _l("审批结果张榜公示；批准的家庭列入保障对象名单，次月起发放。"), Level.county),
]


@dataclass
class Page:
    slug: str
    title: str
    body: str
    updated_at: datetime | None = None
    saved: bool = False

    def blocks(self) -> list[tuple[str, list[str]]]:
        """("p", [text]) paragraphs and ("ul", items) lists, from the plain-text body."""
        out: list[tuple[str, list[str]]] = []
        for chunk in self.body.replace("\r\n", "\n").split("\n\n"):
            lines = [ln.strip() for ln in chunk.split("\n") if ln.strip()]
            if not lines:
                continue
            head = [ln for ln in lines if not ln.startswith("- ")]
            items = [ln[2:].strip() for ln in lines if ln.startswith("- ")]
            if head:
                out.append(("p", head))
            if items:
                out.append(("ul", items))
        return out


def _county(session: Session, region: Region | None) -> Region | None:
    """Whose pages to show: the county of ``region``; without one, the deployment's county if it has one."""
    if region is not None:
        return scope.county_of(region)
    counties = session.scalars(select(Region).where(Region.parent_id.is_(None)).limit(2)).all()
    return counties[0] if len(counties) == 1 else None


def get_page(session: Session, slug: str, region: Region | None = None) -> Page:
    """A page as the county of ``region`` has it (or the built-in text, until that county saves its own)."""
    if slug not in SLUGS:
        raise NotFound(_l("没有找到这个页面。"))
    county = _county(session, region)
    row = None if county is None else session.scalar(
        select(ContentPage).where(ContentPage.region_id == county.id, ContentPage.slug == slug))
    if row is not None:
        return Page(slug, row.title, row.body, row.updated_at, saved=True)
    title, body = DEFAULTS[slug]
    return Page(slug, title, body)


def all_pages(session: Session, region: Region | None = None) -> list[Page]:
    return [get_page(session, slug, region) for slug in SLUGS]


OWNER_ONLY = _l("政策与程序页面由县（区）系统管理员修改；乡镇（街道）、社区的账号只能查看。")


def can_change(actor: User | None, county: Region) -> bool:
    return scope.owns_county_settings(actor, county)


def save_page(session: Session, actor: User, county: Region, slug: str, title: str, body: str) -> Page:
    """Save ``county``'s version of a page. Only that county's admin may."""
    scope.require_county_settings_owner(actor, county, OWNER_ONLY)
    if slug not in SLUGS:
        raise NotFound(_l("没有找到这个页面。"))
    title, body = (title or "").strip(), (body or "").strip()
    with collect() as problems:  # every problem at once
        if not title or len(title) > 200:
            problems.add("title", _l("请填写标题（200 字以内）。"))
        if not body or len(body) > 20000:
            problems.add("body", _l("请填写正文（20000 字以内）。"))
    row = session.scalar(select(ContentPage).where(ContentPage.region_id == county.id, ContentPage.slug == slug))
    if row is None:
        row = ContentPage(region_id=county.id, slug=slug, position=SLUGS.index(slug), title=title, body=body)
        session.add(row)
    row.title, row.body = title, body
    row.updated_by_id = actor.id
    row.updated_at = clock.now()
    audit.record(session, actor, "content_page_saved", "content_page", f"{county.code}/{slug}",
                 region_id=county.id, details={"title": title})
    session.flush()
    return get_page(session, slug, county)


def steps(levels_with_notice: tuple[Level, ...]) -> list[dict]:
    """The procedure diagram: the nine steps, marking the notice rounds this deployment does not use."""
    return [{"number": i, "title": title, "text": text, "notice": level is not None,
             "used": level is None or level in levels_with_notice}
            for i, (title, text, level) in enumerate(STEPS, start=1)]


def _method_text(standard: Standard) -> str:
    """How the amount is reckoned under ``standard``: policy, so public (四公开) — a household's tier is not."""
    from dibao import entitlement
    from dibao.models.records import StandardMethod

    if standard.method == StandardMethod.tiered:
        return str(_l("分档：%(tiers)s（每人按标准的该档比例计发）",
                      tiers=entitlement.tier_summary(standard.tier_shares)))
    return str(_l("差额：标准减家庭月人均收入，乘以家庭人数"))


def standards(session: Session) -> list[dict]:
    """The 低保标准 in force today per region that has set one (the 四公开 page shows them)."""
    today = clock.today()
    rows = []
    seen: set[int] = set()
    for st in session.scalars(select(Standard).where(Standard.effective_from <= today)
                              .order_by(Standard.effective_from.desc())):
        if st.region_id not in seen:
            seen.add(st.region_id)
            rows.append({"region": st.region, "amount": st.monthly_amount, "since": st.effective_from,
                         "method": _method_text(st)})
    return sorted(rows, key=lambda r: r["region"].path)
