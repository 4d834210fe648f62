"""The AWS Lambda entry point for an app: mangum, told that problem+json is text."""

from __future__ import annotations

from fastapi import FastAPI
from mangum import Mangum
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES

__all__ = ["lambda_handler"]


def lambda_handler(app: FastAPI) -> Mangum:
    # Without it mangum base64-encodes every problem+json body (API Gateway decodes it, but
    # the logs and the payload size pay for it). Lifespan is off: the app needs no start-up.
    text = [*DEFAULT_TEXT_MIME_TYPES, "application/problem+json"]
    return Mangum(app, lifespan="off", text_mime_types=text)
