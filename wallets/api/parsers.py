"""The API's one request parser: JSON, numbers as ``Decimal``, bounded in size."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import IO, Any, NoReturn

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

# The deepest a body may nest (objects and arrays); no request of the API needs more than 2.
MAX_DEPTH = 32


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


class NestedTooDeep(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"
    default_detail = f"The JSON body is nested more than {MAX_DEPTH} levels deep."


def _nesting_check(value: Any) -> None:
    """Refuse a body nested deeper than ``MAX_DEPTH``, walking it without recursion."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > MAX_DEPTH:
                    raise NestedTooDeep()
                stack.append((child, depth + 1))


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


class DecimalJSONParser(JSONParser):
    """JSON where ``12.50`` becomes ``Decimal("12.50")``, never a float.

    Bodies over ``PAYLANE_API_MAX_BODY`` bytes (64 KiB) are refused with 413
    before they are decoded; NaN/Infinity and bad encodings with 400
    ``validation_error``; nesting deeper than ``MAX_DEPTH`` with 400
    ``bad_request`` (later steps, such as the Idempotency-Key's canonical form,
    walk the body recursively).
    """

    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        context = parser_context or {}
        limit: int = settings.PAYLANE_API_MAX_BODY
        request = context.get("request")
        if request is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > limit:
                raise PayloadTooLarge(f"The request body is larger than {limit // 1024} KiB.")
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit // 1024} KiB.")
        try:
            text = raw.decode(context.get("encoding") or settings.DEFAULT_CHARSET)
            data = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
        except (ValueError, LookupError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise ParseError(str(exc)) from None
        except RecursionError:
            raise NestedTooDeep() from None
        _nesting_check(data)
        return data
