"""The API's identity endpoints: proving a mobile number (more of identity arrives here: PIN, password, payees).

Each view parses, calls one service of ``wallets.accounts`` and lets the error
envelope answer its refusals. The OpenAPI text of each status is here, next to it.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wallets.accounts import verification
from wallets.api import responses as r
from wallets.api import serializers as s
from wallets.models import Profile, User


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(s.ErrorResponse, description=description)


class MobileCodeView(APIView):
    @extend_schema(
        operation_id="auth_mobile_code",
        request=s.MobileCodeRequest,
        parameters=[r.RETRY_AFTER, r.WWW_AUTHENTICATE],
        responses={
            202: s.MobileCodeResponse,
            **r.errors(
                *r.BODY,
                429,
                s400="validation_error: malformed input, a number libphonenumber does not know, a number another "
                "account verified, or no number to send to (another account verified yours: name a new one)",
                s429="rate_limited: too many codes asked for (PAYLANE_CODE_RATE); see Retry-After",
            ),
            409: _error("already_verified: this account's number is verified"),
            503: _error("sms_unavailable: the message could not be sent; ask again in a minute"),
        },
    )
    def post(self, request: Request) -> Response:
        form = s.MobileCodeRequest(data=request.data)
        form.is_valid(raise_exception=True)
        user: User = request.user  # type: ignore[assignment]
        mobile = verification.mobile_code_send(user=user, mobile_number=form.validated_data.get("mobile_number"))
        return Response({"mobile_number": mobile, "mobile_verified": False}, status=status.HTTP_202_ACCEPTED)


class MobileVerifyView(APIView):
    @extend_schema(
        operation_id="auth_mobile_verify",
        request=s.MobileVerifyRequest,
        parameters=[r.WWW_AUTHENTICATE],
        responses={
            200: s.MobileVerifiedResponse,
            **r.errors(
                *r.BODY,
                s400="invalid_code: not the code sent; code_expired: expired, used, voided after five wrong tries, "
                "or sent to a number this account no longer claims; validation_error: malformed input, or another "
                "account verified the number first",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        form = s.MobileVerifyRequest(data=request.data)
        form.is_valid(raise_exception=True)
        user: User = request.user  # type: ignore[assignment]
        verification.mobile_verify(user=user, code=form.validated_data["code"])
        verified = Profile.objects.filter(user_id=user.pk, mobile_verified_at__isnull=False).exists()
        return Response({"mobile_verified": verified})
