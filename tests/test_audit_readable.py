"""The audit viewer in Chinese: every action the code writes has a label (found by walking the source, so a new,
unlabelled action fails here), every detail key the code writes has a label or is an internal number left out,
user ids show as names, booleans as 是/否, and no ID, phone or account number is ever shown."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from dibao import audit, audit_log
from dibao.config import DEMO_PASSWORD
from tests.case_helpers import register, user, visit

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for folder in ("dibao", "admin", "portal", "kiosk") for p in sorted((ROOT / folder).rglob("*.py"))]
FEEDBACK_KINDS = ("objection", "report")  # f"{item.kind}_decided" and the like


def _strings(node: ast.AST, assigned: dict[str, list[ast.AST]]) -> list[str] | None:
    """The strings an expression can be: a literal, either side of ``a if c else b``, a name assigned literals in
    the same module, an f-string over a feedback item's kind. None: cannot tell."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _strings(node.body, assigned), _strings(node.orelse, assigned)
        return None if body is None or orelse is None else body + orelse
    if isinstance(node, ast.Name) and node.id in assigned:
        found = [s for value in assigned[node.id] for s in (_strings(value, assigned) or [])]
        return found or None
    if isinstance(node, ast.JoinedStr) and len(node.values) == 2:
        head, tail = node.values
        if (isinstance(head, ast.FormattedValue) and ast.unparse(head.value).split(".")[-1] == "kind"
                and isinstance(tail, ast.Constant)):
            return [kind + tail.value for kind in FEEDBACK_KINDS]
    return None


def _audit_call(node: ast.Call, path: Path) -> str | None:
    """"record" / "Entry" for ``audit.record(…)`` / ``audit.Entry(…)`` (bare names inside dibao/audit.py)."""
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "audit":
        return func.attr
    if isinstance(func, ast.Name) and path.name == "audit.py" and path.parent.name == "dibao":
        return func.id
    return None


def _parameters(tree: ast.AST) -> set[str]:
    return {a.arg for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
            for a in (*f.args.args, *f.args.kwonlyargs)}


def written_actions() -> tuple[dict[str, str], list[str]]:
    """Every action string passed to audit.record / audit.Entry (and to the workflow's ``action=`` helpers),
    with where; and the calls whose action cannot be told from the source."""
    actions: dict[str, str] = {}
    unknown: list[str] = []
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        assigned: dict[str, list[ast.AST]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        assigned.setdefault(target.id, []).append(node.value)
        passed_on = _parameters(tree)  # a function handing its own ``action`` argument on: its callers are walked
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            writes = []
            if _audit_call(node, path) == "record" and len(node.args) >= 3:
                writes.append(node.args[2])
            if _audit_call(node, path) == "Entry" and node.args:
                writes.append(node.args[0])
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            for expr in writes:
                found = _strings(expr, assigned)
                if found is None:
                    if not (isinstance(expr, ast.Name) and expr.id in passed_on):
                        unknown.append(f"{where} {ast.unparse(expr)}")
                    continue
                actions.update({a: where for a in found})
            for keyword in node.keywords:  # _move(..., action="…"): the workflow's steps
                if keyword.arg == "action" and isinstance(keyword.value, ast.Constant):
                    if isinstance(keyword.value.value, str):
                        actions.setdefault(keyword.value.value, where)
    return actions, unknown


def written_detail_keys() -> dict[tuple[str | None, str], str]:
    """The keys of the details dictionaries written literally, with the action when it is a literal too."""
    keys: dict[tuple[str | None, str], str] = {}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            dicts, action = [], None
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in ("record", "Entry", "_move", "_step", "_step_many"):
                    dicts += [k.value for k in node.keywords if k.arg == "details"]
                    if name == "Entry" and len(node.args) >= 5:
                        dicts.append(node.args[4])
                    literal = node.args[2] if name == "record" and len(node.args) >= 3 else None
                    literal = literal or next((k.value for k in node.keywords if k.arg == "action"), None)
                    action = literal.value if isinstance(literal, ast.Constant) else None
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "details" for t in node.targets):
                dicts.append(node.value)
            for d in dicts:
                for sub in ast.walk(d):
                    if isinstance(sub, ast.Dict):
                        for k in sub.keys:
                            if isinstance(k, ast.Constant) and isinstance(k.value, str):
                                keys.setdefault((action, k.value), f"{path.relative_to(ROOT)}:{node.lineno}")
    return keys


def test_every_action_the_code_writes_has_a_chinese_label():
    actions, unknown = written_actions()
    assert unknown == [], "an audit action the source does not name: give it a literal (and a label)"
    # The walk finds what it must (else an empty result would pass): the plain, the f-string and the variable ones.
    assert {"payment_run_approved", "objection_decided", "report_assigned", "login_refused_inactive",
            "data_key_rotated", "home_visit_recorded", "notice_published", "announcement_published"} <= set(actions)
    unlabelled = {a: where for a, where in actions.items() if audit_log.action_label(a) == a}
    assert unlabelled == {}
    for action in actions:
        assert re.search(r"[\u4e00-\u9fff]", audit_log.action_label(action)), action


def test_every_detail_key_the_code_writes_has_a_label_or_is_left_out():
    keys = written_detail_keys()
    assert len(keys) > 100 and (None, "close_relative") in {(None, k) for _a, k in keys}
    missing = {f"{action}.{key}": where for (action, key), where in keys.items()
               if key not in audit_log.KEY_LABELS and key not in audit_log.HIDDEN_KEYS
               and (action, key) not in audit_log.ACTION_KEY_LABELS
               and (action, key) not in audit_log.HIDDEN_ACTION_KEYS}
    assert missing == {}


def test_numbers_are_masked_and_nothing_else():
    mask = audit_log.mask_numbers
    for secret in ("110101195003071234", "11010119500307123X", "13812345678", "138 1234 5678", "138-1234-5678",
                   "+86 13812345678", "0551-62345678", "6222021234567890128", "6222 0212 3456 7890 128"):
        shown = mask(f"已电话告知（{secret}），核实无误")
        assert secret not in shown and shown.count("*") >= 7 and secret[-4:] in shown, (secret, shown)
    for kept in ("341399001001-2026-0007", "341399101001-D4-0001", "2026-03-18", "1340.00", "阳光县低保审〔2026〕1号",
                 "第 12 号", "9gtgtaz4hh"):
        assert mask(kept) == kept


def test_the_viewer_speaks_chinese(client, auth, world, session):
    staff, town = user(session, world, "staff_a1"), user(session, world, "town_a")
    case = register(session, staff, close_relative_of_staff=False)
    visit(session, staff, case)
    audit.record(session, town, "objection_assigned", "objection", "ABCDEFGH23", region_id=case.region_id,
                 details={"from": staff.id, "to": town.id})
    audit.record(session, town, "objection_decided", "objection", "ABCDEFGH23", region_id=case.region_id,
                 details={"outcome": "upheld", "case_stage": "investigating", "real_name": True})
    audit.record(session, town, "objection_submitter_notified", "objection", "ABCDEFGH23", region_id=case.region_id,
                 details={"how": "电话告知 138 1234 5678，身份证 110101195003071234，卡号 6222021234567890128"})
    session.commit()
    auth.login("13700001234")  # a phone number typed as the username: kept in the log, never shown whole
    auth.login("admin")  # (an attempt on no account belongs to no region: the system admin's part of the log)
    page = client.get("/admin/audit/").get_data(as_text=True)
    rows = page.split("<tbody>", 1)[1]
    for words in ("指派异议承办人", "原承办人</span>：甲一专干", "新承办人</span>：甲镇审核", "异议办结",
                  "结论</span>：异议成立", "案件转到</span>：入户调查", "实名反映</span>：是", "工作人员近亲属</span>：否",
                  "登记受理", "原阶段", "登录失败", "用户名</span>：*******1234", "账号 管理员", "告知异议人核查结果",
                  case.number):
        assert words in rows, words
    for raw in ("from:", "to:", "close_relative", "client", "session", "True", "False", "objection_assigned",
                "13700001234", "138 1234 5678", "110101195003071234", "6222021234567890128", case.head_id_number):
        assert raw not in rows, raw


def test_the_viewer_shows_every_action_of_the_demo_in_chinese(app, client, auth, runner):
    """The seeded county writes dozens of kinds of events: none is shown by its code."""
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    from sqlalchemy import select

    from dibao import db
    from dibao.models import AuditEvent

    with app.app_context():
        actions = set(db.session().scalars(select(AuditEvent.action).distinct()))
    assert len(actions) > 30
    assert auth.login("admin", DEMO_PASSWORD).status_code == 302
    page = client.get("/admin/audit/").get_data(as_text=True)
    options = dict(re.findall(r'<option value="([a-z_]+)">([^<]+)</option>', page))
    assert actions <= set(options)
    assert [a for a, label in options.items() if label == a or not re.search(r"[\u4e00-\u9fff]", label)] == []
