"""The offline text embedding used by precedent memory.

chromadb's default embedding function downloads an ONNX model on first use and fails offline,
so precedent memory uses the Model2Vec static model shipped in `agents/embedding_model/`
(MiniLM distilled to 128 dimensions, no torch, no network). It is registered with chromadb
(`register_embedding_function`) under `EMBEDDING_FUNCTION_NAME`, so a collection reopened by a
new client rebuilds the same function from its stored config instead of failing.

The model is loaded lazily, once per process. A missing model folder is an error, never a
download: model2vec would otherwise treat an unknown path as a Hugging Face repo id.
"""

from __future__ import annotations

import os

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

if TYPE_CHECKING:
    from model2vec import StaticModel

EMBEDDING_FUNCTION_NAME = "execlayer-model2vec"
BUNDLED_MODEL_DIR = Path(__file__).resolve().parent / "embedding_model"
EMBEDDING_DIMENSIONS = 128
_REQUIRED_FILES = ("model.safetensors", "tokenizer.json", "config.json")

_models: dict[Path, StaticModel] = {}
_models_lock = threading.Lock()


class EmbeddingModelMissing(RuntimeError):
    """The model folder is absent or incomplete (nothing is ever downloaded instead)."""


def load_model(model_dir: Path | None = None) -> StaticModel:
    """The Model2Vec model in `model_dir` (default: the bundled one), loaded once per process."""
    folder = (model_dir or BUNDLED_MODEL_DIR).resolve()
    with _models_lock:
        model = _models.get(folder)
        if model is not None:
            return model
        missing = [name for name in _REQUIRED_FILES if not (folder / name).is_file()]
        if missing:
            raise EmbeddingModelMissing(
                f"embedding model folder {folder} lacks {', '.join(missing)}"
            )
        from model2vec import StaticModel

        model = StaticModel.from_pretrained(folder)
        _models[folder] = model
        return model


def embed_texts(texts: list[str], model_dir: Path | None = None) -> np.ndarray:
    """Unit-length float32 vectors, one row per text."""
    if not texts:
        return np.zeros((0, EMBEDDING_DIMENSIONS), dtype=np.float32)
    vectors = load_model(model_dir).encode(texts)
    return np.asarray(vectors, dtype=np.float32)


@register_embedding_function
class Model2VecEmbeddingFunction(EmbeddingFunction[Documents]):
    """chromadb embedding function over the bundled (or a given) Model2Vec model.

    Its config stores the model folder only when it is not the bundled one, so a persisted
    collection keeps working when the project directory moves.
    """

    def __init__(self, model_dir: str | None = None) -> None:
        self.model_dir = model_dir

    def _folder(self) -> Path | None:
        return Path(self.model_dir) if self.model_dir else None

    def __call__(self, input: Documents) -> Embeddings:
        return list(embed_texts(list(input), self._folder()))

    @staticmethod
    def name() -> str:
        return EMBEDDING_FUNCTION_NAME

    def get_config(self) -> dict[str, Any]:
        return {"model_dir": self.model_dir}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> Model2VecEmbeddingFunction:
        model_dir = config.get("model_dir")
        return Model2VecEmbeddingFunction(str(model_dir) if model_dir else None)

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def supported_spaces(self) -> list[str]:  # type: ignore[override]
        return ["cosine", "l2", "ip"]

    def is_legacy(self) -> bool:
        return False
