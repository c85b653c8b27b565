"""Checks of our own for the schemathesis run (``schemathesis.toml`` loads this module).

A schema states the form of a request, not the state it meets. Some operations refuse
well-formed requests with a 400 for reasons no schema can state: sign-up (a taken username
or number, Django's password validators, numbering plans), transfers (paying yourself,
a number no country assigns, a recipient's full wallet), setting the PIN (a PIN is already
set and no proof was given, a wrong or used code), the recipient lookup (exactly one of
two query parameters, numbering plans) and the password endpoints (a wrong current password,
a wrong or expired code, password validators, numbering plans). The config
lets ``positive_data_acceptance`` take a 400 there; ``refusals_of_valid_requests_are_semantic``
takes it back for every other reason, so a schema-valid request refused for its form still fails.
``every_operation_succeeds_somewhere`` keeps the run from passing vacuously (every call a 401).
"""

from __future__ import annotations

import re
from typing import Any

import schemathesis

from wallets import errors, phone
from wallets.statements import period as statement_period

# Django's validators' messages that no schema states (the length is the schema's minLength).
_PASSWORD_RULES = (
    "This password is too common.",
    "This password is entirely numeric.",
    "The password is too similar to the username.",
    "The password is too similar to the first name.",
    "The password is too similar to the last name.",
)
_NUMBERING_PLAN = (phone.NOT_A_NUMBER_MESSAGE, phone.NOT_ASSIGNED_MESSAGE)

_WRONG_CODE = [
    ("invalid_code", (errors.InvalidCode.default_message,)),
    ("code_expired", (errors.CodeExpired.default_message,)),
]

_PERIOD_RULES = (
    "The from date is not a day of the calendar.",
    "The to date is not a day of the calendar.",
    f"Statements start on {statement_period.EARLIEST.isoformat()} at the earliest.",
    "The period ends before it starts.",
    "The period ends after today.",
    f"A statement covers at most {statement_period.MAX_DAYS} days.",
)

# operation -> field (None for a refusal of the whole request) -> (code, messages), or a list of
# such alternatives; the messages may come in any combination of the listed sentences.
# A sentence is a string, or a pattern for one that carries a figure (an amount, a balance).
Rule = tuple[str, tuple[str | re.Pattern[str], ...]]
_SEMANTIC_400: dict[str, dict[str | None, Rule | list[Rule]]] = {
    "POST /api/v1/auth/register/": {
        "username": ("validation_error", (errors.UsernameTaken.default_message,)),
        "password": ("validation_error", _PASSWORD_RULES),
        "mobile_number": ("validation_error", (*_NUMBERING_PLAN, errors.MobileTaken.default_message)),
    },
    "POST /api/v1/transfers/": {
        None: ("self_transfer", (errors.SelfTransfer.default_message,)),
        "to_mobile": ("validation_error", _NUMBERING_PLAN),
        "amount": ("invalid_amount", ("The recipient's wallet cannot hold that much.",)),
    },
    # The state of the account: a PIN already set needs a proof to change; a code is right or not.
    "PUT /api/v1/auth/pin/": {
        "current_pin": ("pin_required", (errors.PinProofRequired.default_message,)),
        "code": _WRONG_CODE,
    },
    # Exactly one of two query parameters, which OpenAPI cannot say of parameters; numbering plans.
    "GET /api/v1/recipients/": {
        "recipient": ("validation_error", (errors.RecipientUnclear.default_message,)),
        "mobile": ("validation_error", _NUMBERING_PLAN),
    },
    # Two parameters that each read well but not together (wallets/history.py).
    "GET /api/v1/transactions/": {
        "until": ("invalid_filter", ("until is a day on or after since.",)),
        "max_amount": ("invalid_filter", ("max_amount is at least min_amount.",)),
    },
    "POST /api/v1/auth/password/": {
        "current_password": ("invalid_password", (errors.InvalidPassword.default_message,)),
        "new_password": ("validation_error", _PASSWORD_RULES),
    },
    # The state of the payment and of the caller's wallet: what is left of it, and the balance.
    "POST /api/v1/transactions/{transaction_id}/refund/": {
        "amount": [
            (
                "invalid_amount",
                (re.compile(r"At most [A-Z]{3} [0-9,]+\.[0-9]{2} of this payment is left to give back\."),),
            ),
            ("insufficient_funds", (re.compile(r"Insufficient funds: your balance is [A-Z]{3} [0-9,]+\.[0-9]{2}\."),)),
        ],
    },
    "POST /api/v1/auth/password/reset/": {
        "mobile_number": ("validation_error", _NUMBERING_PLAN),
    },
    # A period is days of the calendar, in order, and over: what a date pattern cannot state.
    "GET /api/v1/statements/": {
        "from": ("invalid_period", _PERIOD_RULES),
        "to": ("invalid_period", _PERIOD_RULES),
    },
    "POST /api/v1/auth/password/reset/confirm/": {
        "mobile_number": ("validation_error", _NUMBERING_PLAN),
        "new_password": ("validation_error", _PASSWORD_RULES),
        "code": _WRONG_CODE,
    },
    # Asking yourself for money (the run's own user id), numbering plans.
    "POST /api/v1/requests/": {
        None: ("self_request", (errors.SelfRequest.default_message,)),
        "to_mobile": ("validation_error", _NUMBERING_PLAN),
    },
    "POST /api/v1/requests/mutes/": {
        None: ("self_request", ("You cannot mute yourself.",)),
    },
}


def _is_semantic(operation: str, error: dict[str, Any]) -> bool:
    rules = _SEMANTIC_400[operation]
    fields = error.get("fields") or {}
    if not fields:
        named: list[tuple[str | None, str]] = [(None, error.get("message", ""))]
    else:
        named = [(name, message) for name, messages in fields.items() for message in messages]
    for field, message in named:
        rule = rules.get(field)
        alternatives = rule if isinstance(rule, list) else [rule] if rule is not None else []
        if not any(_explains(alternative, error.get("code"), message) for alternative in alternatives):
            return False
    return True


def _explains(rule: Rule, code: object, message: str) -> bool:
    if code != rule[0]:
        return False
    rest = message
    for sentence in rule[1]:
        rest = sentence.sub("", rest) if isinstance(sentence, re.Pattern) else rest.replace(sentence, "")
    return not rest.strip()


@schemathesis.check
def refusals_of_valid_requests_are_semantic(ctx: Any, response: Any, case: Any) -> bool | None:
    """A schema-valid request answered 400 was refused for state or a rule set, never for its form."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    operation = case.operation.label
    if operation not in _SEMANTIC_400:
        return None  # positive_data_acceptance itself refuses a 400 there
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        error = {}
    if not _is_semantic(operation, error):
        raise AssertionError(
            f"{operation} refused a schema-valid request with 400 for its form; the schema must say so:\n{error}"
        )
    return None


# The run signs in as a user whose number is verified: asking for a verification code answers
# 409 already_verified for them, never 2xx (tests/wallets/accounts/ covers its 202). It knows no
# reset code and never the current password (changing it would sign the run itself out): the
# password change and the reset's confirmation answer 400 to it, never 2xx
# (tests/wallets/accounts/test_passwords.py covers their 200).
_NEVER_2XX_FOR_A_VERIFIED_USER = {
    "POST /api/v1/auth/mobile/code/",
    "POST /api/v1/auth/password/",
    "POST /api/v1/auth/password/reset/confirm/",
    # Nobody asks the run's user for money, so it has no request to pay or decline; it knows no other
    # account's id to mute (ids depend on what ran before), and unmutes only what it muted
    # (tests/wallets/api/test_requests.py covers their 2xx).
    "POST /api/v1/requests/{request_id}/pay/",
    "POST /api/v1/requests/{request_id}/decline/",
    "POST /api/v1/requests/mutes/",
    "DELETE /api/v1/requests/mutes/{user_id}/",
}


@schemathesis.check
class every_operation_succeeds_somewhere:
    """Every operation answered 2xx at least once: the run reached past authentication and refusals."""

    def __init__(self) -> None:
        self.tested: set[str] = set()
        self.succeeded: set[str] = set()

    def after_response(self, ctx: Any, response: Any, case: Any) -> None:
        if case.method.upper() != case.operation.method.upper():
            return  # a probe with another method (OPTIONS answers 200 everywhere)
        self.tested.add(case.operation.label)
        if 200 <= response.status_code < 300:
            self.succeeded.add(case.operation.label)

    def after_run(self, ctx: Any) -> None:
        never = self.tested - self.succeeded - _NEVER_2XX_FOR_A_VERIFIED_USER
        if never:
            raise AssertionError("never answered 2xx: " + ", ".join(sorted(never)))
