"""Kiosk polls: the 304 answer to an unchanged slide and a full slide (four entries, QR codes), each as a
ratio to the minimal Flask endpoint served by the same gunicorn in the same run.

Every kiosk request records its poll (one UPDATE of ``kiosk.last_seen_at``), so both figures include a write
to the database; the 304 path renders nothing.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

from common import MINIMAL_PATH, measure, prepared_sqlite, ratio_line, serve

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ENTRIES = 10  # three pages of four


def arrange(database_url: str) -> str:
    """A community with ENTRIES open entries and one kiosk; returns the kiosk's token."""
    from common import app_context

    from dibao import db, kiosks, notices, regions
    from dibao.models import Level, Stage
    from tests.factories import make_case

    with app_context(database_url):
        sess = db.session()
        county = regions.create_region(sess, None, code="980", name="终端压测县", parent=None)
        town = regions.create_region(sess, None, code="980001", name="终端压测镇", parent=county)
        community = regions.create_region(sess, None, code="980001001", name="终端压测社区", parent=town)
        cases = [make_case(sess, community, stage=Stage.awaiting_community_notice, head_name=f"住户{i:02d}",
                           opinion_levels=(Level.community,)) for i in range(ENTRIES)]
        notices.publish_batch(sess, None, level=Level.community, region=community, cases=cases, title="压测公示")
        kiosk = kiosks.register(sess, None, name="压测终端", region=community)
        sess.commit()
        return kiosk.token


if __name__ == "__main__":
    url = prepared_sqlite()
    token = arrange(url)
    with serve({"DIBAO_DATABASE_URL": url}) as base:
        slide = f"{base}/kiosk/{token}/slide/1"
        with urllib.request.urlopen(slide) as res:  # noqa: S310 - loopback only
            etag = res.headers["ETag"]
            assert res.status == 200 and "住户" in res.read().decode()
        baseline = measure(base + MINIMAL_PATH, seconds=4)
        not_modified = measure(slide, seconds=4, headers={"If-None-Match": etag, "HX-Request": "true"})
        full = measure(slide, seconds=4, headers={"HX-Request": "true"})
        shell = measure(f"{base}/kiosk/{token}", seconds=4)
    assert set(not_modified["codes"]) == {304}, not_modified["codes"]
    assert set(full["codes"]) == {200}, full["codes"]
    print(ratio_line("minimal Flask endpoint (baseline)", baseline, baseline))
    print(ratio_line("kiosk poll, unchanged slide (304)", not_modified, baseline))
    print(ratio_line("kiosk poll, full slide (200, 4 entries + QR)", full, baseline))
    print(ratio_line("kiosk display shell (first load)", shell, baseline))
