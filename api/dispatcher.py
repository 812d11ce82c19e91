"""The outbox dispatcher: delivers what the resolver queued, with backoff, never blocking it.

The graph writes notices to the store's outbox in the same breath as the decision
(`approval_requested`, `escalation`, `auto_resolved`, `customer_notification`, and the
resolver's `approval_decided` / `resolution_failed`). This task, started in the server's
lifespan, claims due items (`store.claim_outbox`: leased, so several servers never send the
same item), hands each to its notifier, and marks it sent, or failed with exponential
backoff (Slack down: decisions go on, messages wait). Auto-resolutions are not sent one by
one: they are rolled up into one digest every `digest_every_s`.

Where the approval request was posted (Slack channel + ts) is kept in the approval's audit
log (`slack_posted`), so the `approval_decided` notice can update that very message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import ValidationError

from api.notifiers import (
    ApprovalNotice,
    AutoResolution,
    CustomerNotification,
    CustomerNotifier,
    MessageRef,
    NotificationError,
    OpsNotifier,
)
from api.views import chosen_summary, cost_delta
from tools.decisions import ApprovalStatus, Decision
from tools.events import ExceptionEvent
from tools.store import ApprovalRecord, OutboxItem, Store

log = logging.getLogger(__name__)

POSTED = "slack_posted"  # approval-log event holding where the request message lives
BATCH = 50


@dataclass
class DrainReport:
    sent: list[str] = field(default_factory=list)  # outbox keys
    retried: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    digested: int = 0


def message_ref(store: Store, approval: ApprovalRecord) -> MessageRef | None:
    """Where the approval request was posted, from the approval's audit log."""
    trail = store.audit_trail(approval.exception_id)
    for entry in reversed(trail.approvals):
        if entry.approval_id == approval.id and entry.event == POSTED:
            try:
                return MessageRef.model_validate(entry.detail)
            except ValidationError:
                return None
    return None


class OutboxDispatcher:
    def __init__(
        self,
        store: Store,
        ops: OpsNotifier,
        customers: CustomerNotifier,
        *,
        poll_s: float = 2.0,
        digest_every_s: float = 900.0,
        max_attempts: int = 8,
        backoff_s: float = 5.0,
        max_backoff_s: float = 900.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.ops = ops
        self.customers = customers
        self.poll_s = poll_s
        self.digest_every = timedelta(seconds=digest_every_s)
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.clock = clock or store.now  # the store's clock: leases and retries agree
        self._digest: dict[int, OutboxItem] = {}
        self._last_digest = self.clock()
        self._wake = asyncio.Event()

    # -- the task ---------------------------------------------------------------------------
    def wake(self) -> None:
        """Deliver now rather than at the next poll (e.g. right after an approval)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.drain_once)
            except Exception:
                log.exception("outbox dispatch round failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
            self._wake.clear()

    # -- one round --------------------------------------------------------------------------
    def drain_once(self, *, flush_digest: bool = False) -> DrainReport:
        """Deliver every due item once (sync: runs in a worker thread). `flush_digest` posts
        the digest now even if its interval has not passed."""
        report = DrainReport()
        while True:
            items = self.store.claim_outbox(BATCH)
            for item in items:
                if item.kind == "auto_resolved":
                    self._digest[item.id] = item
                    continue
                self._deliver(item, report)
            if len(items) < BATCH:
                break
        now = self.clock()
        if self._digest and (flush_digest or now - self._last_digest >= self.digest_every):
            self._send_digest(report, now)
        return report

    def _deliver(self, item: OutboxItem, report: DrainReport) -> None:
        try:
            self._send(item)
        except NotificationError as exc:
            self._failed(item, str(exc), exc.retryable, report)
            return
        except (ValidationError, KeyError, TypeError, ValueError) as exc:
            self._failed(item, f"malformed {item.kind} message: {exc}", False, report)
            return
        self.store.mark_outbox_sent(item.id)
        report.sent.append(item.key)

    def _failed(self, item: OutboxItem, error: str, retryable: bool, report: DrainReport) -> None:
        attempts = item.attempts + 1
        if retryable and attempts < self.max_attempts:
            delay = min(self.backoff_s * 2 ** (attempts - 1), self.max_backoff_s)
            self.store.mark_outbox_failed(item.id, error, self.clock() + timedelta(seconds=delay))
            report.retried.append(item.key)
            log.warning(
                "%s not delivered (attempt %d), retry in %.0f s: %s",
                item.key,
                attempts,
                delay,
                error,
            )
        else:
            self.store.mark_outbox_failed(item.id, error, None)
            report.failed.append(item.key)
            log.error("%s given up after %d attempts: %s", item.key, attempts, error)

    def _send(self, item: OutboxItem) -> None:
        payload = item.payload
        if item.kind == "approval_requested":
            self._approval_requested(Decision.model_validate(payload["decision"]))
        elif item.kind == "approval_decided":
            approval = ApprovalRecord.model_validate(payload["approval"])
            decision = Decision.model_validate(payload["decision"])
            ref = message_ref(self.store, approval)
            if ref is None and self.ops.needs_message_ref:
                raise NotificationError("the approval request has not been posted yet")
            self.ops.approval_decided(self._notice(approval, decision), ref)
        elif item.kind == "escalation":
            event = payload.get("event")
            self.ops.escalation(
                str(payload["exception_id"]),
                str(payload.get("reason") or "needs a person"),
                ExceptionEvent.model_validate(event) if event else None,
            )
        elif item.kind == "resolution_failed":
            self.ops.failure(str(payload["exception_id"]), str(payload.get("error") or ""))
        elif item.kind == "customer_notification":
            self.customers.notify(
                CustomerNotification(
                    key=item.key,
                    order=payload.get("order"),
                    message=str(payload.get("message") or ""),
                    promised_by=payload.get("promised_by"),
                )
            )
        else:
            raise NotificationError(f"unknown outbox kind {item.kind!r}", retryable=False)

    def _approval_requested(self, pending: Decision) -> None:
        if pending.approval is None:
            raise NotificationError("approval_requested without an approval", retryable=False)
        approval = self.store.get_approval(pending.approval.id)
        if approval is None:
            raise NotificationError(f"approval {pending.approval.id} is gone", retryable=False)
        if message_ref(self.store, approval) is not None:
            return  # posted before a crash: never twice
        decision = pending
        if approval.status is not ApprovalStatus.PENDING:  # decided before we could post it
            record = self.store.get_exception(approval.exception_id)
            decision = record.decision if record and record.decision else pending
        ref = self.ops.approval_requested(self._notice(approval, decision))
        if ref is not None:
            self.store.append_approval_log(
                approval.id, approval.exception_id, POSTED, self.ops.name, ref.model_dump()
            )

    def _notice(self, approval: ApprovalRecord, decision: Decision) -> ApprovalNotice:
        record = self.store.get_exception(approval.exception_id)
        return ApprovalNotice(
            approval=approval, decision=decision, event=record.event if record else None
        )

    def _send_digest(self, report: DrainReport, now: datetime) -> None:
        items = sorted(self._digest.values(), key=lambda i: i.id)
        resolutions = []
        for item in items:
            exception_id = str(item.payload.get("exception_id", ""))
            record = self.store.get_exception(exception_id)
            decision = record.decision if record is not None else None
            resolutions.append(
                AutoResolution(
                    exception_id=exception_id,
                    event_type=decision.event_type if decision else None,
                    summary=chosen_summary(decision),
                    cost_delta=cost_delta(decision),
                    rationale=str(item.payload.get("rationale") or ""),
                )
            )
        self._digest.clear()
        try:
            self.ops.digest(resolutions, self._last_digest)
        except NotificationError as exc:
            for item in items:
                self._failed(item, str(exc), exc.retryable, report)
            return
        for item in items:
            self.store.mark_outbox_sent(item.id)
            report.sent.append(item.key)
        report.digested = len(items)
        self._last_digest = now
