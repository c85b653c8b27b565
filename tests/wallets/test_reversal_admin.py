"""Staff reversals in the admin: one staff member proposes from the ledger entry, another decides."""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.test import Client

from ledger.models import ReversalDecision, ReversalProposal, Transaction
from tests.conftest import balance_of
from wallets import services
from wallets.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def payment(alice: User, bob: User) -> Transaction:
    return services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100.00")


def staff_client(username: str) -> tuple[User, Client]:
    user = User.objects.create_superuser(username=username, password="a long staff passphrase")
    client = Client()
    client.force_login(user)
    return user, client


class _NestedForms(HTMLParser):
    """Counts <form> tags opened inside another form (a browser drops them: their buttons post the outer one)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = self.nested = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.nested += self.depth > 0
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.depth -= 1


def nested_forms(html: str) -> int:
    parser = _NestedForms()
    parser.feed(html)
    return parser.nested


def propose_url(entry: Transaction) -> str:
    return f"/admin/ledger/reversalproposal/propose/{entry.pk}/"


def test_the_ledger_entry_offers_a_proposal_and_a_reason_is_required(payment: Transaction) -> None:
    _, ops = staff_client("ops")
    entry_page = ops.get(f"/admin/ledger/transaction/{payment.pk}/change/").content.decode()
    assert propose_url(payment) in entry_page

    no_reason = ops.post(propose_url(payment), {"amount": "", "reason": ""})
    assert no_reason.status_code == 400
    assert not ReversalProposal.objects.exists()
    done = ops.post(propose_url(payment), {"amount": "", "reason": "paid twice, ticket 9"})
    assert done.status_code == 302
    proposal = ReversalProposal.objects.get()
    assert (proposal.amount, proposal.entry_id) == (Decimal("100.00"), payment.pk)
    assert proposal.reason == "paid twice, ticket 9"


def test_the_proposer_sees_no_decision_buttons_and_cannot_post_one(bob: User, payment: Transaction) -> None:
    _, ops = staff_client("ops")
    ops.post(propose_url(payment), {"reason": "paid twice"})
    proposal = ReversalProposal.objects.get()
    page = ops.get(f"/admin/ledger/reversalproposal/{proposal.pk}/change/").content.decode()
    assert "a different staff member must approve" in page
    assert "/approve/" not in page

    ops.post(f"/admin/ledger/reversalproposal/{proposal.pk}/approve/")
    assert not ReversalDecision.objects.exists()
    assert balance_of(bob) == Decimal("100.00")


def test_a_second_staff_member_approves_and_the_page_says_so(alice: User, bob: User, payment: Transaction) -> None:
    _, ops = staff_client("ops")
    _, lead = staff_client("lead")
    ops.post(propose_url(payment), {"amount": "25.00", "reason": "overcharged"})
    proposal = ReversalProposal.objects.get()
    page = lead.get(f"/admin/ledger/reversalproposal/{proposal.pk}/change/").content.decode()
    assert f"/admin/ledger/reversalproposal/{proposal.pk}/approve/" in page
    assert nested_forms(page) == 0

    approved = lead.post(f"/admin/ledger/reversalproposal/{proposal.pk}/approve/", follow=True)
    assert "Approved" in approved.content.decode()
    assert balance_of(bob) == Decimal("75.00")
    assert ReversalDecision.objects.get().outcome == "APPROVED"
    again = lead.post(f"/admin/ledger/reversalproposal/{proposal.pk}/approve/", follow=True)
    assert "already approved or refused" in again.content.decode()
    assert Transaction.objects.filter(transaction_type="REVERSAL").count() == 1


def test_a_refusal_needs_a_reason_and_closes_the_proposal(bob: User, payment: Transaction) -> None:
    _, ops = staff_client("ops")
    _, lead = staff_client("lead")
    ops.post(propose_url(payment), {"reason": "customer asked"})
    proposal = ReversalProposal.objects.get()
    lead.post(f"/admin/ledger/reversalproposal/{proposal.pk}/refuse/", {"reason": ""})
    assert not ReversalDecision.objects.exists()
    lead.post(f"/admin/ledger/reversalproposal/{proposal.pk}/refuse/", {"reason": "goods delivered"})
    assert ReversalDecision.objects.get().outcome == "REFUSED"
    page = lead.get(f"/admin/ledger/reversalproposal/{proposal.pk}/change/").content.decode()
    assert "This proposal is closed" in page


def test_the_records_are_read_only_in_the_admin(payment: Transaction) -> None:
    _, ops = staff_client("ops")
    ops.post(propose_url(payment), {"reason": "paid twice"})
    proposal = ReversalProposal.objects.get()
    assert ops.get("/admin/ledger/reversalproposal/").status_code == 200
    assert ops.get("/admin/ledger/reversaldecision/").status_code == 200
    assert ops.get("/admin/ledger/reversalproposal/add/").status_code == 403
    assert ops.post(f"/admin/ledger/reversalproposal/{proposal.pk}/delete/").status_code == 403
    ops.post(f"/admin/ledger/reversalproposal/{proposal.pk}/change/", {"reason": "edited"})
    assert ReversalProposal.objects.get().reason == "paid twice"


def test_a_signed_in_customer_cannot_reach_the_reversal_views(alice: User, payment: Transaction) -> None:
    client = Client()
    client.force_login(alice)
    assert client.post(propose_url(payment), {"reason": "mine"}).status_code == 302  # to the admin sign-in
    assert not ReversalProposal.objects.exists()
