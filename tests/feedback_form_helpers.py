"""Helpers for the one decision form tests."""

from __future__ import annotations

from sqlalchemy import select

from dibao import feedback
from dibao.models import Objection


def _objection(session, entry, text="情况与公示不符，他家有车。"):
    feedback.submit_objection(session, entry.public_id, feedback.Submission(category="other", description=text),
                              media_dir="/nonexistent")
    session.commit()
    return session.scalars(select(Objection).order_by(Objection.id.desc())).first()
