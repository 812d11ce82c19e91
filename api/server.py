"""`execlayer serve`: the app under uvicorn."""

from __future__ import annotations

import typer
import uvicorn
from rich.console import Console
from rich.markup import escape

from agents.heap import settle
from api.app import create_app
from api.keys import ApiKeyError
from api.options import ApiOptions
from tools.settings import Settings


def serve(*, host: str = "127.0.0.1", port: int = 8000, db_url: str | None = None) -> None:
    """Run the API, Slack endpoints and console until interrupted (Ctrl-C stops cleanly)."""
    options = ApiOptions()
    try:
        app = create_app(
            Settings(), db_url=db_url, options=options, use_memory=options.precedent_memory
        )
    except ApiKeyError as exc:
        Console(stderr=True).print(f"[bold red]execlayer serve:[/] {escape(str(exc))}")
        raise typer.Exit(code=2) from None
    settle()  # a long-running process: see agents.heap
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
