"""Issue 4: the open data API (/api/v1) and its OpenAPI document."""

from __future__ import annotations

from dibao import notices
from dibao.models import Stage
from tests.api_helpers import OPENAPI, conforms, response_schema
from tests.factories import make_case
from tests.notice_helpers import _region, _user, publish_town_batch

TYPES = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool}


def test_openapi_document_is_served_and_lists_every_route(app, client):
    res = client.get("/api/v1/openapi.json")
    assert res.status_code == 200 and res.is_json
    doc = res.get_json()
    assert doc["openapi"].startswith("3.") and doc == OPENAPI
    rules = {r.rule.replace("<public_id>", "{id}") for r in app.url_map.iter_rules() if r.rule.startswith("/api/")}
    assert set(doc["paths"]) == rules


def test_notices_api_with_api_disclosure(client, world, session, clock):
    batch, cases = publish_town_batch(session, 2)
    res = client.get("/api/v1/notices?region=100001")
    assert res.status_code == 200
    data = res.get_json()
    conforms(data, response_schema("/api/v1/notices"))
    [b] = data["batches"]
    assert b["fingerprint"] == batch.fingerprint and b["seconds_left"] == 7 * 86400 and b["level"] == "town"
    entry = b["entries"][0]
    assert entry["name"] == "王*明" and entry["monthly_amount"] == "1290.00" and entry["household_size"] == 3
    assert "household_income" not in entry and "photo_url" not in entry
    assert entry["address"].startswith("甲一社区幸福路") and "单元" not in entry["address"]
    assert res.headers["Access-Control-Allow-Origin"] == "*"
    assert "Set-Cookie" not in res.headers
    # other regions and unknown ones
    assert client.get("/api/v1/notices?region=100002").get_json()["batches"] == []
    missing = client.get("/api/v1/notices?region=nope")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    conforms(missing.get_json(), response_schema("/api/v1/notices", "404"))


def test_notice_api_410_when_closed_or_withdrawn(client, world, session, clock):
    batch, _ = publish_town_batch(session, 2)
    first, second = batch.entries
    res = client.get(f"/api/v1/notices/{first.public_id}")
    assert res.status_code == 200
    conforms(res.get_json(), response_schema("/api/v1/notices/{id}"))
    assert res.get_json()["batch"]["id"] == batch.public_id
    notices.withdraw_entry(session, _user(session, "town_a"), second, "重新核查后再公示")
    session.commit()
    gone = client.get(f"/api/v1/notices/{second.public_id}")
    assert gone.status_code == 410 and gone.get_json()["error"] == "gone" and "撤回" in gone.get_json()["message"]
    clock.set(batch.closes_at - __import__("datetime").timedelta(seconds=1))
    assert client.get(f"/api/v1/notices/{first.public_id}").status_code == 200
    clock.set(batch.closes_at)
    gone = client.get(f"/api/v1/notices/{first.public_id}")
    assert gone.status_code == 410
    conforms(gone.get_json(), response_schema("/api/v1/notices/{id}", "410"))
    assert client.get("/api/v1/notices").get_json()["batches"] == []
    assert client.get("/api/v1/notices/unknown").status_code == 404


def test_api_conditional_requests(client, world, session, clock):
    batch, _ = publish_town_batch(session, 1)
    res = client.get("/api/v1/notices")
    etag = res.headers["ETag"]
    assert client.get("/api/v1/notices", headers={"If-None-Match": etag}).status_code == 304
    notices.withdraw_batch(session, _user(session, "town_a"), batch, "撤回测试原因")
    session.commit()
    assert client.get("/api/v1/notices", headers={"If-None-Match": etag}).status_code == 200


def test_roster_api(client, world, session, clock):
    region = _region(session, "100001001")
    make_case(session, region, stage=Stage.active, head_name="赵大山", members=2)
    make_case(session, region, stage=Stage.rejected, head_name="钱未定")
    session.commit()
    res = client.get("/api/v1/roster?region=100001")
    data = res.get_json()
    conforms(data, response_schema("/api/v1/roster"))
    assert data["households"] == 1
    assert data["recipients"][0]["name"] == "赵*山" and data["recipients"][0]["monthly_amount"] == "1290.00"
    assert "110101195003071234" not in res.get_data(as_text=True)
    assert client.get("/api/v1/roster", headers={"If-None-Match": res.headers["ETag"]}).status_code == 200
    etag = client.get("/api/v1/roster?region=100001").headers["ETag"]
    assert client.get("/api/v1/roster?region=100001", headers={"If-None-Match": etag}).status_code == 304


def test_api_is_read_only(client):
    assert client.post("/api/v1/notices").status_code in (400, 405)
