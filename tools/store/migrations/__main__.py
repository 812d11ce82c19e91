"""`python -m tools.store.migrations {upgrade,current,heads,sql,revision} [--db URL]`: run the
store's migrations without an alembic.ini (the URL defaults to EXECLAYER_DB_URL or
./.execlayer/). For developers, `revision -m "what changed" --db sqlite:///scratch.db`
upgrades that database to head and autogenerates the next revision from the schema's diff."""

from __future__ import annotations

import argparse
import sys

from alembic import command

from tools.settings import Settings
from tools.store.engine import make_engine, normalise_url, write_connection
from tools.store.migrations import alembic_config, current_revision, head_revision, migrate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.store.migrations")
    parser.add_argument(
        "command",
        choices=["upgrade", "current", "heads", "sql", "revision"],
        help="upgrade: migrate to head; current: print the database's revision; "
        "heads: print the scripts' head; sql: print the DDL to head without running it; "
        "revision: autogenerate the next revision (needs -m)",
    )
    parser.add_argument("-m", "--message", default=None, help="revision: what it changes")
    parser.add_argument("--db", default=None, help="store URL (default: EXECLAYER_DB_URL)")
    args = parser.parse_args(argv)
    url = args.db or Settings().database_url
    if args.command == "heads":
        print(head_revision())
        return 0
    if args.command == "sql":
        rendered = normalise_url(url).render_as_string(hide_password=False)
        command.upgrade(alembic_config(url=rendered), "head", sql=True)
        return 0
    if args.command == "revision" and not args.message:
        parser.error("revision needs -m/--message")
    engine = make_engine(url)
    try:
        if args.command == "revision":
            migrate(engine)
            with write_connection(engine) as conn:
                command.revision(alembic_config(conn), message=args.message, autogenerate=True)
            return 0
        if args.command == "upgrade":
            migrate(engine)
        print(current_revision(engine) or "(empty database)")
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
