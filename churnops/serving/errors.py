"""Serving errors and their JSON answers: bad input (`RequestError`) and the Databricks-style
`{"error_code", "message"}` bodies every non-200 answer carries."""

from __future__ import annotations

from typing import Any

import orjson

Answer = tuple[int, bytes, list[tuple[str, str]]]  # status, JSON body, extra headers


class RequestError(ValueError):
    """Bad input: answered with `status` (400, 413 or 415) and this message."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


_CODES = {413: "REQUEST_LIMIT_EXCEEDED", 415: "UNSUPPORTED_MEDIA_TYPE"}


def error_body(status: int, message: str) -> dict[str, Any]:
    """The body of a `RequestError` answer."""
    return {"error_code": _CODES.get(status, "BAD_REQUEST"), "message": message}


def error_answer(
    status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
) -> Answer:
    """A whole error answer: status, JSON body, headers."""
    return status, orjson.dumps({"error_code": code, "message": message}), headers or []


def model_error(exc: Exception) -> tuple[int, dict[str, Any]]:
    """A model's exception as an answer: MLflow's schema refusals are bad input, others 500."""
    from mlflow.exceptions import MlflowException

    if isinstance(exc, MlflowException):
        return 400, {"error_code": "BAD_REQUEST", "message": f"model input: {exc.message}"}
    return 500, {"error_code": "INTERNAL_ERROR", "message": f"{type(exc).__name__}: {exc}"}


def redact(message: str, secrets: list[str]) -> str:
    """`message` with every secret (and its repr, as config errors quote values) masked."""
    for secret in sorted(set(filter(None, secrets)), key=len, reverse=True):
        for form in (repr(secret)[1:-1], secret):
            message = message.replace(form, "***")
    return message
