"""`execlayer serve`: the app under uvicorn."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from api.options import ApiOptions
from tools.settings import Settings


def serve(*, host: str = "127.0.0.1", port: int = 8000, db_url: str | None = None) -> None:
    """Run the API, Slack endpoints and console until interrupted (Ctrl-C stops cleanly)."""
    options = ApiOptions()
    app = create_app(
        Settings(), db_url=db_url, options=options, use_memory=options.precedent_memory
    )
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
