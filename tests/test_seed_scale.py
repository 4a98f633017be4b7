"""`dibao seed-scale` (PostgreSQL, COPY) leaves a province the way a deployment's sweep would have: both summaries
filled and agreeing with a live count, so the first statistics page does not count the province live."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dibao import roster_summary, stats_summary
from dibao.models import Case, Region


def test_seed_scale_fills_both_summaries(app, runner, session):
    if app.extensions["dibao.engine"].dialect.name != "postgresql":
        pytest.skip("seed-scale is PostgreSQL's (COPY)")
    res = runner.invoke(args=["seed-scale", "--households", "60", "--counties", "1", "--towns", "2",
                              "--communities", "2"])
    assert res.exit_code == 0, res.output
    assert session.scalar(select(func.count()).select_from(Case)) == 60
    regions = session.scalar(select(func.count()).select_from(Region))
    assert f"roster summary: {regions} regions" in res.output
    assert roster_summary.stale(session, None) == []
    assert stats_summary.stale(session, None, stats_summary.summary_months()) == {}
    differences, checked = roster_summary.verify(session)
    assert differences == [] and checked == regions
    differences, checked = stats_summary.verify(session)
    assert differences == [] and checked > 0


def test_seed_scale_can_leave_the_summaries_to_the_sweep(app, runner, session):
    if app.extensions["dibao.engine"].dialect.name != "postgresql":
        pytest.skip("seed-scale is PostgreSQL's (COPY)")
    res = runner.invoke(args=["seed-scale", "--households", "20", "--counties", "1", "--towns", "1",
                              "--communities", "2", "--no-summaries"])
    assert res.exit_code == 0, res.output
    assert "summary" not in res.output
    assert len(roster_summary.stale(session, None)) == session.scalar(select(func.count()).select_from(Region))
