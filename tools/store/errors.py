"""Errors the store raises. Each names what it is about; none leaves a partial write behind
(the transaction that raised is rolled back)."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of the store's own errors."""


class NotFound(StoreError, LookupError):
    """An id (order, node, position, exception, approval, reservation...) that is not stored."""

    def __init__(self, what: str, ident: str) -> None:
        self.what = what
        self.ident = ident
        super().__init__(f"{what} {ident!r} not found")


class NoNetwork(StoreError):
    """The store holds no network snapshot yet: run `execlayer load NETWORK.json`."""

    def __init__(self) -> None:
        super().__init__("no network loaded: run `execlayer load NETWORK.json` first")


class KeyConflict(StoreError, ValueError):
    """An idempotency key reused for a different request: replaying it would be a lie."""

    def __init__(self, key: str, detail: str) -> None:
        self.key = key
        super().__init__(f"idempotency key {key!r} was already used for {detail}")


class InvalidRequest(StoreError, ValueError):
    """Arguments that can never be applied (qty <= 0, unknown status...): names the field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field}: {problem}")


class InsufficientStock(StoreError):
    """A reservation or transfer that would take units the position does not have."""

    def __init__(self, node: str, sku: str, requested: int, available: int) -> None:
        self.node = node
        self.sku = sku
        self.requested = requested
        self.available = available
        super().__init__(
            f"insufficient stock at {node}/{sku}: requested {requested}, available {available}"
        )
