"""Export and erasure of one data subject, on both backends: exactly that person's
records, every personal field gone afterwards, reports unchanged, repeatable, audited."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from leadwatch.leads.models import Lead
from leadwatch.leads.queries import LeadFilter, rescore, scoring_report
from leadwatch.notify.models import PENDING, SENT, OutboxMessage
from leadwatch.privacy import service
from leadwatch.privacy.models import PrivacyRequest
from leadwatch.privacy.subjects import ERASED, Subject, SubjectError
from tests.privacy.world import ANN_SECRETS, BOB_SECRETS, World

ANN = Subject.parse("ann@example.com", "+44 20 7946 0000")


def contains(dump: str, secrets: tuple[str, ...]) -> list[str]:
    return [s for s in secrets if s.lower() in dump.lower()]


def test_export_holds_exactly_the_subjects_records(world: World) -> None:
    document = world.runtime.privacy.export(Subject.parse(" ANN@example.com "), actor="test")
    ids = world.ids
    assert [lead["id"] for lead in document["leads"]] == [ids["ann"], ids["ann_dup"]]
    first = document["leads"][0]
    assert first["email"] == "ann@example.com" and first["phone"] == "+44 20 7946 0000"
    assert first["consent"] == {"processing": True, "marketing": True, "policy_version": "2026-01"}
    assert first["score_breakdown"]["factors"] and first["won_value"] == 5000.0
    assert [(a["status"], a["note"]) for a in first["activities"]] == [
        ("contacted", "Call back Tuesday with Ann"), ("won", "Signed")]
    keys = {m["message"]["dedup_key"]: m for m in document["notifications"]}
    assert set(keys) == {f"lead-default-{ids['ann']}", f"lead-reply-default-{ids['ann']}"}
    assert keys[f"lead-reply-default-{ids['ann']}"]["message"]["to"] == ["ann@example.com"]
    assert contains(json.dumps(document), BOB_SECRETS) == []
    assert document["request_id"] and document["not_included"]
    # With her phone, the lead she sent from work is hers too; Bob's never is.
    by_phone = world.runtime.privacy.export(ANN, actor="test")
    assert [lead["id"] for lead in by_phone["leads"]] == [ids["ann"], ids["ann_dup"], ids["ann_work"]]
    assert [r["kind"] for r in by_phone["requests"]] == ["export"]  # the earlier export, by hash


def test_erasure_removes_every_personal_field_and_keeps_the_numbers(world: World) -> None:
    privacy, ids = world.runtime.privacy, world.ids
    before, report_before = world.aggregates(), _report(world)
    assert contains(world.dump(), ANN_SECRETS) == list(ANN_SECRETS)

    done = privacy.erase(ANN, actor="test")

    assert done.counts == {"leads": 3, "lead_activities": 2, "notify_outbox_deleted": 2,
                           "notify_outbox_redacted": 1}
    dump = world.dump()
    assert contains(dump, ANN_SECRETS) == []
    assert contains(dump, BOB_SECRETS) == list(BOB_SECRETS)
    assert world.aggregates() == before and _report(world) == report_before
    with world.runtime.records.session() as session:
        ann = session.get_one(Lead, ids["ann"])
        assert (ann.name, ann.email, ann.phone, ann.company, ann.message) == (ERASED,) * 5
        assert ann.page_url == "https://rebootmedia.example/contact"
        assert ann.referrer == "https://webmail.example/"
        assert ann.click_ids is ann.client_key is ann.idempotency_key is None
        assert ann.budget == "20k" and ann.utm_campaign == "spring"
        # Nothing goes out to or about her any more; what went out keeps its history.
        messages = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        left = {m.message["dedup_key"]: m for m in messages}
        sent = left[f"lead-default-{ids['ann']}"]
        assert sent.status == SENT and sent.message["text"] == ERASED and sent.message["facts"] == {}
        assert f"lead-reply-default-{ids['ann']}" not in left
        assert left[f"lead-reply-default-{ids['bob']}"].status == PENDING
        # Scores stay what they were when scored again.
        assert rescore(session, world.runtime.settings, dry_run=True)[1] == 0
    assert world.runtime.privacy.export(ANN, actor="test")["leads"] == []


def test_erasure_is_idempotent_and_audited_without_the_address(world: World) -> None:
    privacy = world.runtime.privacy
    first = privacy.erase(ANN, actor="test")
    after_first = world.aggregates()
    again = privacy.erase(ANN, actor="test")
    assert set(again.counts.values()) == {0} and again.request_id != first.request_id
    assert world.aggregates() == after_first
    with world.runtime.records.session() as session:
        audit = session.scalars(select(PrivacyRequest).order_by(PrivacyRequest.id)).all()
    assert [(r.kind, r.actor, r.subject_hash, r.counts) for r in audit] == [
        ("erase", "test", privacy.subject_hash(ANN), first.counts),
        ("erase", "test", privacy.subject_hash(ANN), again.counts)]
    assert all(r.completed_at is not None and r.completed_at >= r.requested_at for r in audit)
    # The same address written otherwise is the same subject; another one is not.
    assert privacy.subject_hash(Subject.parse("ANN@example.COM")) == privacy.subject_hash(ANN)
    assert privacy.subject_hash(Subject.parse("bob@example.com")) != privacy.subject_hash(ANN)
    assert contains(world.dump(), ("ann@example.com", "7946 0000", "7946-0000")) == []
    registry = world.runtime.metrics.registry
    assert registry.get_sample_value("leadwatch_privacy_requests_total", {"kind": "erase"}) == 2


def test_a_failed_erasure_changes_nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    before = world.dump()

    def broken(*_: object) -> None:
        raise RuntimeError("the audit row could not be written")

    monkeypatch.setattr(service.Privacy, "_audit", staticmethod(broken))
    with pytest.raises(RuntimeError):
        world.runtime.privacy.erase(ANN, actor="test")
    assert world.dump() == before


def test_erasure_by_email_leaves_other_addresses_with_the_same_phone(world: World) -> None:
    done = world.runtime.privacy.erase(Subject.parse("ann@example.com", site_id="default"), actor="test")
    assert done.counts["leads"] == 2
    with world.runtime.records.session() as session:
        assert session.get_one(Lead, world.ids["ann_work"]).email == "ann@annworks.example"


def test_retention_anonymises_only_leads_older_than_the_setting(world: World) -> None:
    privacy, ids = world.runtime.privacy, world.ids
    due = privacy.due()
    assert due is not None and due.leads == 3  # Ann's two (40 days) and Bob's (50); not 3 days
    before = world.aggregates()
    done = privacy.apply_retention(batch_size=2)  # two transactions
    assert done.counts["leads"] == 3
    with world.runtime.records.session() as session:
        emails = {lead.id: lead.email for lead in session.scalars(select(Lead))}
        audits = session.scalars(select(PrivacyRequest).order_by(PrivacyRequest.id)).all()
    assert emails == {ids["ann"]: ERASED, ids["ann_dup"]: ERASED, ids["bob"]: ERASED,
                      ids["ann_work"]: "ann@annworks.example"}
    # One audit row per batch, written in the batch's own transaction.
    assert [(a.kind, a.subject_hash, a.actor, a.counts["leads"]) for a in audits] == [
        ("retention", None, "retention", 2), ("retention", None, "retention", 1)]
    assert done.request_id == audits[-1].id
    assert world.aggregates() == before
    assert privacy.due().leads == 0 and privacy.apply_retention().request_id is None  # type: ignore[union-attr]


def _report(world: World) -> list[dict[str, object]]:
    with world.runtime.records.session() as session:
        return scoring_report(session, LeadFilter())


@given(digits=st.text("0123456789", min_size=5, max_size=15),
       separators=st.lists(st.sampled_from(["", " ", "-", "(", ")", ".", "/"]), min_size=15, max_size=15),
       plus=st.booleans())
def test_a_phone_number_matches_however_it_is_written(digits: str, separators: list[str], plus: bool) -> None:
    written = ("+" if plus else "") + "".join(d + s for d, s in zip(digits, separators, strict=False))
    subject = Subject.parse("x@example.com", digits)
    assert subject._owns(Lead(email="other@example.com", phone=written))
    assert not subject._owns(Lead(email="other@example.com", phone=written + "1"))


@pytest.mark.parametrize(("email", "phone", "field"), [
    ("not-an-address", None, "email"), ("", None, "email"), ("a@example.com", "12-3", "phone")])
def test_a_subject_that_names_no_one_is_refused(email: str, phone: str | None, field: str) -> None:
    with pytest.raises(SubjectError) as raised:
        Subject.parse(email, phone)
    assert raised.value.field == field


def test_the_export_holds_a_ui_account_named_by_the_address(world: World) -> None:
    """Staff are data subjects too: an account whose user name is the address (in any
    case) comes with its sessions and failed logins, never its password hash."""
    from leadwatch.auth import create_user
    from leadwatch.security.sessions import authenticate, open_session

    runtime = world.runtime
    with runtime.records.session() as session:
        user = create_user(session, "Ann@Example.com", "correct horse battery")
        open_session(session, runtime.settings.security, user, "203.0.113.7")
    with runtime.records.session() as session:
        assert authenticate(session, runtime.settings.security, "Ann@Example.com", "wrong password!") is None
    document = runtime.privacy.export(Subject.parse("ann@example.com", site_id="default"), actor="test")
    [account] = document["accounts"]
    assert account["username"] == "Ann@Example.com" and "password_hash" not in account
    assert [s["ip"] for s in account["sessions"]] == ["203.0.113.7"]
    assert account["failed_logins"]["failures"] == 1
