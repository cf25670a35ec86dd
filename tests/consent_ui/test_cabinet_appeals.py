"""Appeals on the pages: the cabinet's Appeals tab (file, answer, close), the operators' console (queues,
overdue, SLA statistics, resolving with an adjustment), the customer's "My appeals"; and every refusal."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from registry import appeals
from registry.appeal_models import Appeal
from registry.models import BillingAdjustment
from senim.database import db
from tests.support.appeals import PDF, PNG, routed_call
from tests.support.consent_journey import authorised_consent, customer_at, sign_in_to_cabinet
from tests.support.customer import BIDEN_IIN, BIDEN_PHONE, csrf_token
from tests.support.staff import bank, fintech, joined, operator


@pytest.fixture
def cast(app):
    qarjy, altyn = fintech(), bank()
    from registry.participants import API_PROVIDER, add_participant

    dala = add_participant(name="Dala Bank", bin="990240000080", roles=[API_PROVIDER])
    routed_call(qarjy.id, altyn.id, "int-page-1")
    return {
        "qarjy": qarjy,
        "altyn": altyn,
        "user": joined(app, participant_id=qarjy.id, role="finance", email="dana@qarjy.kz"),
        "provider": joined(app, participant_id=altyn.id, role="developer", email="arman@altyn.kz"),
        "outsider": joined(app, participant_id=dala.id, role="admin", email="admin@dala.kz"),
    }


def _file(staff, **fields):
    data = {
        "csrf_token": staff.csrf("/registry/appeals/new"),
        "category": "dispute",
        "subject": "Billed twice",
        "text": "One balances call, two charges.",
        "interaction_id": "int-page-1",
        **fields,
    }
    return staff.http.post("/registry/appeals", data=data, content_type="multipart/form-data")


def _only_appeal() -> Appeal:
    return db.session.scalars(select(Appeal)).one()


def test_a_dispute_filed_answered_and_resolved_with_a_refund_through_the_pages(app, cast):
    user, provider = cast["user"], cast["provider"]
    filed = _file(user, attachments=[(io.BytesIO(PDF), "invoice.pdf"), (io.BytesIO(PNG), "screen.png")])
    assert filed.status_code == 303
    appeal = _only_appeal()
    assert filed.headers["Location"].endswith(f"/registry/appeals/{appeal.id}")
    page = user.http.get(filed.headers["Location"]).get_data(as_text=True)
    assert appeal.number in page and "Dispute" in page and "invoice.pdf" in page and "int-page-1" in page

    listed = provider.http.get("/registry/appeals").get_data(as_text=True)
    addressed = listed.split('class="addressed"')[1].split('class="filed"')[0]
    assert f'data-appeal-id="{appeal.id}"' in addressed
    attachment = re.search(r'href="(/registry/appeals/[^"]+/attachments/[^"]+)"', page).group(1)
    download = provider.http.get(attachment)
    assert download.data == PDF and download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    answered = provider.post_form(
        f"/registry/appeals/{appeal.id}/comments",
        {"text": "We see two charges."},
        csrf_from="/registry/appeals",
    )
    assert answered.status_code == 303
    assert "We see two charges." in user.http.get(f"/registry/appeals/{appeal.id}").get_data(as_text=True)

    staff = operator(app)
    console = staff.http.get("/registry/console/appeals?team=billing").get_data(as_text=True)
    assert f'data-appeal-id="{appeal.id}"' in console and 'data-team="billing"' in console
    staff.post_form(f"/registry/appeals/{appeal.id}/assign", csrf_from="/registry/console/appeals")
    resolved = staff.post_form(
        f"/registry/appeals/{appeal.id}/resolve",
        {
            "outcome": "upheld",
            "summary": "Charged twice: refunded.",
            "amount": "12.50",
            "direction": "refund",
            "adjustment_reason": "Refund: call int-page-1 billed twice",
        },
        csrf_from="/registry/console/appeals",
    )
    assert resolved.status_code == 303
    db.session.expire_all()
    appeal = _only_appeal()
    adjustment = db.session.get(BillingAdjustment, appeal.adjustment_id)
    assert (appeal.status, appeal.outcome, adjustment.amount_tiyn, adjustment.appeal_id) == (
        "resolved",
        "upheld",
        -1250,
        appeal.id,
    )
    page = user.http.get(f"/registry/appeals/{appeal.id}").get_data(as_text=True)
    assert "Upheld" in page and "A billing adjustment is recorded" in page
    assert "Refund to the API user: 12.50 tenge" in page
    closed = user.post_form(
        f"/registry/appeals/{appeal.id}/status", {"to": "closed"}, csrf_from="/registry/appeals"
    )
    assert closed.status_code == 303
    db.session.expire_all()
    assert _only_appeal().status == "closed"


def test_a_dispute_without_an_outcome_stays_open_and_says_why(app, cast):
    _file(cast["user"])
    appeal = _only_appeal()
    staff = operator(app)
    answer = staff.post_form(
        f"/registry/appeals/{appeal.id}/resolve", {"summary": "Done"}, csrf_from="/registry/console/appeals"
    )
    page = staff.http.get(answer.headers["Location"]).get_data(as_text=True)
    assert "a dispute is resolved with its outcome" in page
    db.session.expire_all()
    assert _only_appeal().status == "new"
    assert db.session.scalar(select(func.count()).select_from(BillingAdjustment)) == 0


def test_the_console_shows_queues_overdue_and_sla_statistics(app, cast, clock):
    _file(cast["user"], category="question", interaction_id="")
    clock.advance(3 * 24 * 3600 + 1)
    staff = operator(app)
    page = staff.http.get("/registry/console/appeals").get_data(as_text=True)
    overdue = page.split('class="overdue-list"')[1].split('class="queue"')[0]
    assert f'data-appeal-id="{_only_appeal().id}"' in overdue
    support = re.search(r'<tr data-team="support">(.*?)</tr>', page, re.S).group(1)
    assert '<td class="open">1</td>' in support and '<td class="overdue">1</td>' in support
    assert staff.http.get("/registry/console/appeals?team=nobody").status_code == 404


def test_a_wrong_attachment_is_refused_and_nothing_is_filed(app, cast):
    refused = _file(cast["user"], attachments=[(io.BytesIO(b"MZ\x90 an exe"), "invoice.pdf")])
    assert refused.status_code == 303 and "/registry/appeals/new" in refused.headers["Location"]
    page = cast["user"].http.get(refused.headers["Location"]).get_data(as_text=True)
    assert "attachments are PDF, PNG or JPEG files" in page
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 0


def test_a_link_to_someone_elses_routed_call_is_refused(app, cast):
    refused = _file(cast["outsider"])
    page = cast["outsider"].http.get(refused.headers["Location"]).get_data(as_text=True)
    assert "no routed call with interaction id int-page-1 that you are a party to" in page
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 0


def test_outsiders_get_not_found_on_every_appeal_page(app, cast):
    _file(cast["user"], attachments=[(io.BytesIO(PDF), "invoice.pdf")])
    appeal = _only_appeal()
    attachment = appeals.attachments_of(appeal.id)[0]
    outsider = cast["outsider"]
    for path in (
        f"/registry/appeals/{appeal.id}",
        f"/registry/appeals/{appeal.id}/attachments/{attachment.id}",
    ):
        assert outsider.http.get(path).status_code == 404
    for action, data in (("comments", {"text": "hi"}), ("status", {"to": "closed"})):
        answer = outsider.post_form(
            f"/registry/appeals/{appeal.id}/{action}", data, csrf_from="/registry/appeals"
        )
        assert answer.status_code == 404
    assert f'data-appeal-id="{appeal.id}"' not in outsider.http.get("/registry/appeals").get_data(
        as_text=True
    )
    regulator = joined(app, participant_id=None, role="regulator", email="inspector@nbk.kz")
    assert regulator.http.get(f"/registry/appeals/{appeal.id}").status_code == 404
    assert regulator.http.get("/registry/appeals").status_code == 404
    assert regulator.http.get("/registry/console/appeals").status_code == 404


def test_participants_cannot_assign_resolve_or_open_the_console(app, cast):
    _file(cast["user"])
    appeal = _only_appeal()
    provider = cast["provider"]
    assert provider.http.get("/registry/console/appeals").status_code == 404
    for action in ("assign", "resolve"):
        answer = provider.post_form(
            f"/registry/appeals/{appeal.id}/{action}",
            {"outcome": "rejected", "summary": "no"},
            csrf_from="/registry/appeals",
        )
        assert answer.status_code == 404
    db.session.expire_all()
    assert (_only_appeal().status, _only_appeal().assignee_id) == ("new", None)


def test_a_viewer_sees_but_does_not_answer(app, cast):
    _file(cast["user"])
    appeal = _only_appeal()
    viewer = joined(app, participant_id=cast["altyn"].id, role="viewer", email="viewer@altyn.kz")
    page = viewer.http.get(f"/registry/appeals/{appeal.id}").get_data(as_text=True)
    assert appeal.number in page and 'id="comment"' not in page
    answer = viewer.post_form(
        f"/registry/appeals/{appeal.id}/comments", {"text": "ok"}, csrf_from="/registry/appeals"
    )
    assert answer.status_code == 403


def test_the_filer_cannot_skip_the_workflow(app, cast):
    _file(cast["user"])
    appeal = _only_appeal()
    answer = cast["user"].post_form(
        f"/registry/appeals/{appeal.id}/status", {"to": "closed"}, csrf_from="/registry/appeals"
    )
    page = cast["user"].http.get(answer.headers["Location"]).get_data(as_text=True)
    assert "an appeal new cannot become closed" in page
    db.session.expire_all()
    assert _only_appeal().status == "new"


def test_a_reopened_dispute_shows_its_adjustment_and_takes_no_second_amount(app, cast):
    user = cast["user"]
    _file(user)
    appeal = _only_appeal()
    staff = operator(app)
    refund = {"outcome": "upheld", "summary": "Refunded.", "amount": "12.50", "direction": "refund"}
    staff.post_form(f"/registry/appeals/{appeal.id}/resolve", refund, csrf_from="/registry/console/appeals")
    user.post_form(
        f"/registry/appeals/{appeal.id}/status",
        {"to": "in_progress", "reason": "Three calls were billed twice"},
        csrf_from="/registry/appeals",
    )
    page = staff.http.get(f"/registry/appeals/{appeal.id}").get_data(as_text=True)
    form = page.split('id="resolve"')[1]
    assert "A billing adjustment is already recorded for this dispute" in form
    assert "Refund to the API user: 12.50 tenge" in form and 'name="amount"' not in form
    again = staff.post_form(
        f"/registry/appeals/{appeal.id}/resolve",
        {**refund, "amount": "25"},
        csrf_from="/registry/console/appeals",
    )
    refused = staff.http.get(again.headers["Location"]).get_data(as_text=True)
    assert "adjustment of -12.50 KZT is already recorded" in refused
    db.session.expire_all()
    assert _only_appeal().status == "in_progress"
    assert db.session.scalar(select(func.count()).select_from(BillingAdjustment)) == 1


def test_filing_is_limited_per_account_and_per_network(app, cast):
    user, provider = cast["user"], cast["provider"]
    question = {"category": "question", "interaction_id": ""}
    assert [_file(user, **question).status_code for _ in range(5)] == [303] * 5
    limited = _file(user, **question)  # the account's 5 a minute
    assert limited.status_code == 303 and "/registry/appeals/new" in limited.headers["Location"]
    page = user.http.get(limited.headers["Location"]).get_data(as_text=True)
    assert "Too many appeals sent from your account in a short time" in page
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 5
    # another account on the same network files on, up to the network's 10 a minute
    assert [_file(provider, **question).status_code for _ in range(4)] == [303] * 4
    assert _file(cast["outsider"], **question).status_code == 429
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 9


def test_a_filer_over_the_cap_of_appeals_not_closed_is_told_why(app, cast, monkeypatch):
    monkeypatch.setattr(appeals, "MAX_OPEN_PER_FILER", 1)
    _file(cast["user"], category="question", interaction_id="")
    refused = _file(cast["user"], category="question", interaction_id="")
    page = cast["user"].http.get(refused.headers["Location"]).get_data(as_text=True)
    assert "You have 1 appeals that are not closed: close the settled ones before filing another" in page
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 1


# -- the customer's cabinet -------------------------------------------------------------------------
@pytest.fixture
def customer_cabinet(app, api_user, clock):
    from idp.consents.models import Consent

    customer = customer_at(app, api_user)
    consent_id, _code = authorised_consent(customer, clock.now())
    # the test app belongs to no participant: the consent's API user is set here
    db.session.get(Consent, consent_id).participant_id = fintech().id
    db.session.commit()
    return sign_in_to_cabinet(customer, clock), consent_id


def test_a_customer_files_a_complaint_about_a_consent_and_follows_it(app, customer_cabinet):
    cabinet, consent_id = customer_cabinet
    home = cabinet.http.get("/cabinet").get_data(as_text=True)
    assert "My appeals" in home
    form = cabinet.http.get("/cabinet/appeals/new").get_data(as_text=True)
    assert consent_id in form and 'value="dispute"' not in form
    filed = cabinet.http.post(
        "/cabinet/appeals",
        data={
            "csrf_token": csrf_token(form),
            "category": "complaint",
            "consent_id": consent_id,
            "subject": "The app reads too much",
            "text": "It asked for balances every minute.",
            "attachments": [(io.BytesIO(PNG), "screen.png")],
        },
        content_type="multipart/form-data",
    )
    assert filed.status_code == 303
    appeal = _only_appeal()
    assert (appeal.team, appeal.consent_id, appeal.filer_participant_id) == ("compliance", consent_id, None)
    page = cabinet.http.get(filed.headers["Location"]).get_data(as_text=True)
    assert "Your appeal is sent" in page and appeal.number in page and "screen.png" in page
    listed = cabinet.http.get("/cabinet/appeals").get_data(as_text=True)
    assert f'data-appeal-id="{appeal.id}"' in listed
    commented = cabinet.http.post(
        f"/cabinet/appeals/{appeal.id}/comments",
        data={"csrf_token": csrf_token(page), "text": "It still does."},
    )
    assert commented.status_code == 303
    assert "It still does." in cabinet.http.get(f"/cabinet/appeals/{appeal.id}").get_data(as_text=True)


def test_a_customer_cannot_link_another_customers_consent_or_see_their_appeal(app, customer_cabinet, clock):
    cabinet, consent_id = customer_cabinet
    form = cabinet.http.get("/cabinet/appeals/new").get_data(as_text=True)
    cabinet.http.post(
        "/cabinet/appeals",
        data={
            "csrf_token": csrf_token(form),
            "category": "question",
            "subject": "?",
            "text": "?",
            "consent_id": consent_id,
        },
    )
    appeal = _only_appeal()

    from flask.testing import FlaskClient

    from tests.support.api_user import ApiUser
    from tests.support.customer import Customer

    http: FlaskClient = app.test_client()
    http.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    other = Customer(ApiUser(http=http, client_id="app-1", key=None, now=clock.now))
    clock.advance(61)
    other.open_cabinet()
    other.log_in(BIDEN_IIN, BIDEN_PHONE, who="biden")
    for path in (f"/cabinet/appeals/{appeal.id}", f"/cabinet/appeals/{appeal.id}/attachments/x"):
        refused = other.http.get(path)
        assert refused.status_code == 404 and "You have no appeal with this number" in refused.get_data(
            as_text=True
        )
    page = other.http.get("/cabinet/appeals/new").get_data(as_text=True)
    assert consent_id not in page
    refused = other.http.post(
        "/cabinet/appeals",
        data={
            "csrf_token": csrf_token(page),
            "category": "complaint",
            "subject": "x",
            "text": "y",
            "consent_id": consent_id,
        },
    )
    assert refused.status_code == 400 and "that you are a party to" in refused.get_data(as_text=True)
    assert f'data-appeal-id="{appeal.id}"' not in other.http.get("/cabinet/appeals").get_data(as_text=True)
    moved = other.http.post(
        f"/cabinet/appeals/{appeal.id}/status", data={"csrf_token": csrf_token(page), "to": "closed"}
    )
    assert moved.status_code == 404


def test_a_customer_is_limited_per_account_and_by_the_cap(app, customer_cabinet, monkeypatch):
    cabinet, _consent_id = customer_cabinet
    monkeypatch.setattr(appeals, "MAX_OPEN_PER_FILER", 1)
    form = cabinet.http.get("/cabinet/appeals/new").get_data(as_text=True)
    question = {"csrf_token": csrf_token(form), "category": "question", "subject": "?", "text": "?"}
    assert cabinet.http.post("/cabinet/appeals", data=question).status_code == 303
    over = cabinet.http.post("/cabinet/appeals", data=question)
    assert over.status_code == 400 and "appeals that are not closed" in over.get_data(as_text=True)
    statuses = [cabinet.http.post("/cabinet/appeals", data=question).status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]  # the account's 5 a minute, refused ones too
    assert "Too many appeals sent from your account" in cabinet.http.post(
        "/cabinet/appeals", data=question
    ).get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 1


def test_the_appeal_pages_need_a_signed_in_customer(app, http):
    for path in ("/cabinet/appeals", "/cabinet/appeals/new", "/cabinet/appeals/some-id"):
        answer = http.get(path)
        assert answer.status_code == 303 and answer.headers["Location"].endswith("/cabinet")


def test_attachments_larger_than_the_apps_one_megabyte_are_taken(app, cast):
    big = PDF + b"0" * (3 * 1024 * 1024 // 2)  # 1.5 MiB: above the app's 1 MB, within an attachment's 2 MiB
    filed = _file(cast["user"], attachments=[(io.BytesIO(big), "usage.pdf")])
    assert filed.status_code == 303
    assert appeals.attachments_of(_only_appeal().id)[0].size == len(big)
