"""The server: HTTP API, Slack endpoints and the ops console in one FastAPI app.

    app = create_app(Settings())          # `execlayer serve` runs this under uvicorn

The lifespan opens an `AsyncResolver` (store, policy, advisor, memory, async checkpointer),
runs `recover()` so approvals decided before a crash or restart still resolve exactly once,
and starts the outbox dispatcher (Slack, or the log, for operators; the customer notifier for
customers). Everything is closed in reverse on shutdown, after in-flight resumptions finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from agents.async_resolver import AsyncResolver
from api.console.chat import router as console_chat_router
from api.console.routes import STATIC_DIR
from api.console.routes import router as console_router
from api.console.session import SessionSigner
from api.dispatcher import OutboxDispatcher
from api.errors import install_error_handlers
from api.keys import KeyRing
from api.notifiers import CustomerNotifier, LoggingCustomerNotifier, LoggingOpsNotifier, OpsNotifier
from api.options import ApiOptions
from api.routes import approvals, exceptions, system
from api.runtime import ApiRuntime
from api.slack.gateway import SlackGateway, SlackOpsNotifier, web_client
from api.slack.routes import router as slack_router
from guardrails.policy import Policy
from tools.booking import CarrierAdapter
from tools.settings import Settings

if TYPE_CHECKING:  # chromadb: loaded only when memory is used
    from agents.memory import PrecedentMemory

log = logging.getLogger(__name__)

DESCRIPTION = """\
Resolve order-fulfilment exceptions from signal to committed action.

Authenticate with `Authorization: Bearer <key>` (keys and roles from `EXECLAYER_API_KEYS`:
viewer < operator < approver < admin). Every error answers with the same `ErrorBody`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    db_url: str | None = None,
    policy: Policy | None = None,
    carrier: CarrierAdapter | None = None,
    use_llm: bool = True,
    use_memory: bool = True,
    memory: PrecedentMemory | None = None,
    options: ApiOptions | None = None,
    customer_notifier: CustomerNotifier | None = None,
    now: Callable[[], float] = time.time,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """Build the app. API keys are parsed here (a malformed `EXECLAYER_API_KEYS` raises
    `api.keys.ApiKeyError` at once); the store is opened in the lifespan. `now` (epoch
    seconds) is the clock of Slack signature checks and console sessions; `clock` the
    dispatcher's (default: the store's)."""
    settings = settings or Settings()
    options = options or ApiOptions()
    keys = KeyRing.from_env_value(
        settings.api_keys.get_secret_value() if settings.api_keys else None
    )
    secret = options.console_secret.get_secret_value() if options.console_secret else None
    sessions = SessionSigner.for_keys(keys, secret, options.session_hours * 3600, now)
    customers = customer_notifier or LoggingCustomerNotifier()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not len(keys):
            log.warning("no EXECLAYER_API_KEYS configured: every API call will be refused")
        async with AsyncResolver.open(
            settings,
            db_url=db_url,
            policy=policy,
            carrier=carrier,
            use_llm=use_llm,
            use_memory=use_memory,
            memory=memory,
        ) as resolver:
            slack: SlackGateway | None = None
            ops: OpsNotifier = LoggingOpsNotifier()
            if settings.slack_configured:
                assert settings.slack_channel is not None
                slack = SlackGateway(web_client(settings), settings.slack_channel)
                ops = SlackOpsNotifier(slack, options.public_url)
            dispatcher = OutboxDispatcher(
                resolver.store,
                ops,
                customers,
                poll_s=options.outbox_poll_s,
                digest_every_s=options.slack_digest_minutes * 60,
                max_attempts=options.outbox_max_attempts,
                backoff_s=options.outbox_backoff_s,
                max_backoff_s=options.outbox_max_backoff_s,
                clock=clock,
            )
            runtime = ApiRuntime(
                settings=settings,
                options=options,
                keys=keys,
                resolver=resolver,
                dispatcher=dispatcher,
                sessions=sessions,
                slack=slack,
                now=now,
            )
            app.state.runtime = runtime
            if options.recover_on_start:
                finished = await resolver.recover()
                if finished:
                    log.info("recovered %d interrupted resolution(s)", len(finished))
            task = asyncio.create_task(dispatcher.run()) if options.dispatch_outbox else None
            try:
                yield
            finally:
                await runtime.drain()
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    app = FastAPI(
        title="execlayer",
        summary="The execution layer for distributed order management",
        description=DESCRIPTION,
        version="1",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(exceptions.router)
    app.include_router(approvals.router)
    app.include_router(system.router)
    app.include_router(slack_router)
    app.include_router(console_router)
    app.include_router(console_chat_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
