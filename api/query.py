"""Query strings of the REST routes, validated by their pydantic models (one rule for every route)."""

from __future__ import annotations

from typing import Any

from flask import request
from pydantic import BaseModel, ValidationError

from api.errors import ApiError


def parse_query(model: type[BaseModel]) -> Any:
    """The request's query string as ``model``; HTTP 400 ``invalid_parameter`` naming the first bad parameter.

    An empty parameter (``?period=``) is a mistake to point out, not a request for the default (the OpenAPI schema
    says minLength 1).
    """
    args = request.args.to_dict()
    empty = next((name for name, value in args.items() if name in model.model_fields and not value.strip()), None)
    if empty is not None:
        raise ApiError(400, "invalid_parameter", f"{empty}: must not be empty (leave it out for the default)")
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ApiError(400, "invalid_parameter", f"{where}: {first['msg']}") from None
