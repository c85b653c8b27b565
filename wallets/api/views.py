"""The JSON API. Each view authenticates, parses, calls one service and lets
``wallets.api.errors.exception_handler`` map refusals to the error envelope."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, Throttled, ValidationError
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger.models import Transaction
from ledger.money import money_str
from wallets import idempotency, payments, refunds, selectors, services
from wallets.accounts import pins, registration, tokens
from wallets.accounts.credentials import Credential
from wallets.api import openapi
from wallets.api import responses as r
from wallets.api import serializers as s
from wallets.api.errors import error_response, wallet_error_body
from wallets.api.pagination import BIGINT_MAX, cursor_decode, cursor_encode, limit_parse
from wallets.api.throttling import MoneyMovementThrottle, RegistrationThrottle, SignInThrottle
from wallets.errors import PinRequired, WalletError
from wallets.history import history_query_parse
from wallets.models import User
from wallets.payloads import transaction_payload
from wallets.services import OnRecorded


def _outcome_response(outcome: idempotency.Outcome) -> Response:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return Response(outcome.body, status=outcome.status, headers=headers)


class _PostAnyoneDeleteSignedIn(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method != "DELETE" or bool(request.user and request.user.is_authenticated)


class RegisterView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [RegistrationThrottle]

    @extend_schema(
        operation_id="auth_register",
        request=s.RegisterRequest,
        examples=[
            OpenApiExample(
                "sign-up",
                {"username": "asha", "password": "correct horse battery staple", "mobile_number": "+91 90000 12345"},
                request_only=True,
            )
        ],
        parameters=[r.RETRY_AFTER, r.WWW_AUTHENTICATE],
        responses={
            201: s.RegisteredResponse,
            **r.errors(
                *r.BODY,
                429,
                s400="validation_error: malformed input, password rules, a taken username or number, a number "
                "libphonenumber does not know; bad_request: a JSON body nested too deeply",
                s429="rate_limited: too many sign-ups from this address; see Retry-After",
            ),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        form = s.RegisterRequest(data=request.data)
        form.is_valid(raise_exception=True)
        user = registration.user_register(**form.validated_data)
        body = {
            "user_id": user.pk,
            "username": user.username,
            "mobile_number": user.profile.mobile_number,
            "mobile_verified": user.profile.mobile_verified,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class TokenView(APIView):
    permission_classes = [_PostAnyoneDeleteSignedIn]
    throttle_classes = [SignInThrottle]

    @extend_schema(
        operation_id="auth_token_create",
        request=s.TokenRequest,
        examples=[
            OpenApiExample(
                "sign-in", {"username": "alice", "password": "correct horse battery staple"}, request_only=True
            )
        ],
        parameters=[r.RETRY_AFTER, r.WWW_AUTHENTICATE],
        responses={
            200: s.TokenResponse,
            **r.errors(
                *r.BODY,
                429,
                s400="validation_error: malformed input, or wrong credentials; bad_request: a JSON body nested "
                "too deeply",
                s429="rate_limited: too many sign-ins from this address, or failed ones for this name (django-axes); "
                "see Retry-After",
            ),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        form = s.TokenRequest(data=request.data)
        form.is_valid(raise_exception=True)
        # The Django request goes to authenticate(): django-axes counts failures per username and IP.
        user = authenticate(request._request, **form.validated_data)
        if getattr(request._request, "axes_locked_out", False):
            raise Throttled()  # AxesMiddleware replaces this with its lockout response
        if user is None:
            raise ValidationError("Unable to sign in with that username and password.")
        # A new token on every sign-in: stored hashed, it can be shown only now.
        return Response({"token": tokens.token_issue(user=user)})  # type: ignore[arg-type]

    @extend_schema(
        operation_id="auth_token_revoke",
        request=None,
        parameters=[r.WWW_AUTHENTICATE],
        responses={
            204: None,
            **r.errors(
                *r.ANY, s400="validation_error: a session has no token to revoke (sign out on the page instead)"
            ),
        },
    )
    def delete(self, request: Request) -> Response:
        if not isinstance(request.auth, Credential):
            raise ValidationError("Send the token to revoke as Authorization: Bearer <token>.")
        tokens.token_revoke(user=request.user, credential=request.auth)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)


class WalletView(APIView):
    @extend_schema(
        operation_id="wallet_retrieve",
        parameters=[r.WWW_AUTHENTICATE],
        responses={200: s.WalletResponse, **r.errors(*r.ANY)},
    )
    def get(self, request: Request) -> Response:
        wallet = selectors.wallet_for_user(user=request.user)  # type: ignore[arg-type]
        user: User = wallet.user
        return Response(
            {
                "user_id": user.pk,
                "username": user.username,
                "mobile_number": user.profile.mobile_number,
                "mobile_verified": user.profile.mobile_verified,
                "pin_set": pins.pin_status(user_id=user.pk) is not None,
                "balance": money_str(wallet.balance),
                "currency": settings.PAYLANE_CURRENCY,
                "version": wallet.version,
                "daily_limit": money_str(wallet.effective_daily_limit),
                "spent_today": money_str(selectors.wallet_spent_today(wallet=wallet)),
                "remaining_today": money_str(selectors.wallet_remaining_today(wallet=wallet)),
            }
        )


class _MoneyView(APIView):
    """A POST that moves money, rate-limited per user and idempotent with ``Idempotency-Key``."""

    throttle_classes = [MoneyMovementThrottle]
    endpoint = ""
    # Service field names -> request field names in error.fields.
    error_field_aliases: dict[str, str] = {}

    def parse(self, data: Any) -> Any:
        """Checks that run before a stored outcome is replayed, too (by default none: ``perform`` validates)."""
        return data

    def perform(self, data: Any, on_recorded: OnRecorded | None) -> Transaction:
        raise NotImplementedError

    def render(self, entry: Transaction, refusal: WalletError | None) -> tuple[int, dict[str, Any]]:
        if refusal is None:
            return status.HTTP_201_CREATED, dict(transaction_payload(entry))
        return wallet_error_body(refusal, aliases=self.error_field_aliases)

    def post(self, request: Request) -> Response:
        key = idempotency.key_parse(request.headers.get("Idempotency-Key"))
        data = request.data
        parsed = self.parse(data)
        outcome = idempotency.idempotent_call(
            user=request.user,  # type: ignore[arg-type]
            key=key,
            endpoint=self.endpoint,
            body=data,
            perform=lambda hook: self.perform(parsed, hook),
            render=self.render,
        )
        return _outcome_response(outcome)


class TopUpView(_MoneyView):
    endpoint = "top_up"

    @extend_schema(
        operation_id="wallet_top_up",
        request=s.TopUpRequest,
        examples=[OpenApiExample("top-up", {"amount": "500.00"}, request_only=True)],
        parameters=[r.IDEMPOTENCY_KEY, r.RETRY_AFTER, r.WWW_AUTHENTICATE, r.REPLAYED],
        responses={
            201: s.TransactionResponse,
            **r.errors(
                *r.MONEY,
                s400=r.MONEY_400,
                s422="top_up_limit_exceeded: over PAYLANE_TOP_UP_MAX, or more than the wallet can hold; "
                "idempotency_key_reused",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        return super().post(request)

    def perform(self, data: Any, on_recorded: OnRecorded | None) -> Transaction:
        form = s.TopUpRequest(data=data)
        form.is_valid(raise_exception=True)
        return services.wallet_top_up(
            user=self.request.user,  # type: ignore[arg-type]
            amount=form.validated_data["amount"],
            on_recorded=on_recorded,
        )


class TransferView(_MoneyView):
    """A transfer needs the payment PIN (``wallets.payments``).

    The body, PIN included, is checked for its form before anything else, so a
    retry with an ``Idempotency-Key`` carries a PIN of the right form too. The
    PIN itself is then checked only when the transfer runs: a replay of a stored
    outcome answers that outcome whatever the PIN, wrong or right, and counts
    nothing, so a replay is no way to test PINs (docs/api.md, Idempotency). The
    PIN never enters the key's fingerprint or its stored answer.
    """

    endpoint = "transfer"
    error_field_aliases = {"mobile_number": "to_mobile", "recipient": "to_user_id"}

    @extend_schema(
        operation_id="transfer_create",
        request=s.TransferRequest,
        examples=[
            OpenApiExample(
                "by mobile", {"to_mobile": "+91 98765 43210", "amount": "120.50", "pin": "4826"}, request_only=True
            ),
            OpenApiExample("by user id", {"to_user_id": 2, "amount": "9.50", "pin": "4826"}, request_only=True),
        ],
        parameters=[r.IDEMPOTENCY_KEY, r.RETRY_AFTER_LOCKED, r.WWW_AUTHENTICATE, r.REPLAYED],
        responses={
            201: s.TransactionResponse,
            **r.errors(
                *r.MONEY,
                423,
                s400=f"{r.MONEY_400}; pin_required: no PIN in the body; self_transfer; validation_error for a "
                "mobile number libphonenumber does not know; invalid_amount when the recipient's wallet cannot "
                "hold the amount",
                s403=f"{r.ERROR_TEXT[403]}; pin_not_set: set a payment PIN first (PUT /api/v1/auth/pin/); "
                "invalid_pin: a wrong PIN (counted: the fifth in a row locks payments)",
                s422="insufficient_funds, daily_limit_exceeded (recorded as FAILED: error.transaction_id); "
                "recipient_not_found; idempotency_key_reused",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        return super().post(request)

    def parse(self, data: Any) -> dict[str, Any]:
        form = s.TransferRequest(data=data)
        form.is_valid(raise_exception=True)
        if not form.validated_data.get("pin"):
            raise PinRequired()
        return dict(form.validated_data)

    def perform(self, data: dict[str, Any], on_recorded: OnRecorded | None) -> Transaction:
        return payments.payment_send(
            sender=self.request.user,  # type: ignore[arg-type]
            pin=data["pin"],
            amount=data["amount"],
            to_user_id=data.get("to_user_id"),
            to_mobile=data.get("to_mobile"),
            note=data.get("note") or "",
            on_recorded=on_recorded,
        )


class RefundView(_MoneyView):
    """The receiver of a payment gives some or all of it back (``wallets.refunds``), with the payment PIN.

    As for a transfer, the body's form (PIN included) is checked before a stored
    outcome is replayed, and the PIN itself only when the refund runs. Refusals
    record nothing in the ledger, so only a refund made is stored with its key.
    """

    error_field_aliases = {"recipient": "transaction_id"}

    @extend_schema(
        operation_id="transaction_refund",
        request=s.RefundRequest,
        examples=[
            OpenApiExample("all that is left", {"pin": "4826"}, request_only=True),
            OpenApiExample("part of it", {"amount": "40.00", "pin": "4826", "note": "two of five"}, request_only=True),
        ],
        parameters=[
            OpenApiParameter("transaction_id", openapi.TRANSACTION_ID, OpenApiParameter.PATH),
            r.IDEMPOTENCY_KEY,
            r.RETRY_AFTER_LOCKED,
            r.WWW_AUTHENTICATE,
            r.REPLAYED,
        ],
        responses={
            201: s.TransactionResponse,
            **r.errors(
                *r.MONEY,
                404,
                423,
                s400=f"{r.MONEY_400}; invalid_amount: more than is left of the payment; pin_required; "
                "insufficient_funds: your balance does not cover the refund (nothing recorded)",
                s403=f"{r.ERROR_TEXT[403]}; not_refundable: not a SUCCESS transfer, not its receiver, or older "
                "than PAYLANE_REFUND_DAYS; pin_not_set; invalid_pin (counted: the fifth in a row locks payments)",
                s404="not_found: no such transaction, or the caller is not a party to it",
                s409="already_refunded: nothing is left of the payment to give back; idempotency_in_progress",
                s422="idempotency_key_reused",
            ),
        },
    )
    def post(self, request: Request, transaction_id: int) -> Response:  # type: ignore[override]
        if transaction_id > BIGINT_MAX:
            raise NotFound("You have no transaction with that id.")
        self.transaction_id = transaction_id
        # The entry is part of what the key names: the same key on another entry is a reuse.
        self.endpoint = f"refund:{transaction_id}"
        return super().post(request)

    def parse(self, data: Any) -> dict[str, Any]:
        form = s.RefundRequest(data=data)
        form.is_valid(raise_exception=True)
        if not form.validated_data.get("pin"):
            raise PinRequired()
        return dict(form.validated_data)

    def perform(self, data: dict[str, Any], on_recorded: OnRecorded | None) -> Transaction:
        return refunds.refund_create(
            user=self.request.user,  # type: ignore[arg-type]
            transaction_id=self.transaction_id,
            pin=data["pin"],
            amount=data.get("amount"),
            note=data.get("note") or "",
            on_recorded=on_recorded,
        )


class TransactionListView(APIView):
    @extend_schema(
        operation_id="transactions_list",
        parameters=[
            OpenApiParameter(
                "limit", openapi.LIMIT, description="Entries per page: default 20; values above 100 are served as 100."
            ),
            OpenApiParameter(
                "cursor",
                openapi.CURSOR,
                description="next_cursor of the previous page, as given (opaque: its format may change), "
                "with the same filters.",
            ),
            *openapi.HISTORY_FILTERS,
            r.WWW_AUTHENTICATE,
        ],
        responses={
            200: s.TransactionPageResponse,
            **r.errors(
                *r.ANY,
                s400="invalid_filter: a filter that cannot be read, or since after until, or min_amount above "
                "max_amount (error.fields names it); validation_error: limit or cursor",
            ),
        },
    )
    def get(self, request: Request) -> Response:
        limit = limit_parse(request.query_params.get("limit"))
        before_id = cursor_decode(request.query_params.get("cursor"))
        query = history_query_parse(request.query_params)
        entries = selectors.transactions_page_for_user(
            user_id=request.user.pk,  # type: ignore[arg-type]
            before_id=before_id,
            limit=limit + 1,
            query=query,
        )
        page = entries[:limit]
        next_cursor = cursor_encode(page[-1].pk) if len(entries) > limit else None
        next_link = None
        if next_cursor is not None:
            params = {**query.params(), "limit": str(limit), "cursor": next_cursor}
            next_link = f"{request.path}?{urlencode(params)}"
        return Response(
            {"results": [transaction_payload(e) for e in page], "next_cursor": next_cursor, "next": next_link}
        )


class TransactionDetailView(APIView):
    @extend_schema(
        operation_id="transactions_retrieve",
        parameters=[
            OpenApiParameter("transaction_id", openapi.TRANSACTION_ID, OpenApiParameter.PATH),
            r.WWW_AUTHENTICATE,
        ],
        responses={
            200: s.TransactionResponse,
            **r.errors(*r.ANY, 404, s404="not_found: no such transaction, or the caller is not a party to it"),
        },
    )
    def get(self, request: Request, transaction_id: int) -> Response:
        entry = None
        if transaction_id <= BIGINT_MAX:
            entry = selectors.transaction_for_user(user_id=request.user.pk, transaction_id=transaction_id)  # type: ignore[arg-type]
        if entry is None:
            raise NotFound("You have no transaction with that id.")
        return Response(transaction_payload(entry))


@csrf_exempt
def fallback(request: HttpRequest, path: str = "") -> HttpResponse:
    """Unknown paths under /api/v1/: JSON 404; a known path without its trailing slash: a redirect.

    GET and HEAD get 301, as Django's APPEND_SLASH does; other methods get 308,
    which keeps the method and body (Django's 301 would drop them).
    """
    if not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not fallback:
            location = request.path + "/"
            if request.META.get("QUERY_STRING"):
                location += "?" + request.META["QUERY_STRING"]
            response = HttpResponseRedirect(location)
            response.status_code = 301 if request.method in ("GET", "HEAD") else 308
            return response
    return error_response(404, "not_found", "There is no API endpoint at this path.")
