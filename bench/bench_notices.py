"""Requests per second of a community's notice board (/notices/<code>) with 40 open entries, as a ratio to
a minimal Flask endpoint served by the same gunicorn in the same run; plus the same board answered with 304
(If-None-Match) and the API listing."""

import random
import urllib.request

from common import MINIMAL_PATH, app_context, measure, prepared_sqlite, ratio_line, serve
from faker import Faker

COMMUNITY = "990001001"


def arrange(url: str) -> None:
    from dibao import clock, db, notices, regions
    from dibao.demo.notices import _household
    from dibao.models import Level

    with app_context(url):
        sess = db.session()
        county = regions.create_region(sess, None, code="990", name="基准县", parent=None)
        town = regions.create_region(sess, None, code="990001", name="基准镇", parent=county)
        community = regions.create_region(sess, None, code=COMMUNITY, name="基准社区", parent=town)
        fake, rng, now = Faker("zh_CN"), random.Random(1), clock.now()
        fake.seed_instance(1)
        cases = [_household(sess, fake, rng, community, Level.community, f"{COMMUNITY}-B-{i:04d}", now)
                 for i in range(40)]
        notices.publish_batch(sess, None, level=Level.community, region=community, cases=cases,
                              title="基准社区低保社区初审公示")
        sess.commit()
        assert len(notices.board(sess, community).entries) == 40


if __name__ == "__main__":
    url = prepared_sqlite()
    arrange(url)
    with serve({"DIBAO_DATABASE_URL": url}) as base:
        board_url = f"{base}/notices/{COMMUNITY}"
        with urllib.request.urlopen(board_url) as res:  # noqa: S310 - loopback only
            etag = res.headers["ETag"]
            assert res.read().decode().count('id="e-') == 40
        baseline = measure(base + MINIMAL_PATH, seconds=5)
        board = measure(board_url, seconds=5)
        cached = measure(board_url, seconds=5, headers={"If-None-Match": etag})
        api = measure(f"{base}/api/v1/notices?region={COMMUNITY}", seconds=5)
    print(ratio_line("minimal Flask endpoint (baseline)", baseline, baseline))
    print(ratio_line(f"/notices/{COMMUNITY} (40 open entries)", board, baseline))
    print(ratio_line(f"/notices/{COMMUNITY} If-None-Match → 304", cached, baseline))
    print(ratio_line(f"/api/v1/notices?region={COMMUNITY}", api, baseline))
