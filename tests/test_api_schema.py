"""Issue 9 (item 12): the open-data API keeps the contract of /api/v1/openapi.json — schemathesis generates
requests from the schema (valid and invalid ones) against the WSGI app and checks every answer: no 5xx, the
documented status codes, content types and bodies, JSON errors, and 405 with ``Allow`` for a method the
schema does not list."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from dibao import notices
from dibao.models import Level, Region, Stage
from tests.factories import case_awaiting_notice, make_case


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_keeps_its_openapi_contract(app, session, world, clock, mode):
    comm = session.get(Region, world.regions["comm_a1"])
    case = case_awaiting_notice(session, comm, Level.town)
    notices.publish_batch(session, None, level=Level.town, region=comm.parent, cases=[case], title="甲镇低保审核公示")
    make_case(session, comm, stage=Stage.active, head_name="孙小红")
    session.commit()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)

    @given(case=schema.as_strategy(generation_mode=mode))
    @settings(max_examples=30, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def call(case):
        case.call_and_validate()

    call()
