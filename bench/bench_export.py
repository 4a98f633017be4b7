"""Exporting 100,000 roster rows (dibao.exports: query in batches, decrypt the ID numbers and accounts, mask the
accounts, write with xlsxwriter in constant memory) as a ratio to writing the same rows from a Python list with the
same writer (the same formats and options), in the same run. Target: ≤ 2×. Also the memory the export added."""

import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from common import ROOT, app_context, prepared_sqlite

sys.path.insert(0, str(ROOT))

ROWS = 100_000


def arrange(url: str) -> None:
    """100,000 active households with a head and an account, inserted in bulk (their history is not the point)."""
    from sqlalchemy import insert

    from dibao import accounts, db, regions
    from dibao.crypto import blind_index
    from dibao.identity import with_check_digit
    from dibao.models import Case, Member, Role, Stage, WorkCapacity
    from dibao.models.payment import AccountKind, PaymentAccount

    with app_context(url):
        sess = db.session()
        county = regions.create_region(sess, None, code="990", name="基准县", parent=None)
        towns = [regions.create_region(sess, None, code=f"990{t:03d}", name=f"基准{t}镇", parent=county)
                 for t in range(1, 5)]
        communities = [regions.create_region(sess, None, code=f"{town.code}{c:03d}", name=f"{town.name}{c}社区",
                                             parent=town) for town in towns for c in range(1, 6)]
        accounts.create_user(sess, None, username="benchcounty", display_name="基准审批",
                             password="-".join(["bench", "export", "2026"]), role=Role.county_approver, region=county)
        now = datetime.now(UTC)
        for start in range(0, ROWS, 10_000):
            cases, heads = [], []
            for i in range(start, start + 10_000):
                id_number = with_check_digit(f"34{i // 1000:04d}19560615{i % 1000:03d}")
                cases.append({"number": f"BENCH-{i:06d}", "region_id": communities[i % len(communities)].id,
                              "stage": Stage.active, "stage_changed_at": now, "head_name": f"户主{i}",
                              "head_id_number": id_number, "head_id_hash": blind_index(id_number),
                              "head_phone": f"139{i:08d}", "address": f"幸福路 {i} 号", "public_address": "幸福路",
                              "category": 1 + i % 4, "monthly_amount": Decimal("330.00"), "accepted_at": now,
                              "payment_start": date(2025, 7, 1), "next_review_due": date(2026, 6, 15),
                              "created_at": now, "updated_at": now})
                heads.append((i, id_number))
            ids = list(sess.scalars(insert(Case).returning(Case.id, sort_by_parameter_order=True), cases))
            sess.execute(insert(Member), [{"case_id": cid, "position": 0, "name": f"户主{i}", "relation": "本人",
                                           "age": 70, "id_number": n, "id_number_hash": blind_index(n), "health": "",
                                           "work_capacity": WorkCapacity.none} for cid, (i, n) in zip(ids, heads, strict=True)])
            sess.execute(insert(PaymentAccount), [{"case_id": cid, "kind": AccountKind.bank_card, "bank_name": "农业银行",
                                                   "holder_name": f"户主{i}", "number": f"622848{i:013d}",
                                                   "number_hash": blind_index(f"622848{i:013d}"),
                                                   "updated_by_name": "基准", "updated_at": now}
                                                  for cid, (i, _n) in zip(ids, heads, strict=True)])
            sess.commit()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "arrange":
    arrange(sys.argv[2])
elif __name__ == "__main__":
    import subprocess

    from sqlalchemy import select

    from dibao import db, exports
    from dibao.models import User

    workdir = Path(tempfile.mkdtemp(prefix="dibao-bench-export-"))
    url = prepared_sqlite(str(workdir))
    # Arranged in another process, so that this one's peak memory is the export's.
    subprocess.run([sys.executable, __file__, "arrange", url], check=True, cwd=Path(__file__).parent)
    with app_context(url):
        sess = db.session()
        actor = sess.scalar(select(User).where(User.username == "benchcounty"))
        before = rss_mb()
        started = time.perf_counter()
        written = exports.write_xlsx(workdir / "export.xlsx", exports.roster_export(sess, actor, {}))
        export_s = time.perf_counter() - started
        export_rss = rss_mb() - before
        assert written == ROWS, written
        sess.rollback()
        sheet = next(exports.roster_export(sess, actor, {}))
        rows = list(sheet.rows)  # the same rows, materialised
        list_rss = rss_mb() - before - export_rss
        started = time.perf_counter()
        exports.write_xlsx(workdir / "list.xlsx", [exports.Sheet(sheet.title, sheet.columns, rows, len(rows))])
        list_s = time.perf_counter() - started
    size = (workdir / "export.xlsx").stat().st_size // 1024
    print(f"roster: {ROWS} rows × {len(exports.ROSTER_COLUMNS)} columns, {size} KiB xlsx")
    print(f"write the same rows from a Python list          {list_s:7.2f} s   1.00 ×")
    print(f"export from the database (query, decrypt, mask)  {export_s:7.2f} s   {export_s / list_s:4.2f} ×   (target ≤ 2 ×)")
    print(f"memory the export added (peak RSS)               {export_rss:7.1f} MB"
          f"   (the same rows held as a list: {list_rss:.1f} MB more)")
