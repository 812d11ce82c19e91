"""Precedent memory: resolved cases and their outcomes in chromadb, retrieved by similarity.

- `PrecedentMemory.open(path)`: a persistent store in a folder (`Settings.memory_dir`);
  `open(None)`: in memory, private to this instance; `open(..., server_url=...)`: a chromadb
  server (`EXECLAYER_MEMORY_URL`).
- Embeddings come from the bundled offline Model2Vec model (`agents.embedding`), never from
  chromadb's default function (which downloads a model). Telemetry is off.
- Every failure of the store (server down, unusable folder, corrupt database) raises
  `MemoryUnavailable`; `similar_or_empty` logs it and returns [] so a decision never fails
  because memory did.
"""

from __future__ import annotations

import os

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings
from pydantic import ValidationError

from agents.embedding import Model2VecEmbeddingFunction
from agents.precedents import (
    MemoryUnavailable,
    Precedent,
    PrecedentNotFound,
    PrecedentOutcome,
    PrecedentQuery,
    SimilarCase,
    describe_situation,
)
from tools.events import EventType
from tools.settings import Settings

__all__ = [
    "MemoryUnavailable",
    "Precedent",
    "PrecedentMemory",
    "PrecedentNotFound",
    "PrecedentOutcome",
    "PrecedentQuery",
    "SimilarCase",
    "describe_situation",
]

log = logging.getLogger(__name__)

COLLECTION_NAME = "execlayer-precedents"
MAX_K = 50
R = TypeVar("R")


def _chroma_settings() -> ChromaSettings:
    return ChromaSettings(anonymized_telemetry=False)


@contextmanager
def _unavailable_on_error(what: str) -> Iterator[None]:
    """Re-raise any store error as `MemoryUnavailable` naming the operation."""
    try:
        yield
    except (MemoryUnavailable, PrecedentNotFound):
        raise
    except Exception as exc:  # chromadb, sqlite, OS and network errors alike
        raise MemoryUnavailable(
            f"precedent memory {what} failed: {type(exc).__name__}: {exc}"
        ) from exc


def _metadata(precedent: Precedent) -> dict[str, str | int | float | bool]:
    meta: dict[str, str | int | float | bool] = {
        "exception_id": precedent.exception_id,
        "event_type": precedent.event_type.value,
        "status": precedent.status.value,
        "decided_by": precedent.decided_by.value,
        "cost_delta": precedent.cost_delta,
        "recorded_at": precedent.recorded_at.isoformat(),
        "has_outcome": precedent.outcome is not None,
        "precedent": precedent.model_dump_json(),
    }
    if precedent.chosen_kind:
        meta["chosen_kind"] = precedent.chosen_kind
    if precedent.outcome is not None and precedent.outcome.promise_kept is not None:
        meta["promise_kept"] = precedent.outcome.promise_kept
    return meta


def _precedent(metadata: Any, document: str | None) -> Precedent:
    raw = metadata.get("precedent") if isinstance(metadata, dict) else None
    if not isinstance(raw, str):
        raise MemoryUnavailable("precedent memory holds a record without its precedent")
    try:
        precedent = Precedent.model_validate_json(raw)
    except ValidationError as exc:
        raise MemoryUnavailable(f"precedent memory holds an unreadable record: {exc}") from exc
    return precedent if document is None else precedent.model_copy(update={"text": document})


def _http_client(server_url: str) -> ClientAPI:
    parts = urlsplit(server_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("memory_url: must be an http(s) URL such as http://localhost:8000")
    ssl = parts.scheme == "https"
    return chromadb.HttpClient(
        host=parts.hostname,
        port=parts.port or (443 if ssl else 8000),
        ssl=ssl,
        settings=_chroma_settings(),
    )


class PrecedentMemory:
    """Resolved cases keyed by exception id (re-remembering a case replaces it)."""

    def __init__(self, client: ClientAPI, collection: Collection, *, ephemeral: bool) -> None:
        self._client = client
        self._collection = collection
        self._ephemeral = ephemeral

    @classmethod
    def open(
        cls,
        path: Path | None,
        *,
        server_url: str | None = None,
        collection: str = COLLECTION_NAME,
    ) -> PrecedentMemory:
        """Open (creating if needed) the store: a chromadb server when `server_url` is given,
        else a folder at `path`, else a private in-memory store."""
        ephemeral = server_url is None and path is None
        with _unavailable_on_error("open"):
            if server_url is not None:
                client = _http_client(server_url)
            elif path is not None:
                path.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
            else:
                # In-process clients share one system: a unique name keeps instances apart.
                client = chromadb.EphemeralClient(settings=_chroma_settings())
                collection = f"{collection}-{uuid.uuid4().hex[:12]}"
            handle = client.get_or_create_collection(
                collection,
                embedding_function=Model2VecEmbeddingFunction(),  # type: ignore[arg-type]
                configuration={"hnsw": {"space": "cosine"}},
            )
        return cls(client, handle, ephemeral=ephemeral)

    @classmethod
    def from_settings(cls, settings: Settings) -> PrecedentMemory:
        """The store the settings name: `memory_url` (server) or `memory_dir` (files)."""
        if settings.memory_url:
            return cls.open(None, server_url=settings.memory_url)
        return cls.open(settings.memory_dir)

    @property
    def name(self) -> str:
        return self._collection.name

    def close(self) -> None:
        """Drop a private in-memory store; persistent and server stores stay as they are."""
        if self._ephemeral:
            try:
                self._client.delete_collection(self._collection.name)
            except Exception as exc:  # already gone: nothing to release
                log.debug("closing precedent memory: %s", exc)

    def __enter__(self) -> PrecedentMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, what: str, call: Callable[[], R]) -> R:
        with _unavailable_on_error(what):
            return call()

    def count(self) -> int:
        return self._run("count", self._collection.count)

    def remember(self, precedent: Precedent) -> None:
        """Store (or replace) the precedent of `precedent.exception_id`."""
        self._run(
            "remember",
            lambda: self._collection.upsert(
                ids=[precedent.exception_id],
                documents=[precedent.text],
                metadatas=[_metadata(precedent)],
            ),
        )

    def remember_many(self, precedents: Sequence[Precedent]) -> None:
        """Store (or replace) several precedents in one write; the last of a repeated id wins."""
        latest = {p.exception_id: p for p in precedents}
        if not latest:
            return
        ordered = list(latest.values())
        self._run(
            "remember",
            lambda: self._collection.upsert(
                ids=[p.exception_id for p in ordered],
                documents=[p.text for p in ordered],
                metadatas=[_metadata(p) for p in ordered],
            ),
        )

    def get(self, exception_id: str) -> Precedent | None:
        found = self._run(
            "get",
            lambda: self._collection.get(ids=[exception_id], include=["metadatas", "documents"]),
        )
        if not found["ids"]:
            return None
        metadata = found["metadatas"][0] if found["metadatas"] else None
        document = found["documents"][0] if found["documents"] else None
        return _precedent(metadata, document)

    def record_outcome(self, exception_id: str, outcome: PrecedentOutcome) -> Precedent:
        """Attach how the case really ended; raises `PrecedentNotFound` for an unknown id."""
        current = self.get(exception_id)
        if current is None:
            raise PrecedentNotFound(f"no precedent stored for exception {exception_id!r}")
        updated = current.model_copy(update={"outcome": outcome})
        self._run(
            "record_outcome",
            lambda: self._collection.update(ids=[exception_id], metadatas=[_metadata(updated)]),
        )
        return updated

    def similar(
        self,
        query: PrecedentQuery | str,
        k: int = 3,
        *,
        event_type: EventType | str | None = None,
        exclude: str | None = None,
    ) -> list[SimilarCase]:
        """The `k` stored cases nearest to `query`, nearest first (ties: by exception id).

        `event_type` keeps only cases of that type; `exclude` leaves out one exception id
        (the case being resolved). A `PrecedentQuery` brings its own type and exclusion."""
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k: must be between 1 and {MAX_K}")
        if event_type is not None:
            try:
                event_type = EventType(event_type)
            except ValueError:
                raise ValueError(f"event_type: unknown event type {event_type!r}") from None
        if isinstance(query, PrecedentQuery):
            text = query.text
            event_type = event_type or query.event_type
            exclude = exclude or query.exclude_exception_id
        else:
            text = query
        if not text.strip():
            raise ValueError("query: must not be empty")
        filters: list[dict[str, Any]] = []
        if event_type is not None:
            filters.append({"event_type": event_type.value})
        if exclude:
            filters.append({"exception_id": {"$ne": exclude}})
        where: dict[str, Any] | None = None
        if len(filters) == 1:
            where = filters[0]
        elif filters:
            where = {"$and": filters}

        def run() -> list[SimilarCase]:
            stored = self._collection.count()
            if stored == 0:
                return []
            found = self._collection.query(
                query_texts=[text],
                n_results=min(stored, k + 5),  # a few spare, to break distance ties by id
                where=where,
                include=["metadatas", "documents", "distances"],
            )
            ids = found["ids"][0]
            metadatas = (found["metadatas"] or [[]])[0]
            documents = (found["documents"] or [[]])[0]
            distances = (found["distances"] or [[]])[0]
            cases = [
                SimilarCase(
                    precedent=_precedent(meta, doc),
                    distance=round(float(dist), 6),
                    similarity=round(1.0 - float(dist), 6),
                )
                for _id, meta, doc, dist in zip(ids, metadatas, documents, distances, strict=True)
            ]
            cases.sort(key=lambda c: (c.distance, c.precedent.exception_id))
            return cases[:k]

        return self._run("similar", run)

    def similar_or_empty(
        self,
        query: PrecedentQuery | str,
        k: int = 3,
        *,
        event_type: EventType | str | None = None,
        exclude: str | None = None,
    ) -> list[SimilarCase]:
        """`similar`, or [] (logged) when memory is unavailable: never breaks a decision."""
        try:
            return self.similar(query, k, event_type=event_type, exclude=exclude)
        except MemoryUnavailable as exc:
            log.warning("precedents unavailable, deciding without them: %s", exc)
            return []
