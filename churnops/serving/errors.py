"""Serving errors and their JSON answers: bad input (`RequestError`) and the Databricks-style
`{"error_code", "message"}` bodies every non-200 answer carries."""

from __future__ import annotations

from typing import Any

import orjson

from churnops.config import mask_secrets

Answer = tuple[int, bytes, list[tuple[str, str]]]  # status, JSON body, extra headers


class RequestError(ValueError):
    """Bad input: answered with `status` (400, 408, 413 or 415) and this message."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


_CODES = {408: "REQUEST_TIMEOUT", 413: "REQUEST_LIMIT_EXCEEDED", 415: "UNSUPPORTED_MEDIA_TYPE"}


def error_body(status: int, message: str) -> dict[str, Any]:
    """The body of a `RequestError` answer."""
    return {"error_code": _CODES.get(status, "BAD_REQUEST"), "message": mask_secrets(message)}


def error_answer(
    status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
) -> Answer:
    """A whole error answer: status, JSON body, headers (the message with secrets masked)."""
    body = {"error_code": code, "message": mask_secrets(message)}
    return status, orjson.dumps(body), headers or []


def model_error(exc: Exception) -> tuple[int, dict[str, Any]]:
    """A model's exception as an answer: MLflow's schema refusals are bad input, others 500."""
    from mlflow.exceptions import MlflowException

    if isinstance(exc, MlflowException):
        return 400, error_body(400, f"model input: {exc.message}")
    message = mask_secrets(f"{type(exc).__name__}: {exc}")
    return 500, {"error_code": "INTERNAL_ERROR", "message": message}
