"""The DynamoDB registry backend: its client (`client`), item layout (`items`), transactions
(`transaction`), table (`table`, for `tiergate table create`) and the registry itself.

Importing this package imports no boto3: the client is made on first use.
"""

from __future__ import annotations

from .client import connect
from .registry import DynamoRegistry

__all__ = ["DynamoRegistry", "connect"]
