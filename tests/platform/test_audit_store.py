"""The audit log's database copy: written when a request ends, redacted, filtered in the console."""

from __future__ import annotations

from senim.audit import AuditEvent, audit, find_audit_events, flush_audit_events
from senim.database import db
from tests.support.staff import fintech, operator


def test_events_of_a_request_are_stored_when_it_ends_even_if_it_rolled_back(app, http):
    # a refused request (no client) rolls back its work; its audit event stays
    answer = http.post("/token", data={"grant_type": "client_credentials"})
    assert answer.status_code in (400, 401)
    stored = find_audit_events()
    assert stored and all(isinstance(e.record, dict) for e in stored)


def test_stored_records_are_the_redacted_ones(app):
    audit("test.secretive", participant_id="p-1", by="s-1", token="eyJhbGciOi.xxxx.yyyy", note="x" * 50)
    assert flush_audit_events() == 1
    [event] = find_audit_events(event="test.")
    assert (event.participant_id, event.actor_id, event.outcome) == ("p-1", "s-1", "success")
    assert "token" not in event.record and event.record["note"] == "[redacted]"


def test_filters_by_event_prefix_outcome_participant_actor_and_time(app, clock):
    audit("staff.invited", participant_id="p-1", by="admin-1")
    audit("staff.sign_in_refused", outcome="refused", staff_id="s-2")
    clock.advance(86400 * 2)
    audit("participant.blocked", participant_id="p-2")
    flush_audit_events()
    assert [e.event for e in find_audit_events(event="staff.")] == ["staff.sign_in_refused", "staff.invited"]
    assert [e.event for e in find_audit_events(outcome="refused")] == ["staff.sign_in_refused"]
    assert [e.event for e in find_audit_events(participant_id="p-2")] == ["participant.blocked"]
    assert [e.event for e in find_audit_events(actor_id="admin-1")] == ["staff.invited"]
    since = int((clock.now() - 3600) * 1000)
    assert [e.event for e in find_audit_events(since_ms=since)] == ["participant.blocked"]
    assert [e.event for e in find_audit_events(event="staff%")] == []  # a pattern character is text


def test_the_operator_reads_the_audit_log_with_filters(app, clock):
    participant = fintech()
    staff = operator(app)
    staff.post_form(
        f"/registry/console/participants/{participant.id}/block", {"reason": "fraud"}, "/registry/console"
    )
    page = staff.http.get(f"/registry/console/audit?participant={participant.id}").get_data(as_text=True)
    assert 'data-event="participant.blocked"' in page and 'data-event="console.participant_blocked"' in page
    assert 'data-event="staff.joined"' not in page
    everything = staff.http.get("/registry/console/audit").get_data(as_text=True)
    assert 'data-event="staff.joined"' in everything


def test_the_audit_log_pages_back_in_time(app):
    staff = operator(app)
    for n in range(105):
        audit("test.many", n=n)
    flush_audit_events()
    first = staff.http.get("/registry/console/audit?event=test.many").get_data(as_text=True)
    assert first.count('data-event="test.many"') == 100 and "Older events" in first
    before = int(first.split("before=")[1].split("&")[0].split('"')[0])
    older = staff.http.get(f"/registry/console/audit?event=test.many&before={before}").get_data(as_text=True)
    assert older.count('data-event="test.many"') == 5


def test_participants_staff_have_no_audit_log(app):
    from tests.support.staff import joined

    admin = joined(app, participant_id=fintech().id, role="admin", email="a@qarjy.kz")
    assert admin.http.get("/registry/console/audit").status_code == 404
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent)) > 0
