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
# # A tour of one world
#
# What is in a world before an agent trains on it: its tables and how many rows each has,
# how the key columns are distributed, a few sample rows, and the tool graph (which tool's
# output or writes feed which other tool). Everything is read through DuckDB with
# `engine.analysis.open_worlds`.

# %% tags=["parameters"]
WORLDS = "worlds"  # a world directory, or a directory of worlds
WORLD = None  # which world to tour (default: the first, by name)
TRAJECTORIES = None  # not used here

# %%
import json

import matplotlib.pyplot as plt
import networkx as nx

from engine.analysis import open_worlds

plt.rcParams.update({"figure.dpi": 100, "figure.figsize": (8, 3.5)})
db = open_worlds(WORLDS)
world = WORLD or db.worlds[0]
schema = '"' + db.schemas.get(world, world).replace('"', '""') + '"'
db.df("SELECT * EXCLUDE (path) FROM meta.worlds WHERE world = ?", [world]).T

# %% [markdown]
# ## Tables and row counts

# %%
tables = db.df(
    'SELECT "table", rows, columns, key, foreign_keys FROM meta.tables '
    'WHERE world = ? ORDER BY "table"',
    [world],
)
fig, ax = plt.subplots()
ax.barh(tables["table"], tables["rows"], color="tab:blue")
ax.invert_yaxis()
ax.set_xlabel("rows")
ax.set_title(f"rows per table in {world}")
plt.show()
tables

# %% [markdown]
# ## Distributions of key columns
#
# Enumerations as bar charts of their values; numbers (money, counts, quantities) as
# histograms. Primary keys and foreign keys are left out: they are identifiers.

# %%
columns = db.df(
    'SELECT "table", "column", type FROM meta.columns WHERE world = ? '
    "AND \"references\" IS NULL AND type IN ('enum', 'decimal', 'integer', 'float', 'boolean') "
    'ORDER BY "table", "column"',
    [world],
)
keys = {
    (t, c)
    for t, k in zip(tables["table"], tables["key"], strict=True)
    for c in (k or "").split(",")
}
shown = [r for r in columns.itertuples() if (r.table, r.column) not in keys][:8]
ncols = 2
nrows = max(1, (len(shown) + ncols - 1) // ncols)
fig, axes = plt.subplots(nrows, ncols, figsize=(9, 2.6 * nrows), squeeze=False)
for ax, r in zip(axes.flat, shown, strict=False):
    t, c = '"' + r.table + '"', '"' + r.column + '"'
    if r.type in ("enum", "boolean"):
        vc = db.df(
            f"SELECT CAST({c} AS VARCHAR) AS v, count(*) AS n FROM {schema}.{t} GROUP BY 1 ORDER BY 1"
        )
        ax.bar(vc["v"].fillna("NULL"), vc["n"], color="tab:orange")
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    else:
        vals = [v for (v,) in db.sql(f"SELECT {c} FROM {schema}.{t} WHERE {c} IS NOT NULL")]
        ax.hist(vals, bins=20, color="tab:green")
    ax.set_title(f"{r.table}.{r.column}", fontsize=9)
for ax in list(axes.flat)[len(shown) :]:
    ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Sample rows
#
# The first three rows of each table, as the agent's tools would see them.

# %%
from IPython.display import display  # noqa: E402

for name in tables["table"]:
    print(name)
    display(db.df(f'SELECT * FROM {schema}."{name}" LIMIT 3'))

# %% [markdown]
# ## The tool graph
#
# An edge A → B means A's output feeds one of B's parameters (data) or A writes columns
# that B reads (state). Write tools are orange, read tools blue.

# %%
tools = db.df(
    "SELECT tool, kind, quarantined FROM meta.tools WHERE world = ? AND kind <> 'builtin' "
    "ORDER BY tool",
    [world],
)
edges = db.df(
    "SELECT source, target, kinds FROM meta.edges WHERE world = ? ORDER BY source, target",
    [world],
)
g = nx.DiGraph()
g.add_nodes_from(tools["tool"])
g.add_edges_from(zip(edges["source"], edges["target"], strict=True))
pos = nx.spring_layout(g, seed=0, k=1.5 / max(1, g.number_of_nodes()) ** 0.5)
kind = dict(zip(tools["tool"], tools["kind"], strict=True))
colors = ["tab:orange" if kind.get(n) == "write" else "tab:blue" for n in g.nodes]
fig, ax = plt.subplots(figsize=(9, 7))
nx.draw_networkx(
    g, pos, ax=ax, node_color=colors, node_size=500, font_size=7, arrowsize=8, edge_color="0.7"
)
ax.set_title(f"tool graph of {world}: {g.number_of_nodes()} tools, {g.number_of_edges()} edges")
ax.axis("off")
plt.show()

# %% [markdown]
# ## Key numbers

# %% tags=["summary"]
summary = {
    "world": world,
    "tables": int(len(tables)),
    "rows": {t: int(n) for t, n in zip(tables["table"], tables["rows"], strict=True)},
    "tools": int(len(tools)),
    "write_tools": int((tools["kind"] == "write").sum()),
    "edges": int(g.number_of_edges()),
    "tasks": int(db.scalar("SELECT count(*) FROM meta.tasks WHERE world = ?", [world])),
}
print(json.dumps(summary, sort_keys=True))
