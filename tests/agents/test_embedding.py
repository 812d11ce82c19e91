"""The offline embedding model and its chromadb registration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from chromadb.utils.embedding_functions import known_embedding_functions

from agents.embedding import (
    BUNDLED_MODEL_DIR,
    EMBEDDING_DIMENSIONS,
    EMBEDDING_FUNCTION_NAME,
    EmbeddingModelMissing,
    Model2VecEmbeddingFunction,
    embed_texts,
    load_model,
)


def test_vectors_are_unit_length_float32():
    vectors = embed_texts(["node overload at a store", "carrier disruption in the south east"])
    assert vectors.shape == (2, EMBEDDING_DIMENSIONS)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert embed_texts([]).shape == (0, EMBEDDING_DIMENSIONS)


def test_same_text_same_vector():
    assert np.array_equal(embed_texts(["short pick"]), embed_texts(["short pick"]))


def test_model_is_loaded_once():
    assert load_model() is load_model()
    assert load_model(BUNDLED_MODEL_DIR) is load_model()


def test_a_missing_model_is_an_error_not_a_download(tmp_path: Path):
    # model2vec treats an unknown path as a Hugging Face repo id; we never let it.
    with pytest.raises(EmbeddingModelMissing, match=r"model\.safetensors"):
        load_model(tmp_path / "sentence-transformers" / "all-MiniLM-L6-v2")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(EmbeddingModelMissing, match=r"tokenizer\.json"):
        load_model(tmp_path)


def test_registered_with_chromadb_and_rebuilt_from_config():
    assert known_embedding_functions[EMBEDDING_FUNCTION_NAME] is Model2VecEmbeddingFunction
    bundled = Model2VecEmbeddingFunction()
    assert bundled.get_config() == {"model_dir": None}  # survives moving the project
    rebuilt = Model2VecEmbeddingFunction.build_from_config(bundled.get_config())
    assert rebuilt.model_dir is None
    assert not rebuilt.is_legacy()
    assert rebuilt.default_space() == "cosine"
    vectors = rebuilt(["hello"])
    assert len(vectors) == 1 and len(vectors[0]) == EMBEDDING_DIMENSIONS
    other = Model2VecEmbeddingFunction.build_from_config({"model_dir": str(BUNDLED_MODEL_DIR)})
    assert np.allclose(other(["hello"])[0], vectors[0])
