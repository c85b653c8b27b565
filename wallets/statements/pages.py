"""``/statements/``: a form (from, to, format) that downloads the signed-in user's statement.

A GET form: downloading a statement changes nothing, so it needs no form token
and the address can be bookmarked. Without a period it shows the form (this
month so far filled in); with one it answers the file, or the form again with
each error beside its field (400; 429 over ``PAYLANE_STATEMENT_RATE``, which
the API counts too).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone

from wallets.errors import InvalidPeriod, InvalidStatementFormat, RateLimited
from wallets.models import User
from wallets.statements.builder import statement_build
from wallets.statements.limit import statement_rate_hit
from wallets.statements.period import FORMATS, Period, day_parse, format_parse, period_parse
from wallets.statements.responses import statement_response


class StatementForm(forms.Form):
    """Fields named as the API's parameters: ``from`` (a keyword, hence set in ``__init__``), ``to``, ``format``."""

    def __init__(self, *args: Any, today: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        day = {"type": "date", "max": today, "min": "2000-01-01"}
        self.fields["from"] = forms.CharField(label="From", required=False, widget=forms.DateInput(attrs=day))
        self.fields["to"] = forms.CharField(label="To (included)", required=False, widget=forms.DateInput(attrs=day))
        self.fields["format"] = forms.ChoiceField(
            label="Format",
            choices=[(fmt, fmt.upper()) for fmt in FORMATS],
            widget=forms.Select,
            required=False,
        )
        self.period: Period | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # Each date on its own first, so that two bad dates show two errors; then the period as a whole.
        days_ok = True
        for field in ("from", "to"):
            try:
                day_parse(data.get(field), field=field)
            except InvalidPeriod as error:
                self.add_error(field, error.message)
                days_ok = False
        if days_ok:
            try:
                self.period = period_parse(first=data.get("from"), last=data.get("to"))
            except InvalidPeriod as error:
                self.add_error(error.field, error.message)
        try:
            data["format"] = format_parse(data.get("format"))
        except InvalidStatementFormat as error:
            self.add_error(error.field, error.message)
        return data


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User), "login_required guards this view"
    return user


@login_required
def statements_page(request: HttpRequest) -> HttpResponseBase:
    today = timezone.localdate()
    if not any(name in request.GET for name in ("from", "to", "format")):
        initial = {"from": today.replace(day=1).isoformat(), "to": today.isoformat(), "format": "pdf"}
        form = StatementForm(initial=initial, today=today.isoformat())
        return render(request, "statements.html", {"form": form})
    form = StatementForm(request.GET, today=today.isoformat())
    if form.is_valid() and form.period is not None:
        try:
            statement_rate_hit(user_id=_user(request).pk)
        except RateLimited as error:
            form.add_error(None, error.message)
            response = render(request, "statements.html", {"form": form}, status=429)
            response["Retry-After"] = str(max(1, int(error.retry_after + 0.999)))
            return response
        statement = statement_build(user=_user(request), period=form.period)
        return statement_response(request, statement, form.cleaned_data["format"])
    return render(request, "statements.html", {"form": form}, status=400)
