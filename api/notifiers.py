"""Where outbox messages go: operators (Slack, or the log) and customers (pluggable).

`OpsNotifier` tells the operations team about pending approvals (and updates that message
once decided), escalations, failures, and a periodic digest of auto-resolutions.
`CustomerNotifier` delivers `notify_customer` actions; the default only logs them. To send
real e-mails or texts, implement `CustomerNotifier.notify` and pass it to `create_app`.
All methods are synchronous (the dispatcher runs them in a worker thread) and raise
`NotificationError` when delivery failed (`retryable`: try again later with backoff).
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from tools.decisions import Decision
from tools.events import ExceptionEvent
from tools.store import ApprovalRecord

log = logging.getLogger(__name__)


class NotificationError(RuntimeError):
    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class MessageRef(BaseModel):
    """Where a posted message lives (a Slack channel id and message ts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str
    ts: str


class ApprovalNotice(BaseModel):
    """An approval with the decision it gates and the event behind it."""

    model_config = ConfigDict(extra="forbid")

    approval: ApprovalRecord
    decision: Decision
    event: ExceptionEvent | None = None


class AutoResolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exception_id: str
    event_type: str | None = None
    summary: str | None = None
    cost_delta: float | None = None
    rationale: str = ""


class CustomerNotification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str  # idempotency key: the same key is one notification
    order: str | None
    message: str
    promised_by: datetime | None = None


class OpsNotifier(Protocol):
    name: str
    needs_message_ref: bool  # approval_decided must update the request's message

    def approval_requested(self, notice: ApprovalNotice) -> MessageRef | None: ...

    def approval_decided(self, notice: ApprovalNotice, ref: MessageRef | None) -> None: ...

    def escalation(self, exception_id: str, reason: str, event: ExceptionEvent | None) -> None: ...

    def failure(self, exception_id: str, error: str) -> None: ...

    def digest(self, items: list[AutoResolution], since: datetime) -> None: ...


class CustomerNotifier(Protocol):
    def notify(self, notification: CustomerNotification) -> None: ...


class LoggingOpsNotifier:
    """Without Slack: operator notices become log lines (nothing is lost, nothing is sent)."""

    name = "log"
    needs_message_ref = False

    def approval_requested(self, notice: ApprovalNotice) -> MessageRef | None:
        log.info(
            "approval %s needed for %s (%s): %s",
            notice.approval.id,
            notice.decision.exception_id,
            notice.decision.event_type,
            "; ".join(notice.approval.reasons),
        )
        return None

    def approval_decided(self, notice: ApprovalNotice, ref: MessageRef | None) -> None:
        log.info(
            "approval %s %s by %s: %s is %s",
            notice.approval.id,
            notice.approval.status.value,
            notice.approval.decided_by,
            notice.decision.exception_id,
            notice.decision.status.value,
        )

    def escalation(self, exception_id: str, reason: str, event: ExceptionEvent | None) -> None:
        log.info("escalated %s: %s", exception_id, reason)

    def failure(self, exception_id: str, error: str) -> None:
        log.warning("resolution of %s failed: %s", exception_id, error)

    def digest(self, items: list[AutoResolution], since: datetime) -> None:
        log.info("%d exceptions auto-resolved since %s", len(items), since.isoformat())


class LoggingCustomerNotifier:
    """The default customer channel: a log line per notification (a no-op delivery)."""

    def __init__(self, keep: int = 200) -> None:
        self.delivered: deque[CustomerNotification] = deque(maxlen=keep)  # the latest few

    def notify(self, notification: CustomerNotification) -> None:
        self.delivered.append(notification)
        log.info("customer notification for order %s (%s)", notification.order, notification.key)
