"""The API's identity endpoints: proving a mobile number, the payment PIN, the name payers see, payee lookup.

Each view parses, calls one service of ``wallets.accounts`` and lets the error
envelope answer its refusals. The OpenAPI text of each status is here, next to it.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wallets.accounts import payees, pins, verification
from wallets.api import openapi
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


class PinView(APIView):
    @extend_schema(
        operation_id="auth_pin_set",
        request=s.PinSetRequest,
        examples=[
            OpenApiExample("first PIN", {"pin": "4826"}, request_only=True),
            OpenApiExample("change it", {"pin": "4826", "current_pin": "4826"}, request_only=True),
        ],
        parameters=[r.RETRY_AFTER_PIN, r.WWW_AUTHENTICATE],
        responses={
            200: s.PinSetResponse,
            **r.errors(
                *r.BODY,
                423,
                s400="weak_pin: one digit repeated, or a run such as 1234 or 9876; pin_required: a PIN is set, and "
                "neither current_pin nor code was given; invalid_code, code_expired: the code; validation_error: "
                "malformed input, or both current_pin and code",
                s403=f"{r.ERROR_TEXT[403]}; invalid_pin: current_pin is wrong (counted, as a payment's)",
                s423="pin_locked: too many wrong PINs in a row; a change with a code still works",
            ),
        },
    )
    def put(self, request: Request) -> Response:
        form = s.PinSetRequest(data=request.data)
        form.is_valid(raise_exception=True)
        user: User = request.user  # type: ignore[assignment]
        change = pins.pin_set(
            user=user,
            pin=form.validated_data["pin"],
            current_pin=form.validated_data.get("current_pin"),
            code=form.validated_data.get("code"),
        )
        return Response({"pin_set": True, "changed": change.kind is not pins.PinChangeKind.SET})


class PinCodeView(APIView):
    @extend_schema(
        operation_id="auth_pin_code",
        request=None,
        parameters=[r.RETRY_AFTER, r.WWW_AUTHENTICATE],
        responses={
            202: s.PinCodeResponse,
            **r.errors(
                *r.ANY,
                429,
                s403=f"{r.ERROR_TEXT[403]}; pin_not_set: no PIN yet (set the first one without a code)",
                s429="rate_limited: too many codes asked for (PAYLANE_CODE_RATE); see Retry-After",
            ),
            503: _error("sms_unavailable: the message could not be sent; ask again in a minute"),
        },
    )
    def post(self, request: Request) -> Response:
        user: User = request.user  # type: ignore[assignment]
        mobile = pins.pin_code_send(user=user)
        return Response({"mobile_number": mobile}, status=status.HTTP_202_ACCEPTED)


class NameView(APIView):
    @extend_schema(
        operation_id="auth_name_set",
        request=s.NameRequest,
        examples=[OpenApiExample("name", {"first_name": "Asha", "last_name": "Rao"}, request_only=True)],
        parameters=[r.WWW_AUTHENTICATE],
        responses={200: s.NameResponse, **r.errors(*r.BODY)},
    )
    def put(self, request: Request) -> Response:
        form = s.NameRequest(data=request.data)
        form.is_valid(raise_exception=True)
        user: User = request.user  # type: ignore[assignment]
        name = payees.display_name_set(
            user=user,
            first_name=form.validated_data.get("first_name"),
            last_name=form.validated_data.get("last_name"),
        )
        return Response({"first_name": name.first_name, "last_name": name.last_name, "display_name": name.masked})


class RecipientView(APIView):
    error_field_aliases = {"mobile_number": "mobile"}

    @extend_schema(
        operation_id="recipients_retrieve",
        parameters=[
            OpenApiParameter(
                "mobile",
                openapi.MOBILE,
                description="The number you would pay (any form POST /transfers/ takes). Give this or user_id.",
                examples=[OpenApiExample("bob", value="+919876543210")],
            ),
            OpenApiParameter("user_id", openapi.USER_ID_QUERY, description="Or the user id you would pay."),
            r.RETRY_AFTER,
            r.WWW_AUTHENTICATE,
        ],
        responses={
            200: s.RecipientResponse,
            **r.errors(
                *r.ANY,
                404,
                429,
                s400="validation_error: both or neither of mobile and user_id, a malformed one, or a number "
                "libphonenumber does not know",
                s404="recipient_not_found: no active account with a verified number matches (unknown, unverified "
                "and inactive accounts answer alike); counts against PAYLANE_RECIPIENT_LOOKUP_RATE",
                s429="rate_limited: too many look-ups or payments of recipients without an account "
                "(PAYLANE_RECIPIENT_LOOKUP_RATE); see Retry-After",
            ),
        },
    )
    def get(self, request: Request) -> Response:
        query = s.RecipientQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        user: User = request.user  # type: ignore[assignment]
        payee = payees.recipient_lookup(
            viewer=user, mobile_number=query.validated_data.get("mobile"), user_id=query.validated_data.get("user_id")
        )
        return Response({"user_id": payee.user_id, "display_name": payee.display_name})
