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
# # Rollouts
#
# How agents did on the worlds' tasks: success by difficulty, by world and by tool, where
# they fail (the first failing call of each failed episode and its error type), and the
# distribution of rewards. Trajectories come from `scaleenv rollout` (Parquet or JSONL);
# without them this notebook says so and stops drawing.

# %% tags=["parameters"]
WORLDS = "worlds"  # a directory of worlds (or one world)
WORLD = None  # not used here
TRAJECTORIES = None  # trajectory files, or a directory of them

# %%
import json

import matplotlib.pyplot as plt

from engine.analysis import open_worlds

plt.rcParams.update({"figure.dpi": 100, "figure.figsize": (8, 3.5)})
db = open_worlds(WORLDS, TRAJECTORIES)
episodes = int(db.scalar("SELECT count(*) FROM meta.trajectories"))
if episodes == 0:
    print("No trajectories: run `scaleenv rollout` and pass its output with --trajectories.")
print(f"{episodes} episodes over {len(db.worlds)} worlds")

# %% [markdown]
# ## Success by difficulty and by world
#
# pass@1 is the mean success of single samples; pass@k counts a task as solved when any
# of its k samples passed.

# %%
by_difficulty = db.df(
    "SELECT coalesce(difficulty, '?') AS difficulty, count(*) AS episodes, "
    "avg(passed::INT) AS pass_rate, avg(reward) AS mean_reward "
    "FROM meta.trajectories GROUP BY 1 ORDER BY 1"
)
by_world = db.df(
    """
    WITH per_task AS (
      SELECT world, task_id, avg(passed::INT) AS p1, max(passed::INT) AS pk, count(*) AS k
      FROM meta.trajectories GROUP BY world, task_id)
    SELECT world, count(*) AS tasks, max(k) AS k, avg(p1) AS pass_at_1, avg(pk) AS pass_at_k
    FROM per_task GROUP BY world ORDER BY world
    """
)
if episodes:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.5))
    ax1.bar(by_difficulty["difficulty"], by_difficulty["pass_rate"], color="tab:blue")
    ax1.set_ylim(0, 1)
    ax1.set_title("success by difficulty")
    by_world.set_index("world")[["pass_at_1", "pass_at_k"]].plot.bar(ax=ax2, rot=20, ylim=(0, 1))
    ax2.set_title("success by world")
    fig.tight_layout()
    plt.show()
by_world

# %% [markdown]
# ## Success by tool
#
# For each tool: how many calls agents made, how many of them failed, and the success of
# the episodes that called it.

# %%
by_tool = db.df(
    """
    SELECT s.tool, count(*) AS calls, count(*) FILTER (WHERE NOT s.ok) AS failed_calls,
           avg(t.passed::INT) AS episode_pass_rate
    FROM meta.steps s JOIN meta.trajectories t USING (world, task_id, sample)
    GROUP BY s.tool ORDER BY calls DESC, s.tool
    """
)
if len(by_tool):
    top = by_tool.head(20)
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(top) + 1.5))
    ax.barh(top["tool"], top["calls"] - top["failed_calls"], color="tab:green", label="ok")
    ax.barh(
        top["tool"],
        top["failed_calls"],
        left=top["calls"] - top["failed_calls"],
        color="tab:red",
        label="failed",
    )
    ax.invert_yaxis()
    ax.legend()
    ax.set_title("calls per tool")
    plt.show()
by_tool

# %% [markdown]
# ## Where agents fail
#
# The first failing call of each episode, by tool and error type.

# %%
first = db.df(
    "SELECT tool, coalesce(error_type, '?') AS error_type, count(*) AS n "
    "FROM meta.first_failures GROUP BY ALL ORDER BY n DESC, tool, error_type"
)
errors = db.df(
    "SELECT coalesce(error_type, '?') AS error_type, count(*) AS n FROM meta.steps "
    "WHERE NOT ok GROUP BY 1 ORDER BY n DESC, 1"
)
if len(errors):
    fig, ax = plt.subplots()
    ax.bar(errors["error_type"], errors["n"], color="tab:red")
    ax.set_title("failed calls by error type")
    ax.tick_params(axis="x", labelrotation=20)
    plt.show()
first

# %% [markdown]
# ## Rewards

# %%
has_policy = "policy" in db.df("SELECT * FROM meta.trajectories LIMIT 0").columns
if episodes:
    rewards = db.df(
        f"SELECT {'policy' if has_policy else chr(39) + 'all' + chr(39)} AS grp, reward "
        "FROM meta.trajectories WHERE reward IS NOT NULL ORDER BY grp, world, task_id, sample"
    )
    fig, ax = plt.subplots()
    for grp, part in rewards.groupby("grp"):
        ax.hist(part["reward"], bins=10, range=(0, 1), alpha=0.6, label=str(grp))
    ax.legend()
    ax.set_xlabel("reward")
    ax.set_title("reward distribution")
    plt.show()

# %% [markdown]
# ## Key numbers

# %% tags=["summary"]
summary = {
    "episodes": episodes,
    "passed": int(db.scalar("SELECT count(*) FILTER (WHERE passed) FROM meta.trajectories")),
    "mean_reward": round(
        float(db.scalar("SELECT coalesce(avg(reward), 0) FROM meta.trajectories")), 6
    ),
    "pass_at_1": {
        w: round(float(p), 6) for w, p in zip(by_world["world"], by_world["pass_at_1"], strict=True)
    },
    "failed_calls": int(errors["n"].sum()) if len(errors) else 0,
    "first_failures": int(first["n"].sum()) if len(first) else 0,
}
print(json.dumps(summary, sort_keys=True))
