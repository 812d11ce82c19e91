"""The carrier tool, booking side: book and cancel shipments through a `CarrierAdapter`.

Two adapters:

- `SimulatedCarrier`: the embedded default. Bookings live in the store's `bookings` table, so
  they are idempotent by key across processes; a `FailurePlan` makes chosen services or orders
  fail (rejected, or timed out) so that compensation paths can be exercised.
- `HttpCarrierAdapter`: a real partner API. `POST {base_url}/bookings` with the request as JSON
  and an `Idempotency-Key` header; `POST {base_url}/bookings/{booking_id}/cancel` to cancel.
  2xx -> `Booking`; 408, 425, 429, 5xx, timeouts and connection failures -> retryable
  `BookingError`; any other 4xx (409 key reused, 422 invalid...) and malformed responses ->
  non-retryable `BookingError`. Nothing is swallowed: every failure raises with the partner's
  message.

Both adapters are idempotent by key: the same request under the same key returns the same
booking and books nothing new.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime
from enum import StrEnum
from threading import Lock
from typing import Annotated, Any, Protocol, Self, runtime_checkable
from urllib.parse import quote

import httpx
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
)

from tools.carriers import illegal_reason, shipping_charge
from tools.decisions import ActionLine
from tools.geo import great_circle_km
from tools.network import Id, ShipTo
from tools.promise import days, departure_at, transit_days
from tools.store import NotFound, Store, StoredBooking

RETRYABLE_STATUS = frozenset({408, 425, 429})
MAX_ERROR_TEXT = 300


class BookingStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


class BookingRequest(BaseModel):
    """What the act step asks a carrier to book for one shipment. `ready_at` is when the
    shipment is handed over at `node` (the promise model's ready time); it departs at the
    node's first cut-off at or after it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    idempotency_key: Annotated[str, Field(min_length=1, max_length=255)]
    order: Id
    carrier: Id
    carrier_service: Id
    node: Id
    ship_to: ShipTo
    weight_kg: Annotated[float, Field(ge=0.0)]
    lines: list[ActionLine] = Field(default_factory=list)
    ready_at: AwareDatetime


class Booking(BaseModel):
    """A carrier's confirmation of a booking."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    booking_id: Annotated[str, Field(min_length=1, max_length=128)]
    key: str
    carrier: str
    carrier_service: str
    order: str
    status: BookingStatus = BookingStatus.BOOKED
    cost: float
    eta: AwareDatetime | None = None
    tracking_url: str | None = None


class BookingError(Exception):
    """A booking or cancellation that did not happen. `retryable`: trying again with the same
    idempotency key may succeed (timeouts, 5xx, rate limits); otherwise it will not."""

    def __init__(self, message: str, retryable: bool, *, status_code: int | None = None) -> None:
        self.message = message
        self.retryable = retryable
        self.status_code = status_code
        super().__init__(message)

    def __repr__(self) -> str:
        return f"BookingError({self.message!r}, retryable={self.retryable})"


@runtime_checkable
class CarrierAdapter(Protocol):
    def book(self, request: BookingRequest) -> Booking: ...

    def cancel(self, booking: Booking, key: str) -> None: ...


# ---------------------------------------------------------------- simulated carrier


class FailurePlan(BaseModel):
    """How the simulated carrier misbehaves. Rejections are final (not retryable); timeouts
    and the first `transient_failures` attempts of every key are retryable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reject_services: frozenset[str] = frozenset()
    reject_orders: frozenset[str] = frozenset()
    timeout_services: frozenset[str] = frozenset()
    timeout_orders: frozenset[str] = frozenset()
    transient_failures: Annotated[int, Field(ge=0)] = 0
    fail_cancel: bool = False


def simulated_booking_id(key: str) -> str:
    return "SIM-" + hashlib.sha256(key.encode()).hexdigest()[:16].upper()


class SimulatedCarrier:
    """The embedded carrier: prices and ETAs from the contract's model, bookings in the store."""

    def __init__(self, store: Store, failure: FailurePlan | None = None) -> None:
        self.store = store
        self.failure = failure or FailurePlan()
        self._attempts: Counter[str] = Counter()
        self._lock = Lock()

    def book(self, request: BookingRequest) -> Booking:
        payload_request = request.model_dump(mode="json")
        existing = self.store.get_booking(request.idempotency_key)
        if existing is not None:
            return self._replay(existing, payload_request)
        self._maybe_fail(request)
        booking = self._quote(request)
        stored, created = self.store.record_booking(
            request.idempotency_key,
            booking.booking_id,
            booking.carrier,
            booking.carrier_service,
            booking.order,
            {"request": payload_request, "booking": booking.model_dump(mode="json")},
        )
        if not created:  # another process booked this key between our read and our write
            return self._replay(stored, payload_request)
        return booking

    def cancel(self, booking: Booking, key: str) -> None:
        if self.failure.fail_cancel:
            raise BookingError(f"{booking.carrier}: cancel of {booking.booking_id} timed out", True)
        try:
            self.store.cancel_booking(booking.key, key)
        except NotFound:
            raise BookingError(
                f"{booking.carrier}: no booking {booking.booking_id} under key {booking.key!r}",
                retryable=False,
            ) from None

    def status(self, booking: Booking) -> BookingStatus | None:
        stored = self.store.get_booking(booking.key)
        return BookingStatus(stored.state) if stored is not None else None

    def _replay(self, stored: StoredBooking, request: dict[str, Any]) -> Booking:
        """The booking first made under this key, in its current state."""
        if stored.payload.get("request") != request:
            raise BookingError(
                f"idempotency key {stored.key!r} was already used for another booking request",
                retryable=False,
                status_code=409,
            )
        booking = Booking.model_validate(stored.payload["booking"])
        return booking.model_copy(update={"status": BookingStatus(stored.state)})

    def _maybe_fail(self, request: BookingRequest) -> None:
        plan = self.failure
        carrier = request.carrier
        if request.carrier_service in plan.reject_services or request.order in plan.reject_orders:
            raise BookingError(
                f"{carrier} rejected the booking of {request.order} on {request.carrier_service}",
                retryable=False,
            )
        if request.carrier_service in plan.timeout_services or request.order in plan.timeout_orders:
            raise BookingError(
                f"{carrier} timed out booking {request.order} on {request.carrier_service}",
                retryable=True,
            )
        if plan.transient_failures:
            with self._lock:
                self._attempts[request.idempotency_key] += 1
                attempt = self._attempts[request.idempotency_key]
            if attempt <= plan.transient_failures:
                raise BookingError(
                    f"{carrier} is temporarily unavailable (attempt {attempt})", retryable=True
                )

    def _quote(self, request: BookingRequest) -> Booking:
        network = self.store.view(())  # nodes and carriers (cached while unchanged)
        found = network.services.get(request.carrier_service)
        if found is None or found[0].id != request.carrier:
            raise BookingError(
                f"{request.carrier} has no service {request.carrier_service!r}", retryable=False
            )
        carrier, service = found
        node = network.nodes.get(request.node)
        if node is None:
            raise BookingError(f"unknown origin node {request.node!r}", retryable=False)
        ship_to = request.ship_to
        km = great_circle_km(node.lat, node.lon, ship_to.lat, ship_to.lon)
        reason = illegal_reason(carrier, service, node, ship_to, request.weight_kg, km)
        if reason is not None:
            raise BookingError(f"{carrier.id} cannot carry it: {reason}", retryable=False)
        departs: datetime = departure_at(request.ready_at, node.cutoff_hour_utc)
        return Booking(
            booking_id=simulated_booking_id(request.idempotency_key),
            key=request.idempotency_key,
            carrier=carrier.id,
            carrier_service=service.id,
            order=request.order,
            cost=round(shipping_charge(service, request.weight_kg, km), 2),
            eta=departs + days(transit_days(service, km)),
        )


# ---------------------------------------------------------------- HTTP partner adapter


class _PartnerBooking(BaseModel):
    """The partner's 2xx body (unknown fields are ignored)."""

    model_config = ConfigDict(extra="ignore")

    booking_id: Annotated[str, Field(min_length=1, max_length=128)]
    status: BookingStatus = BookingStatus.BOOKED
    cost: float
    eta: AwareDatetime | None = None
    tracking_url: str | None = None


class HttpCarrierAdapter:
    """A partner carrier's booking API over HTTP (see the module docstring)."""

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr | None = None,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url: must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._api_key = api_key
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def book(self, request: BookingRequest) -> Booking:
        response = self._send(
            "POST",
            "/bookings",
            request.idempotency_key,
            request.model_dump(mode="json"),
            f"booking {request.order} on {request.carrier_service}",
        )
        try:
            body = _PartnerBooking.model_validate_json(response.content)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
                for err in exc.errors(include_url=False)
            )
            raise BookingError(
                f"{request.carrier} answered {response.status_code} with a malformed booking "
                f"({problems}); the booking's state is unknown",
                retryable=False,
                status_code=response.status_code,
            ) from None
        return Booking(
            booking_id=body.booking_id,
            key=request.idempotency_key,
            carrier=request.carrier,
            carrier_service=request.carrier_service,
            order=request.order,
            status=body.status,
            cost=body.cost,
            eta=body.eta,
            tracking_url=body.tracking_url,
        )

    def cancel(self, booking: Booking, key: str) -> None:
        self._send(
            "POST",
            f"/bookings/{quote(booking.booking_id, safe='')}/cancel",
            key,
            {"booking_id": booking.booking_id, "order": booking.order},
            f"cancelling {booking.booking_id}",
        )

    def _send(
        self, method: str, path: str, key: str, body: dict[str, Any], what: str
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key, "Accept": "application/json"}
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        url = self.base_url + path
        try:
            response = self._client.request(
                method, url, json=body, headers=headers, timeout=self.timeout
            )
        except httpx.TimeoutException:
            raise BookingError(
                f"{what}: no answer from {self.base_url} within {self.timeout:g}s", retryable=True
            ) from None
        except httpx.TransportError as exc:
            raise BookingError(
                f"{what}: cannot reach {self.base_url} ({type(exc).__name__})", retryable=True
            ) from None
        if response.is_success:
            return response
        code = response.status_code
        retryable = code in RETRYABLE_STATUS or code >= 500
        raise BookingError(
            f"{what}: {code} {_partner_message(response)}", retryable, status_code=code
        )


def _partner_message(response: httpx.Response) -> str:
    """The partner's own words about an error: `error`/`message`/`detail`, else the text."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for field in ("error", "message", "detail"):
            value = data.get(field)
            if isinstance(value, dict):
                value = value.get("message") or value
            if value:
                return str(value)[:MAX_ERROR_TEXT]
    text = response.text.strip()
    return text[:MAX_ERROR_TEXT] if text else response.reason_phrase
