"""How different are the worlds? Fingerprints, pairwise distances and an embedding map.

The paper's claim is that *distinct* domains make agents generalize, so the catalog must
show it: how many structural fingerprints are distinct, how far apart worlds are in tool
vocabulary, mechanism sets and schema shape, and where they sit in an embedding of their
tool descriptions -- with the hand-written fixtures as an out-of-distribution reference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine import DomainSpec, ScaleEnvError, load_spec
from synth.graph import build_graph
from synth.runner.embed import cosine_distances, describe, embed_worlds, pca_2d
from synth.runner.fingerprint import features, fingerprint, name_tokens, schema_vector
from synth.runner.sources import CURATED_SECTORS, curated_dir

MAX_PAIRWISE = 300  # worlds sampled (evenly, by index) for the O(n^2) distance distributions


@dataclass
class WorldView:
    """What the report needs from one world."""

    id: str
    name: str
    group: str  # the run (source) it came from, or "curated"
    sector: str
    spec: DomainSpec
    mechanisms: list[str] = field(default_factory=list)
    edges: int = 0
    spec_sha256: str = ""

    def features(self) -> dict[str, Any]:
        return features(self.spec, mechanisms=self.mechanisms, edges=self.edges)

    def tool_tokens(self) -> set[str]:
        return {t for name in self.spec.active_tools() for t in name_tokens(name)}

    def tool_texts(self) -> list[str]:
        return [f"{n}: {t.description}" for n, t in sorted(self.spec.active_tools().items())]


def _edges(spec: DomainSpec) -> int:
    return build_graph(spec).number_of_edges()


def views_of_dir(run_dir: str | Path) -> list[WorldView]:
    """The ok worlds of a synth run (its catalog), or every world directory under ``run_dir``."""
    d = Path(run_dir)
    cat = d / "catalog.json"
    if cat.is_file():
        doc = json.loads(cat.read_text(encoding="utf-8"))
        group = str(doc.get("run", {}).get("source") or d.name)
        out = []
        for r in doc["worlds"]:
            if r["status"] != "ok":
                continue
            spec = load_spec(d / r["world"] / "spec.yaml")
            out.append(
                WorldView(
                    r["id"],
                    r["name"],
                    group,
                    r["sector"],
                    spec,
                    list(r["mechanisms"]),
                    int(r["edges"]),
                    r["spec_sha256"],
                )
            )
        return out
    worlds = sorted(
        p.parent for p in d.glob("*/manifest.json") if (p.parent / "spec.yaml").is_file()
    )
    if not worlds:
        raise ScaleEnvError(f"{d}: neither a synth run (catalog.json) nor a folder of worlds")
    out = []
    for w in worlds:
        spec = load_spec(w / "spec.yaml")
        out.append(WorldView(w.name, spec.name, d.name, "", spec, [], _edges(spec), spec.digest()))
    return out


def curated_views(directory: str | Path | None = None) -> list[WorldView]:
    """The hand-written fixtures: the out-of-distribution reference set."""
    d = Path(directory) if directory else curated_dir()
    out = []
    for p in sorted(d.glob("*.yaml")):
        spec = load_spec(p)
        sector = CURATED_SECTORS.get(p.stem, "other")
        out.append(
            WorldView(
                f"curated-{p.stem}",
                p.stem,
                "curated",
                sector,
                spec,
                [],
                _edges(spec),
                spec.digest(),
            )
        )
    return out


def world_row(v: WorldView) -> dict[str, Any]:
    """One line of fingerprints.jsonl."""
    feats = v.features()
    return {
        "id": v.id,
        "name": v.name,
        "group": v.group,
        "sector": v.sector,
        "fingerprint": fingerprint(feats),
        **feats,
        "tools": len(v.spec.active_tools()),
        "edges": v.edges,
    }


def jaccard(a: set[str], b: set[str]) -> float:
    """1 - |a & b| / |a | b| (two empty sets are equal: 0)."""
    union = a | b
    return 1.0 - len(a & b) / len(union) if union else 0.0


def bag_distance(a: dict[str, int], b: dict[str, int]) -> float:
    """Weighted Jaccard distance of two bags (multisets)."""
    keys = set(a) | set(b)
    top = sum(max(a.get(k, 0), b.get(k, 0)) for k in keys)
    return 1.0 - sum(min(a.get(k, 0), b.get(k, 0)) for k in keys) / top if top else 0.0


def sample(n: int, limit: int = MAX_PAIRWISE) -> list[int]:
    """At most ``limit`` indices of ``range(n)``, evenly spaced (deterministic)."""
    if n <= limit:
        return list(range(n))
    step = n / limit
    return [int(i * step) for i in range(limit)]


def pairwise(views: list[WorldView], emb: np.ndarray | None = None) -> dict[str, Any]:
    """Distributions of pairwise distances over (a sample of) the worlds."""
    toks = [v.tool_tokens() for v in views]
    mechs = [set(v.mechanisms) for v in views]
    shapes = [schema_vector(v.spec) for v in views]
    d_tok, d_mech, d_shape = [], [], []
    for i in range(len(views)):
        for j in range(i + 1, len(views)):
            d_tok.append(jaccard(toks[i], toks[j]))
            d_mech.append(jaccard(mechs[i], mechs[j]))
            d_shape.append(bag_distance(shapes[i], shapes[j]))
    out = {
        "worlds_sampled": len(views),
        "tool_name_tokens_jaccard": describe(d_tok),
        "mechanism_set_jaccard": describe(d_mech),
        "schema_shape_weighted_jaccard": describe(d_shape),
    }
    if emb is not None and len(views) > 1:
        d = cosine_distances(emb, emb)
        out["embedding_cosine"] = describe(d[np.triu_indices(len(views), k=1)])
    return out


def catalog_level(views: list[WorldView]) -> dict[str, Any]:
    """Distinct fingerprints, spec hashes and (sector, mechanisms, tables) triples."""
    triples: dict[str, list[str]] = {}
    sectors: dict[str, int] = {}
    mech_freq: dict[str, int] = {}
    for v in views:
        key = json.dumps([v.sector, sorted(v.mechanisms), sorted(v.spec.entities)])
        triples.setdefault(key, []).append(v.id)
        sectors[v.sector] = sectors.get(v.sector, 0) + 1
        for m in v.mechanisms:
            mech_freq[m] = mech_freq.get(m, 0) + 1
    dups = sorted(ids for ids in triples.values() if len(ids) > 1)
    return {
        "worlds": len(views),
        "distinct_fingerprints": len({fingerprint(v.features()) for v in views}),
        "distinct_spec_hashes": len({v.spec_sha256 or v.spec.digest() for v in views}),
        "distinct_domains": len({v.name for v in views}),
        "distinct_sector_mechanisms_tables": len(triples),
        "shared_sector_mechanisms_tables": dups[:20],
        "sectors": dict(sorted(sectors.items())),
        "mechanism_frequency": dict(sorted(mech_freq.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def ood(
    gen: list[WorldView], cur: list[WorldView], emb_gen: np.ndarray, emb_cur: np.ndarray
) -> dict[str, Any]:
    """How far each curated fixture is from its nearest generated world, vs generated NN."""
    if not gen or not cur:
        return {}
    d_cg = cosine_distances(emb_cur, emb_gen)
    d_gg = cosine_distances(emb_gen, emb_gen)
    np.fill_diagonal(d_gg, np.inf)
    nn_gg = d_gg.min(axis=1) if len(gen) > 1 else np.zeros(1)
    rows = {}
    for i, c in enumerate(cur):
        j = int(np.argmin(d_cg[i]))
        tok = min(jaccard(c.tool_tokens(), g.tool_tokens()) for g in gen)
        rows[c.name] = {
            "nearest_generated": gen[j].id,
            "embedding_distance": round(float(d_cg[i, j]), 4),
            "tool_tokens_distance": round(tok, 4),
        }
    return {"curated": rows, "generated_nn_embedding_median": round(float(np.median(nn_gg)), 4)}


def diversity(
    views: list[WorldView], curated: list[WorldView] | None = None, *, embed: str = "tfidf"
) -> tuple[dict[str, Any], np.ndarray, str]:
    """The catalog-level report, the 2-D map (views then curated rows) and the embedder used."""
    curated = curated or []
    everyone = views + curated
    if not everyone:
        raise ScaleEnvError("diversity: no worlds to compare")
    emb, method = embed_worlds([v.tool_texts() for v in everyone], embed)
    xy = pca_2d(emb)
    idx = sample(len(views))
    picked = [views[i] for i in idx]
    report = {
        "catalog": catalog_level(views),
        "pairwise": pairwise(picked, emb[idx] if views else None),
        "embedding": method,
        "out_of_distribution": ood(views, curated, emb[: len(views)], emb[len(views) :]),
    }
    return report, xy, method
