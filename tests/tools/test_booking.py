"""Booking adapters: the simulated carrier (store-backed) and the HTTP partner adapter."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import respx
from pydantic import SecretStr

from tools.booking import (
    Booking,
    BookingError,
    BookingRequest,
    BookingStatus,
    CarrierAdapter,
    FailurePlan,
    HttpCarrierAdapter,
    SimulatedCarrier,
)
from tools.carriers import legal_quotes
from tools.decisions import ActionLine
from tools.store import Store

from .multiproc import run_in_processes

READY = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def _request(store: Store, key: str = "book-1", **change: object) -> BookingRequest:
    order = store.get_order("O-1001")
    assert order is not None
    base = {
        "idempotency_key": key,
        "order": order.id,
        "carrier": "PARCELCO",
        "carrier_service": "PARCELCO-TWO_DAY",
        "node": "DC-NJ",
        "ship_to": order.ship_to,
        "weight_kg": 4.5,
        "lines": [ActionLine(sku="SKU-TENT", qty=1)],
        "ready_at": READY,
    }
    base.update(change)
    return BookingRequest.model_validate(base)


# ---------------------------------------------------------------- simulated carrier


def test_simulated_booking_prices_like_the_quote_and_is_idempotent(northeast_store: Store) -> None:
    """The shipment is handed over at the quote's ready time: the booking's charge and ETA
    are the quote's."""
    view = northeast_store.view(["O-1001"])
    order = view.orders["O-1001"]
    quote = next(
        q
        for q in legal_quotes(view, "DC-NJ", order.ship_to, 4.5, order.promised_by, READY)
        if q.carrier_service == "PARCELCO-TWO_DAY"
    )
    carrier = SimulatedCarrier(northeast_store)
    assert isinstance(carrier, CarrierAdapter)
    request = _request(northeast_store, ready_at=quote.promise.ready_at)
    booking = carrier.book(request)
    assert booking.cost == pytest.approx(quote.shipping_cost, abs=0.005)
    assert booking.eta == quote.eta
    assert booking.status is BookingStatus.BOOKED and booking.booking_id.startswith("SIM-")

    assert carrier.book(request) == booking  # same key: same booking
    assert SimulatedCarrier(northeast_store).book(request) == booking  # another adapter too
    assert len(northeast_store.bookings_for_order("O-1001")) == 1
    with pytest.raises(BookingError) as info:
        carrier.book(_request(northeast_store, carrier_service="PARCELCO-GROUND"))
    assert not info.value.retryable and "already used" in info.value.message


def test_simulated_cancel_is_idempotent_and_reported(northeast_store: Store) -> None:
    carrier = SimulatedCarrier(northeast_store)
    booking = carrier.book(_request(northeast_store))
    carrier.cancel(booking, "cancel-1")
    carrier.cancel(booking, "cancel-1")
    assert carrier.status(booking) is BookingStatus.CANCELLED
    assert carrier.book(_request(northeast_store)).status is BookingStatus.CANCELLED
    ghost = booking.model_copy(update={"key": "never-booked"})
    with pytest.raises(BookingError) as info:
        carrier.cancel(ghost, "cancel-2")
    assert not info.value.retryable


@pytest.mark.parametrize(
    ("plan", "change", "retryable"),
    [
        (FailurePlan(reject_services=frozenset({"PARCELCO-TWO_DAY"})), {}, False),
        (FailurePlan(reject_orders=frozenset({"O-1001"})), {}, False),
        (FailurePlan(timeout_services=frozenset({"PARCELCO-TWO_DAY"})), {}, True),
        (FailurePlan(timeout_orders=frozenset({"O-1001"})), {}, True),
        (None, {"carrier_service": "NOPE"}, False),
        (None, {"carrier": "SWIFT"}, False),  # PARCELCO-TWO_DAY is not SWIFT's
        (None, {"node": "NOWHERE"}, False),
        (None, {"weight_kg": 10_000.0}, False),
    ],
)
def test_simulated_failures_are_raised_not_swallowed(
    northeast_store: Store, plan: FailurePlan | None, change: dict, retryable: bool
) -> None:
    carrier = SimulatedCarrier(northeast_store, plan)
    with pytest.raises(BookingError) as info:
        carrier.book(_request(northeast_store, **change))
    assert info.value.retryable is retryable
    assert northeast_store.bookings_for_order("O-1001") == []
    assert not northeast_store.effect_applied("book-1")


def test_transient_failures_then_success(northeast_store: Store) -> None:
    carrier = SimulatedCarrier(northeast_store, FailurePlan(transient_failures=2))
    request = _request(northeast_store)
    for _ in range(2):
        with pytest.raises(BookingError) as info:
            carrier.book(request)
        assert info.value.retryable
    booking = carrier.book(request)
    assert carrier.book(request) == booking
    failing_cancel = SimulatedCarrier(northeast_store, FailurePlan(fail_cancel=True))
    with pytest.raises(BookingError) as info:
        failing_cancel.cancel(booking, "c")
    assert info.value.retryable and carrier.status(booking) is BookingStatus.BOOKED


def _book_in_process(url: str, payload: str) -> str:
    with Store.open(url) as store:
        return SimulatedCarrier(store).book(BookingRequest.model_validate_json(payload)).booking_id


def test_the_same_key_from_several_processes_books_once(
    store_url: str, northeast_path: Path
) -> None:
    with Store.open(store_url) as store:
        store.load_file(northeast_path)
        payload = _request(store, key="shared-key").model_dump_json()
    ids = run_in_processes(_book_in_process, [(store_url, payload)] * 4)
    assert len(set(ids)) == 1
    with Store.open(store_url) as store:
        assert len(store.bookings_for_order("O-1001")) == 1


# ---------------------------------------------------------------- HTTP partner adapter

BASE = "https://partner.example/api"
PARTNER_BODY = {
    "booking_id": "PB-77",
    "status": "booked",
    "cost": 12.4,
    "eta": "2026-11-26T18:00:00Z",
    "extra": "ignored",
}


def _http_request() -> BookingRequest:
    return BookingRequest.model_validate(
        {
            "idempotency_key": "idem-1",
            "order": "O-1001",
            "carrier": "PARCELCO",
            "carrier_service": "PARCELCO-TWO_DAY",
            "node": "DC-NJ",
            "ship_to": {"lat": 42.33, "lon": -71.1, "region": "NE", "postal_code": "02115"},
            "weight_kg": 4.5,
            "lines": [{"sku": "SKU-TENT", "qty": 1}],
            "ready_at": "2026-11-24T15:00:00Z",
        }
    )


@respx.mock
def test_http_booking_success_sends_key_auth_and_json() -> None:
    route = respx.post(f"{BASE}/bookings").mock(return_value=httpx.Response(201, json=PARTNER_BODY))
    with HttpCarrierAdapter(BASE + "/", api_key=SecretStr("s3cret")) as adapter:
        booking = adapter.book(_http_request())
    assert booking == Booking(
        booking_id="PB-77",
        key="idem-1",
        carrier="PARCELCO",
        carrier_service="PARCELCO-TWO_DAY",
        order="O-1001",
        cost=12.4,
        eta=datetime(2026, 11, 26, 18, 0, tzinfo=UTC),
    )
    sent = route.calls.last.request
    assert sent.headers["Idempotency-Key"] == "idem-1"
    assert sent.headers["Authorization"] == "Bearer s3cret"
    assert json.loads(sent.content)["carrier_service"] == "PARCELCO-TWO_DAY"


@respx.mock
def test_http_replayed_key_returns_the_same_booking() -> None:
    """A partner honouring Idempotency-Key answers a replay with the first booking."""
    seen: dict[str, dict] = {}

    def partner(request: httpx.Request) -> httpx.Response:
        key = request.headers["Idempotency-Key"]
        first = key not in seen
        seen.setdefault(key, {**PARTNER_BODY, "booking_id": f"PB-{len(seen) + 1}"})
        return httpx.Response(201 if first else 200, json=seen[key])

    respx.post(f"{BASE}/bookings").mock(side_effect=partner)
    adapter = HttpCarrierAdapter(BASE)
    first = adapter.book(_http_request())
    again = adapter.book(_http_request())
    other = adapter.book(_http_request().model_copy(update={"idempotency_key": "idem-2"}))
    adapter.close()
    assert first == again and first.booking_id == "PB-1"
    assert other.booking_id == "PB-2"


@pytest.mark.parametrize(
    ("status", "body", "retryable", "words"),
    [
        (409, {"error": "idempotency key reused with another body"}, False, "key reused"),
        (422, {"detail": "weight_kg: exceeds 68 kg"}, False, "68 kg"),
        (400, {"message": {"message": "bad postal code"}}, False, "postal code"),
        (404, None, False, "404"),
        (408, None, True, "408"),
        (429, {"error": "slow down"}, True, "slow down"),
        (500, "<html>boom</html>", True, "boom"),
        (503, {"error": "maintenance"}, True, "maintenance"),
    ],
)
@respx.mock
def test_http_errors_map_to_retryable_or_not(
    status: int, body: object, retryable: bool, words: str
) -> None:
    response = (
        httpx.Response(status, json=body)
        if isinstance(body, dict)
        else httpx.Response(status, text=body or "")
    )
    respx.post(f"{BASE}/bookings").mock(return_value=response)
    with pytest.raises(BookingError) as info:
        HttpCarrierAdapter(BASE).book(_http_request())
    assert info.value.retryable is retryable
    assert info.value.status_code == status
    assert words in info.value.message


@respx.mock
def test_http_timeouts_and_unreachable_partners_are_retryable() -> None:
    respx.post(f"{BASE}/bookings").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(BookingError) as info:
        HttpCarrierAdapter(BASE, timeout=2.5).book(_http_request())
    assert info.value.retryable and "2.5s" in info.value.message
    respx.post(f"{BASE}/bookings").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(BookingError) as info:
        HttpCarrierAdapter(BASE).book(_http_request())
    assert info.value.retryable and "cannot reach" in info.value.message


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[]", json.dumps({"status": "booked", "cost": 1.0}).encode(), b""],
)
@respx.mock
def test_http_malformed_success_is_reported(content: bytes) -> None:
    respx.post(f"{BASE}/bookings").mock(return_value=httpx.Response(200, content=content))
    with pytest.raises(BookingError) as info:
        HttpCarrierAdapter(BASE).book(_http_request())
    assert not info.value.retryable
    assert "malformed" in info.value.message and "unknown" in info.value.message


@respx.mock
def test_http_cancel_posts_with_its_own_key_and_reports_failures() -> None:
    booking = Booking(
        booking_id="PB/77",
        key="idem-1",
        carrier="PARCELCO",
        carrier_service="PARCELCO-TWO_DAY",
        order="O-1001",
        cost=12.4,
    )
    route = respx.post(f"{BASE}/bookings/PB%2F77/cancel").mock(return_value=httpx.Response(204))
    adapter = HttpCarrierAdapter(BASE)
    adapter.cancel(booking, "cancel-idem")
    assert route.calls.last.request.headers["Idempotency-Key"] == "cancel-idem"
    route.mock(return_value=httpx.Response(502, text="bad gateway"))
    with pytest.raises(BookingError) as info:
        adapter.cancel(booking, "cancel-idem")
    assert info.value.retryable and "bad gateway" in info.value.message


def test_http_adapter_needs_an_http_url() -> None:
    with pytest.raises(ValueError, match="base_url"):
        HttpCarrierAdapter("ftp://partner")
