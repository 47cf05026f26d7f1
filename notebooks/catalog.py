# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A catalog of worlds
#
# Many worlds side by side: their size (tables, tools, graph edges), the tasks sampled on
# them (difficulty, sub-goal kinds), how much of each toolset the tasks exercise, how the
# tools fared under procedural testing, and how different the worlds are from each other.

# %% tags=["parameters"]
WORLDS = "worlds"  # a directory of worlds (or one world)
WORLD = None  # not used here
TRAJECTORIES = None  # not used here

# %%
import json
import re

import matplotlib.pyplot as plt
import numpy as np

from engine.analysis import open_worlds

plt.rcParams.update({"figure.dpi": 100, "figure.figsize": (8, 3.5)})
db = open_worlds(WORLDS)
worlds = db.df(
    "SELECT world, domain, seed, tables, total_rows, tools, read_tools, write_tools, "
    "quarantined, tasks, edges FROM meta.worlds ORDER BY world"
)
worlds

# %% [markdown]
# ## Tables, tools and edges per world

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 0.4 * len(worlds) + 2), sharey=True)
for ax, col, color in zip(
    axes, ["tables", "tools", "edges"], ["tab:blue", "tab:orange", "tab:green"], strict=True
):
    ax.barh(worlds["world"], worlds[col], color=color)
    ax.set_title(col)
axes[0].invert_yaxis()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Tasks: difficulty and sub-goal kinds

# %%
difficulty = db.df(
    "SELECT world, difficulty, count(*) AS n FROM meta.tasks GROUP BY ALL ORDER BY ALL"
)
kinds = db.df("SELECT kind, count(*) AS n FROM meta.subgoals GROUP BY kind ORDER BY kind")
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.5))
if len(difficulty):
    pivot = difficulty.pivot(index="world", columns="difficulty", values="n").fillna(0)
    pivot.plot.bar(stacked=True, ax=ax1, rot=20)
ax1.set_title("tasks by difficulty")
ax2.bar(kinds["kind"], kinds["n"], color="tab:purple")
ax2.set_title("sub-goals by kind")
fig.tight_layout()
plt.show()
db.df(
    "SELECT world, count(*) AS tasks, avg(actions) AS mean_actions, avg(subgoals) AS mean_subgoals, "
    "avg(complexity) AS mean_complexity, sum(required_answers) AS required_answers "
    "FROM meta.tasks GROUP BY world ORDER BY world"
)

# %% [markdown]
# ## Tool coverage
#
# The share of each world's offered tools (not quarantined, not built-in) that appear in
# at least one task's gold actions: tools never used by a task are never trained on.

# %%
coverage = db.df(
    """
    SELECT t.world, count(*) AS offered,
           count(*) FILTER (WHERE t.tool IN (SELECT a.tool FROM meta.task_actions a
                                             WHERE a.world = t.world)) AS used
    FROM meta.tools t
    WHERE t.kind <> 'builtin' AND t.quarantined IS NULL
    GROUP BY t.world ORDER BY t.world
    """
)
coverage["coverage"] = coverage["used"] / coverage["offered"]
fig, ax = plt.subplots(figsize=(8, 0.4 * len(coverage) + 1.5))
ax.barh(coverage["world"], coverage["coverage"], color="tab:cyan")
ax.set_xlim(0, 1)
ax.invert_yaxis()
ax.set_title("share of offered tools used by some task")
plt.show()
coverage

# %% [markdown]
# ## Procedural tests
#
# Every tool is called on generated cases before a world ships: success, a rejection the
# tool's preconditions anticipate, or an unexpected failure (which quarantines the tool).

# %%
proctest = db.df(
    "SELECT world, sum(success) AS success, sum(anticipated_rejection) AS anticipated, "
    "sum(unexpected_failure) AS unexpected, sum(quarantined::INT) AS quarantined "
    "FROM meta.proctest GROUP BY world ORDER BY world"
)
if len(proctest):
    proctest.set_index("world")[["success", "anticipated", "unexpected"]].plot.barh(
        stacked=True, figsize=(8, 0.4 * len(proctest) + 1.5), title="procedural test cases"
    )
    plt.gca().invert_yaxis()
    plt.show()
else:
    print("no procedural test reports in these worlds")
proctest

# %% [markdown]
# ## Diversity
#
# A structural fingerprint per world (tables, foreign keys, read and write tools, graph
# density), the distribution of pairwise distances between the worlds' tool vocabularies
# (Jaccard distance of tool-name tokens), and a 2-D map of the worlds from a TF-IDF of
# their tool descriptions.

# %%
fingerprints = db.df(
    """
    SELECT w.world, w.tables, (SELECT sum(foreign_keys) FROM meta.tables t WHERE t.world = w.world) AS fks,
           w.read_tools, w.write_tools,
           round(w.edges / greatest(w.tools * (w.tools - 1), 1), 3) AS density
    FROM meta.worlds w ORDER BY w.world
    """
)
fingerprints["fingerprint"] = (
    fingerprints[["tables", "fks", "read_tools", "write_tools", "density"]]
    .astype(str)
    .agg("/".join, axis=1)
)
print("distinct fingerprints:", fingerprints["fingerprint"].nunique(), "of", len(fingerprints))
tool_names = db.df(
    "SELECT world, list(tool ORDER BY tool) AS tools, string_agg(coalesce(description, tool), ' ' ORDER BY tool) AS text FROM meta.tools WHERE kind <> 'builtin' GROUP BY world ORDER BY world"
)
tokens = [{tok for name in names for tok in name.split("_")} for names in tool_names["tools"]]
pairs = [1 - len(a & b) / len(a | b) for i, a in enumerate(tokens) for b in tokens[i + 1 :]]
docs = [re.findall(r"[a-z]+", t.lower()) for t in tool_names["text"]]
vocab = sorted({w for d in docs for w in d})
index = {w: i for i, w in enumerate(vocab)}
tf = np.zeros((len(docs), len(vocab)))
for i, d in enumerate(docs):
    for w in d:
        tf[i, index[w]] += 1
idf = np.log((1 + len(docs)) / (1 + (tf > 0).sum(axis=0))) + 1
x = tf * idf
x /= np.linalg.norm(x, axis=1, keepdims=True)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
ax1.hist(pairs, bins=min(20, max(1, len(pairs))), range=(0, 1), color="tab:gray")
ax1.set_title(f"pairwise tool-vocabulary distance ({len(pairs)} pairs)")
if len(docs) >= 2:
    centered = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(centered, full_matrices=False)
    xy = u[:, :2] * s[:2] if len(s) >= 2 else np.column_stack([u[:, 0] * s[0], np.zeros(len(docs))])
    ax2.scatter(xy[:, 0], xy[:, 1], color="tab:red")
    for (px, py), name in zip(xy, tool_names["world"], strict=True):
        ax2.annotate(name, (px, py), fontsize=8)
ax2.set_title("worlds by tool descriptions (TF-IDF, 2-D)")
fig.tight_layout()
plt.show()
fingerprints

# %% [markdown]
# The synthesis runner's own records, when the directory came from `scaleenv synth`: its
# catalog (sector, mechanisms, failures with their reasons) and, after `scaleenv synth
# report`, its structural fingerprints and embedding map (curated fixtures marked as the
# out-of-distribution set).

# %%
from IPython.display import Image, display

meta_tables = {
    name
    for (name,) in db.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'meta'"
    )
}
if "synth_catalog" in meta_tables:
    display(db.df("SELECT * FROM meta.synth_catalog LIMIT 50"))
else:
    print("no catalog.json / catalog.parquet from the synthesis runner here")
if "fingerprints" in meta_tables:
    fp_cols = set(db.df("SELECT * FROM meta.fingerprints LIMIT 0").columns)
    if {"group", "fingerprint"} <= fp_cols:
        display(
            db.df(
                'SELECT "group", count(*) AS worlds, count(DISTINCT fingerprint) AS distinct '
                "FROM meta.fingerprints GROUP BY 1 ORDER BY 1"
            )
        )
    display(db.df("SELECT * FROM meta.fingerprints ORDER BY ALL LIMIT 50"))
maps = [
    r / "report" / "embedding.png" for r in db.roots if (r / "report" / "embedding.png").is_file()
]
if maps:
    display(Image(filename=str(maps[0])))

# %% [markdown]
# ## Key numbers

# %% tags=["summary"]
summary = {
    "worlds": int(len(worlds)),
    "tables": int(worlds["tables"].sum()),
    "tools": int(worlds["tools"].sum()),
    "edges": int(worlds["edges"].sum()),
    "tasks": int(worlds["tasks"].sum()),
    "difficulty": {k: int(v) for k, v in difficulty.groupby("difficulty")["n"].sum().items()},
    "subgoal_kinds": {k: int(v) for k, v in zip(kinds["kind"], kinds["n"], strict=True)},
    "coverage": {
        w: round(float(c), 4) for w, c in zip(coverage["world"], coverage["coverage"], strict=True)
    },
    "proctest_success": int(proctest["success"].sum()) if len(proctest) else 0,
    "distinct_fingerprints": int(fingerprints["fingerprint"].nunique()),
}
print(json.dumps(summary, sort_keys=True))
