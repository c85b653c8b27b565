"""Staff reversals in the admin: propose from a ledger entry, approve or refuse on the proposal's page.

The records are read-only here, as every audit record is (``ledger.admin.ReadOnlyAdminMixin``):
nobody adds, changes or deletes a proposal or a decision through a model form. The three
actions are views of their own that call the service (``wallets.reversals``), which holds
every rule: staff with the permission, a mandatory reason, and two people (the proposer
cannot decide their own proposal, ASVS 2.3.5).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from ledger.admin import ReadOnlyAdminMixin
from ledger.models import ReversalDecision, ReversalProposal, Transaction
from wallets import corrections, reversals
from wallets.errors import WalletError
from wallets.models import User


class ProposeForm(forms.Form):
    amount = forms.CharField(max_length=32, required=False, help_text="Empty: all that is left of the transfer.")
    reason = forms.CharField(
        max_length=reversals.REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept with the record.",
    )


class RefuseForm(forms.Form):
    reason = forms.CharField(max_length=reversals.REASON_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2}))


def _error_to_form(form: forms.Form, error: WalletError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


class ReversalDecisionInline(ReadOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = ReversalDecision
    fk_name = "proposal"
    extra = 0
    can_delete = False
    fields = ["id", "outcome", "decided_by", "reason", "reversal", "created_at"]
    readonly_fields = ["id", "outcome", "decided_by", "reason", "reversal", "created_at"]


@admin.register(ReversalProposal)
class ReversalProposalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    actions = None
    list_display = ["id", "created_at", "entry_link", "amount", "reason", "proposed_by", "state"]
    list_select_related = ["entry", "proposed_by", "closing_decision"]
    inlines = [ReversalDecisionInline]
    change_form_template = "admin/ledger/reversalproposal/change_form.html"
    show_full_result_count = False

    @admin.display(description="ledger entry")
    def entry_link(self, proposal: ReversalProposal) -> str:
        url = reverse("admin:ledger_transaction_change", args=[proposal.entry_id])
        return format_html('<a href="{}">#{}</a>', url, proposal.entry_id)

    @admin.display(description="state")
    def state(self, proposal: ReversalProposal) -> str:
        closing = getattr(proposal, "closing_decision", None)
        return closing.get_outcome_display() if closing is not None else "open"

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        own = [
            path("propose/<int:entry_id>/", view(self.propose_view), name="ledger_reversalproposal_propose"),
            path("<int:proposal_id>/approve/", view(self.approve_view), name="ledger_reversalproposal_approve"),
            path("<int:proposal_id>/refuse/", view(self.refuse_view), name="ledger_reversalproposal_refuse"),
        ]
        return own + super().get_urls()

    def _proposal_url(self, proposal_id: int) -> str:
        return reverse("admin:ledger_reversalproposal_change", args=[proposal_id])

    def propose_view(self, request: HttpRequest, entry_id: int) -> HttpResponseBase:
        """A staff member proposes reversing (part of) ledger entry ``entry_id``, with a reason."""
        entry = get_object_or_404(Transaction.objects.select_related("sender", "receiver"), pk=entry_id)
        form = ProposeForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                proposal = reversals.reversal_propose(
                    actor=self._actor(request),
                    entry_id=entry.pk,
                    reason=form.cleaned_data["reason"],
                    amount=form.cleaned_data["amount"],
                )
            except WalletError as error:
                _error_to_form(form, error)
            else:
                messages.success(request, f"Reversal #{proposal.pk} proposed: another staff member must approve it.")
                return HttpResponseRedirect(self._proposal_url(proposal.pk))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Propose a reversal of ledger entry #{entry.pk}",
            "entry": entry,
            "rest": corrections.refundable_rest(entry=entry),
            "form": form,
        }
        status = 400 if form.is_bound and form.errors else 200
        return TemplateResponse(request, "admin/ledger/reversalproposal/propose.html", context, status=status)

    def approve_view(self, request: HttpRequest, proposal_id: int) -> HttpResponseBase:
        return require_POST(self._approve)(request, proposal_id)

    def _approve(self, request: HttpRequest, proposal_id: int) -> HttpResponse:
        try:
            decision = reversals.reversal_approve(actor=self._actor(request), proposal_id=proposal_id)
        except WalletError as error:
            messages.error(request, error.message)
        else:
            if decision.outcome == ReversalDecision.Outcome.APPROVED:
                messages.success(request, f"Approved: reversal entry #{decision.reversal_id} moved the money back.")
            else:
                messages.warning(
                    request,
                    f"Not covered: {decision.reason} The attempt is recorded as failed entry "
                    f"#{decision.reversal_id}; the proposal stays open.",
                )
        return HttpResponseRedirect(self._proposal_url(proposal_id))

    def refuse_view(self, request: HttpRequest, proposal_id: int) -> HttpResponseBase:
        return require_POST(self._refuse)(request, proposal_id)

    def _refuse(self, request: HttpRequest, proposal_id: int) -> HttpResponse:
        try:
            reversals.reversal_refuse(
                actor=self._actor(request), proposal_id=proposal_id, reason=request.POST.get("reason", "")
            )
        except WalletError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Refused: the proposal is closed and nothing moved.")
        return HttpResponseRedirect(self._proposal_url(proposal_id))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        proposal = (
            ReversalProposal.objects.filter(pk=object_id).select_related("entry").first()
            if object_id.isdigit()
            else None
        )
        extra = dict(extra_context or {})
        if proposal is not None:
            actor = self._actor(request)
            extra.update(
                proposal_open=reversals.proposal_is_open(proposal),
                own_proposal=proposal.proposed_by_id == actor.pk,
                may_decide=actor.has_perm(reversals.DECIDE_PERMISSION),
                rest=reversals.proposal_rest(proposal),
                refuse_form=RefuseForm(),
            )
        return super().change_view(request, object_id, form_url, extra)

    def _actor(self, request: HttpRequest) -> User:
        user = request.user
        assert isinstance(user, User), "the admin site signs staff in"
        return user


@admin.register(ReversalDecision)
class ReversalDecisionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    actions = None
    list_display = ["id", "created_at", "proposal", "outcome", "decided_by", "reason", "reversal"]
    list_select_related = ["proposal", "decided_by", "reversal"]
    list_filter = ["outcome"]
    show_full_result_count = False
