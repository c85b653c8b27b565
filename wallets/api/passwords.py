"""The API's password endpoints: change (signed in), reset by a code to the verified number (signed out).

Each view parses, calls one service of ``wallets.accounts.passwords`` and lets
the error envelope answer its refusals. The OpenAPI text of each status is here.
"""

from __future__ import annotations

from django.contrib.auth import update_session_auth_hash
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wallets.accounts import passwords
from wallets.accounts.credentials import Credential
from wallets.api import responses as r
from wallets.api import serializers as s
from wallets.clientip import client_ip
from wallets.models import User

PASSWORD_400 = (
    "validation_error: malformed input, or new_password breaks a password rule (too short, too common, "
    "all digits, too like the username or name); bad_request: a JSON body nested too deeply"
)
RESET_ACCEPTED = (
    "If an account verified this number, a code is on its way to it. It expires in 10 minutes. "
    "Then POST it with a new password to /api/v1/auth/password/reset/confirm/."
)


class PasswordChangeView(APIView):
    @extend_schema(
        operation_id="auth_password_change",
        request=s.PasswordChangeRequest,
        examples=[
            OpenApiExample(
                "change",
                {"current_password": "my old passphrase", "new_password": "a brand new passphrase"},
                request_only=True,
            )
        ],
        parameters=[r.RETRY_AFTER, r.WWW_AUTHENTICATE],
        responses={
            200: s.TokenResponse,
            **r.errors(
                *r.BODY,
                429,
                s400=f"invalid_password: current_password is not this account's password (it counts as a failed "
                f"sign-in); {PASSWORD_400}",
                s429="rate_limited: too many failed sign-ins or wrong current passwords for this name from this "
                "address (django-axes); see Retry-After",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        form = s.PasswordChangeRequest(data=request.data)
        form.is_valid(raise_exception=True)
        user: User = request.user  # type: ignore[assignment]
        token = passwords.password_change(
            request=request._request,
            user=user,
            current_password=form.validated_data["current_password"],
            new_password=form.validated_data["new_password"],
            issue_token=True,
        )
        if not isinstance(request.auth, Credential):
            # Called with the browser's session: that session stays signed in, every other one is out.
            user.refresh_from_db(fields=["password"])
            update_session_auth_hash(request._request, user)
        return Response({"token": token})


class PasswordResetView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="auth_password_reset",
        request=s.PasswordResetRequest,
        examples=[OpenApiExample("reset", {"mobile_number": "+91 98765 43210"}, request_only=True)],
        parameters=[r.RETRY_AFTER, r.WWW_AUTHENTICATE],
        responses={
            202: s.PasswordResetAcceptedResponse,
            **r.errors(
                *r.BODY,
                429,
                s400="validation_error: malformed input, or a number libphonenumber does not know (a property of "
                "the text: it says nothing about accounts); bad_request: a JSON body nested too deeply",
                s429="rate_limited: too many resets asked for from this address (PAYLANE_PASSWORD_RESET_RATE), or "
                "for this number (PAYLANE_PASSWORD_RESET_NUMBER_RATE, counted for every number alike); "
                "see Retry-After",
            ),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        form = s.PasswordResetRequest(data=request.data)
        form.is_valid(raise_exception=True)
        passwords.password_reset_request(
            mobile_number=form.validated_data["mobile_number"], client_ip=client_ip(request._request)
        )
        return Response({"message": RESET_ACCEPTED}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="auth_password_reset_confirm",
        request=s.PasswordResetConfirmRequest,
        examples=[
            OpenApiExample(
                "confirm",
                {"mobile_number": "+91 98765 43210", "code": "123456", "new_password": "a brand new passphrase"},
                request_only=True,
            )
        ],
        parameters=[r.RETRY_AFTER, r.WWW_AUTHENTICATE],
        responses={
            200: s.TokenResponse,
            **r.errors(
                *r.BODY,
                429,
                s400="invalid_code: not the code sent; code_expired: expired, used, void after five wrong tries, "
                "or none asked for (a number without an account answers exactly as one with an account); "
                f"{PASSWORD_400}",
                s429="rate_limited: too many resets asked for or confirmed from this address "
                "(PAYLANE_PASSWORD_RESET_RATE); see Retry-After",
            ),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        form = s.PasswordResetConfirmRequest(data=request.data)
        form.is_valid(raise_exception=True)
        token = passwords.password_reset_confirm(
            mobile_number=form.validated_data["mobile_number"],
            code=form.validated_data["code"],
            new_password=form.validated_data["new_password"],
            client_ip=client_ip(request._request),
            issue_token=True,
        )
        return Response({"token": token})
