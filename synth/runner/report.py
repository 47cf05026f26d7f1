"""``scaleenv synth report DIR...``: write and print the diversity report of worlds.

Writes ``fingerprints.jsonl`` (one structural fingerprint per world), ``diversity.json``
(catalog-level figures and distance distributions) and ``embedding.png`` (the map of tool
descriptions, curated fixtures marked as the out-of-distribution set) -- the paper's Fig. 4
for any set of worlds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from engine import ScaleEnvError
from synth.runner.diversity import WorldView, curated_views, diversity, views_of_dir, world_row

REPORT_DIR = "report"


def build_report(
    dirs: list[str | Path],
    out: str | Path | None = None,
    *,
    curated: bool = True,
    embed: str = "tfidf",
    png: bool = True,
) -> dict[str, Any]:
    """Compute and write the report of the worlds under ``dirs``; returns diversity.json."""
    if not dirs:
        raise ScaleEnvError("synth report: name at least one run directory")
    views: list[WorldView] = []
    for d in dirs:
        views.extend(views_of_dir(d))
    cur = curated_views() if curated else []
    report, xy, method = diversity(views, cur, embed=embed)
    out_dir = Path(out) if out else Path(dirs[0]) / REPORT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [world_row(v) for v in views + cur]
    (out_dir / "fingerprints.jsonl").write_text(
        "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows), encoding="utf-8"
    )
    report["files"] = ["fingerprints.jsonl", "diversity.json"]
    if png and _plot(views, cur, xy, method, report, out_dir / "embedding.png"):
        report["files"].append("embedding.png")
    (out_dir / "diversity.json").write_text(
        json.dumps(report, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    report["out"] = str(out_dir)
    return report


def _plot(
    views: list[WorldView],
    cur: list[WorldView],
    xy: np.ndarray,
    method: str,
    report: dict[str, Any],
    path: Path,
) -> bool:
    """Embedding map (left) and distance histograms (right); False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax, hx) = plt.subplots(1, 2, figsize=(14, 6), gridspec_kw={"width_ratios": [3, 2]})
    sectors = sorted({v.sector or v.group for v in views})
    cmap = plt.get_cmap("tab20")
    for k, sector in enumerate(sectors):
        pts = [i for i, v in enumerate(views) if (v.sector or v.group) == sector]
        ax.scatter(xy[pts, 0], xy[pts, 1], s=14, alpha=0.75, color=cmap(k % 20), label=sector)
    if cur:
        base = len(views)
        ax.scatter(
            xy[base:, 0],
            xy[base:, 1],
            s=160,
            marker="*",
            color="black",
            label="curated (out of distribution)",
        )
        for i, v in enumerate(cur):
            ax.annotate(
                v.name,
                (xy[base + i, 0], xy[base + i, 1]),
                fontsize=9,
                xytext=(4, 4),
                textcoords="offset points",
            )
    ax.set_title(f"tool descriptions, {method} + PCA ({len(views)} worlds)")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    if len(sectors) <= 24:
        ax.legend(fontsize=7, loc="best", ncol=2 if len(sectors) > 12 else 1)
    bins = np.linspace(0, 1, 11)
    centers = (bins[:-1] + bins[1:]) / 2
    labels = {
        "tool_name_tokens_jaccard": "tool-name tokens",
        "mechanism_set_jaccard": "mechanism sets",
        "schema_shape_weighted_jaccard": "schema shapes",
        "embedding_cosine": "description embedding",
    }
    width = 0.1 / (len(labels) + 1)
    for k, (key, label) in enumerate(labels.items()):
        dist = report["pairwise"].get(key, {})
        if dist.get("n"):
            hx.bar(centers + (k - 1.5) * width, dist["hist"], width=width, label=label)
    hx.set_title(f"pairwise distances ({report['pairwise']['worlds_sampled']} worlds)")
    hx.set_xlabel("distance (0 = same, 1 = disjoint)")
    hx.set_ylabel("pairs")
    hx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return True


def print_report(report: dict[str, Any], console: Console) -> None:
    """The figures a person reads first."""
    c = report["catalog"]
    t = Table("figure", "value", title="diversity")
    for key in (
        "worlds",
        "distinct_fingerprints",
        "distinct_spec_hashes",
        "distinct_domains",
        "distinct_sector_mechanisms_tables",
    ):
        t.add_row(key.replace("_", " "), str(c[key]))
    t.add_row("sectors", str(len(c["sectors"])))
    t.add_row("embedding", report["embedding"])
    console.print(t)
    p = report["pairwise"]
    t = Table(
        "distance",
        "p5",
        "p25",
        "median",
        "p75",
        "p95",
        title=f"pairwise distances over {p['worlds_sampled']} worlds",
    )
    for key, dist in p.items():
        if isinstance(dist, dict) and dist.get("n"):
            t.add_row(key, *(f"{dist[q]:.2f}" for q in ("p5", "p25", "median", "p75", "p95")))
    console.print(t)
    o = report.get("out_of_distribution") or {}
    if o:
        t = Table(
            "curated",
            "nearest generated",
            "embedding dist",
            "tool-token dist",
            title=f"out of distribution (generated NN median {o['generated_nn_embedding_median']:.2f})",
        )
        for name, r in o["curated"].items():
            t.add_row(
                name,
                r["nearest_generated"],
                f"{r['embedding_distance']:.2f}",
                f"{r['tool_tokens_distance']:.2f}",
            )
        console.print(t)
    if c["shared_sector_mechanisms_tables"]:
        console.print(
            f"[yellow]worlds sharing (sector, mechanisms, tables):[/yellow] "
            f"{c['shared_sector_mechanisms_tables'][:5]}"
        )
    console.print(f"wrote {', '.join(report['files'])} to {report['out']}")
