"""``/api/v1/requests/``: money requests (docs/api.md, "Requests"). Thin views over ``wallets.money_requests``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger.models import Transaction
from wallets import money_requests
from wallets.api import openapi
from wallets.api import responses as r
from wallets.api import serializers as s
from wallets.api.pagination import BIGINT_MAX, cursor_decode, cursor_encode, limit_parse
from wallets.api.views import _MoneyView
from wallets.errors import PinRequired, RequestNotFound
from wallets.models import MoneyRequest, User
from wallets.request_payloads import request_payload
from wallets.request_selectors import DIRECTIONS, mutes_for_user, request_for_user, requests_page_for_user
from wallets.services import OnRecorded

STATUSES = list(MoneyRequest.Status.values)
REQUEST_ID: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX}


# --- Shapes -------------------------------------------------------------------------------------


class RequestCreateRequest(serializers.Serializer):  # type: ignore[type-arg]
    to_user_id = s.UserIdField(required=False, allow_null=True, help_text="The payer, by user id")
    to_mobile = s.MobileField(required=False, allow_null=True, help_text="Or the payer, by mobile number")
    amount = s.AmountField()
    note = s.NoteField(help_text="What the money is for: shown to the payer, and kept on the transfer that pays it.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        named = [name for name in ("to_user_id", "to_mobile") if attrs.get(name) is not None]
        if len(named) != 1:
            raise serializers.ValidationError("Name the payer with exactly one of to_user_id and to_mobile.")
        return attrs


class RequestPayRequest(serializers.Serializer):  # type: ignore[type-arg]
    pin = s.PinField(required=False, allow_null=True, help_text="Your payment PIN: every payment needs it.")


class MuteRequest(serializers.Serializer):  # type: ignore[type-arg]
    user_id = s.UserIdField(help_text="The requester to mute")


class RequestResponse(serializers.Serializer):  # type: ignore[type-arg]
    """``wallets.request_payloads.RequestPayload``: the same object the websocket's ``request`` frame carries."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=STATUSES)
    amount = s.MoneyOutField()
    currency = serializers.CharField()
    requester = s.PartyResponse()
    payer = s.PartyResponse()
    note = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField(help_text="ISO 8601 with offset")
    expires_at = serializers.DateTimeField(help_text="ISO 8601 with offset: PAYLANE_REQUEST_TTL after created_at")
    closed_at = serializers.DateTimeField(allow_null=True, help_text="When it left PENDING")
    transaction = serializers.IntegerField(allow_null=True, help_text="The TRANSFER that paid it (PAID only)")


class RequestPageResponse(serializers.Serializer):  # type: ignore[type-arg]
    results = RequestResponse(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Opaque; null on the last page.")


class MuteResponse(serializers.Serializer):  # type: ignore[type-arg]
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    created_at = serializers.DateTimeField()


class MuteListResponse(serializers.Serializer):  # type: ignore[type-arg]
    results = MuteResponse(many=True)


class RequestCreateRequestSchema(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    """The payer is exactly one of ``to_user_id`` and ``to_mobile``; no PIN."""

    target_class = RequestCreateRequest

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = s._exact_properties(auto_schema, self.target, direction)
        schema["oneOf"] = [
            {"required": [name], "properties": {name: field_schema}}
            for name, field_schema in (("to_user_id", openapi.USER_ID), ("to_mobile", openapi.MOBILE))
        ]
        return schema


class RequestPayRequestSchema(s.RegisterRequestSchema):
    target_class = RequestPayRequest

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = super().map_serializer(auto_schema, direction)
        schema["properties"]["pin"].pop("nullable", None)
        schema["required"] = ["pin"]
        return schema


def _request_id(raw: int) -> int:
    if raw > BIGINT_MAX:
        raise RequestNotFound()
    return raw


REQUEST_ID_PARAMETER = OpenApiParameter("request_id", REQUEST_ID, OpenApiParameter.PATH)
S404 = "not_found: no such request, or the caller is neither its requester nor its payer"
S403 = f"{r.ERROR_TEXT[403]}; request_wrong_party: the payer pays and declines, the requester cancels"
S409 = "request_closed: the request was paid, declined, cancelled or expired"


# --- Views ----------------------------------------------------------------------------------------


class RequestListView(APIView):
    @extend_schema(
        operation_id="requests_list",
        parameters=[
            OpenApiParameter("direction", {"type": "string", "enum": list(DIRECTIONS)}, description="Default: both"),
            OpenApiParameter(
                "status",
                {"type": "string", "enum": STATUSES},
                description="As readers see it: a PENDING request past expires_at is EXPIRED.",
            ),
            OpenApiParameter("limit", openapi.LIMIT, description="Requests per page: default 20, at most 100."),
            OpenApiParameter("cursor", openapi.CURSOR, description="next_cursor of the previous page, as given."),
            r.WWW_AUTHENTICATE,
        ],
        responses={200: RequestPageResponse, **r.errors(*r.ANY)},
    )
    def get(self, request: Request) -> Response:
        direction = request.query_params.get("direction")
        wanted = request.query_params.get("status")
        if direction is not None and direction not in DIRECTIONS:
            raise ValidationError({"direction": ["incoming or outgoing."]})
        if wanted is not None and wanted not in STATUSES:
            raise ValidationError({"status": [f"One of {', '.join(STATUSES)}."]})
        limit = limit_parse(request.query_params.get("limit"))
        before_id = cursor_decode(request.query_params.get("cursor"))
        rows = requests_page_for_user(
            user_id=request.user.pk,  # type: ignore[arg-type]
            direction=direction,
            status=wanted,
            before_id=before_id,
            limit=limit + 1,
        )
        page = rows[:limit]
        next_cursor = cursor_encode(page[-1].pk) if len(rows) > limit else None
        return Response({"results": [request_payload(m) for m in page], "next_cursor": next_cursor})

    @extend_schema(
        operation_id="requests_create",
        request=RequestCreateRequest,
        examples=[
            OpenApiExample("by mobile", {"to_mobile": "+91 98765 43210", "amount": "250.00", "note": "dinner"}),
            OpenApiExample("by user id", {"to_user_id": 2, "amount": "9.50"}),
        ],
        parameters=[r.RETRY_AFTER, r.WWW_AUTHENTICATE],
        responses={
            201: RequestResponse,
            **r.errors(
                *r.BODY,
                422,
                429,
                503,
                s400=f"{r.MONEY_400}; self_request",
                s422="recipient_not_found: no verified, active account (or one that muted you) has that id or number",
                s429="request_limit_exceeded: PAYLANE_REQUEST_RATE requests in 24 hours; rate_limited: too many "
                "numbers that have no account (see Retry-After)",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        form = RequestCreateRequest(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        made = money_requests.request_create(
            requester=request.user,  # type: ignore[arg-type]
            amount=data["amount"],
            to_user_id=data.get("to_user_id"),
            to_mobile=data.get("to_mobile"),
            note=data.get("note") or "",
        )
        found = request_for_user(user_id=request.user.pk, request_id=made.pk)  # type: ignore[arg-type]
        return Response(request_payload(found or made), status=status.HTTP_201_CREATED)

    error_field_aliases = {"mobile_number": "to_mobile", "recipient": "to_user_id"}


class RequestDetailView(APIView):
    @extend_schema(
        operation_id="requests_retrieve",
        parameters=[REQUEST_ID_PARAMETER, r.WWW_AUTHENTICATE],
        responses={200: RequestResponse, **r.errors(*r.ANY, 404, s404=S404)},
    )
    def get(self, request: Request, request_id: int) -> Response:
        found = request_for_user(user_id=request.user.pk, request_id=_request_id(request_id))  # type: ignore[arg-type]
        if found is None:
            raise NotFound("You have no money request with that id.")
        return Response(request_payload(found))


class RequestPayView(_MoneyView):
    """Pays with the payment PIN, idempotent with ``Idempotency-Key`` as a transfer is (the key belongs to
    the one request: the same key on another request is ``idempotency_key_reused``)."""

    @extend_schema(
        operation_id="requests_pay",
        request=RequestPayRequest,
        examples=[OpenApiExample("pay", {"pin": "4826"}, request_only=True)],
        parameters=[REQUEST_ID_PARAMETER, r.IDEMPOTENCY_KEY, r.RETRY_AFTER_LOCKED, r.WWW_AUTHENTICATE, r.REPLAYED],
        responses={
            201: s.TransactionResponse,
            **r.errors(
                *r.MONEY,
                404,
                423,
                s400=f"{r.MONEY_400}; pin_required: no PIN in the body",
                s403=f"{S403}; pin_not_set; invalid_pin (counted: the fifth in a row locks payments)",
                s404=S404,
                s409=f"{S409}; idempotency_in_progress",
                s422="insufficient_funds, daily_limit_exceeded (recorded as FAILED: error.transaction_id; the "
                "request stays PENDING); recipient_not_found: the requester's account can no longer be paid; "
                "idempotency_key_reused",
            ),
        },
    )
    def post(self, request: Request, request_id: int) -> Response:  # type: ignore[override]
        self.request_id = _request_id(request_id)
        self.endpoint = f"request_pay:{self.request_id}"
        return super().post(request)

    def parse(self, data: Any) -> dict[str, Any]:
        form = RequestPayRequest(data=data)
        form.is_valid(raise_exception=True)
        if not form.validated_data.get("pin"):
            raise PinRequired()
        return dict(form.validated_data)

    def perform(self, data: dict[str, Any], on_recorded: OnRecorded | None) -> Transaction:
        return money_requests.request_pay(
            payer=self.request.user,  # type: ignore[arg-type]
            request_id=self.request_id,
            pin=data["pin"],
            on_recorded=on_recorded,
        )


class _RequestCloseView(APIView):
    def close(self, user: User, request_id: int) -> MoneyRequest:
        raise NotImplementedError

    def post(self, request: Request, request_id: int) -> Response:
        closed = self.close(request.user, _request_id(request_id))  # type: ignore[arg-type]
        found = request_for_user(user_id=request.user.pk, request_id=closed.pk)  # type: ignore[arg-type]
        return Response(request_payload(found or closed))


_CLOSE_RESPONSES = {200: RequestResponse, **r.errors(*r.ANY, 404, 409, 503, s403=S403, s404=S404, s409=S409)}


class RequestDeclineView(_RequestCloseView):
    @extend_schema(
        operation_id="requests_decline",
        request=None,
        parameters=[REQUEST_ID_PARAMETER, r.WWW_AUTHENTICATE],
        responses=_CLOSE_RESPONSES,
    )
    def post(self, request: Request, request_id: int) -> Response:
        return super().post(request, request_id)

    def close(self, user: User, request_id: int) -> MoneyRequest:
        return money_requests.request_decline(payer=user, request_id=request_id)


class RequestCancelView(_RequestCloseView):
    @extend_schema(
        operation_id="requests_cancel",
        request=None,
        parameters=[REQUEST_ID_PARAMETER, r.WWW_AUTHENTICATE],
        responses=_CLOSE_RESPONSES,
    )
    def post(self, request: Request, request_id: int) -> Response:
        return super().post(request, request_id)

    def close(self, user: User, request_id: int) -> MoneyRequest:
        return money_requests.request_cancel(requester=user, request_id=request_id)


def _mute_body(user_id: int, username: str, created_at: datetime) -> dict[str, Any]:
    return {"user_id": user_id, "username": username, "created_at": timezone.localtime(created_at).isoformat()}


class MuteListView(APIView):
    @extend_schema(
        operation_id="requests_mutes_list",
        parameters=[r.WWW_AUTHENTICATE],
        responses={200: MuteListResponse, **r.errors(*r.ANY)},
    )
    def get(self, request: Request) -> Response:
        mutes = mutes_for_user(user_id=request.user.pk)  # type: ignore[arg-type]
        return Response({"results": [_mute_body(m.requester_id, m.requester.username, m.created_at) for m in mutes]})

    @extend_schema(
        operation_id="requests_mutes_create",
        request=MuteRequest,
        examples=[OpenApiExample("mute", {"user_id": 2}, request_only=True)],
        parameters=[r.WWW_AUTHENTICATE],
        responses={
            201: MuteResponse,
            **r.errors(
                *r.BODY,
                422,
                s400=f"{r.ERROR_TEXT[400]}; self_request: you cannot mute yourself",
                s422="recipient_not_found: no active account has that id",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        form = MuteRequest(data=request.data)
        form.is_valid(raise_exception=True)
        mute = money_requests.request_mute(payer=request.user, requester_id=form.validated_data["user_id"])  # type: ignore[arg-type]
        username = User.objects.values_list("username", flat=True).get(pk=mute.requester_id)
        return Response(_mute_body(mute.requester_id, username, mute.created_at), status=status.HTTP_201_CREATED)


class MuteDetailView(APIView):
    @extend_schema(
        operation_id="requests_mutes_destroy",
        parameters=[OpenApiParameter("user_id", REQUEST_ID, OpenApiParameter.PATH), r.WWW_AUTHENTICATE],
        responses={204: None, **r.errors(*r.ANY, 404, s404="not_found: you have not muted that user")},
    )
    def delete(self, request: Request, user_id: int) -> Response:
        if user_id > BIGINT_MAX or not money_requests.request_unmute(payer=request.user, requester_id=user_id):  # type: ignore[arg-type]
            raise NotFound("You have not muted that user.")
        return Response(status=status.HTTP_204_NO_CONTENT)
