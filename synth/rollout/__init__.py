"""Rollouts: K samples per task, in parallel, through the episode harness of
``engine.adapters``; trajectories as JSONL + Parquet; pass@1, pass@k and pass^k."""

from synth.rollout.metrics import pass_at_k, pass_hat_k, summarize
from synth.rollout.run import RolloutResult, find_worlds, run_rollouts

__all__ = ["RolloutResult", "find_worlds", "pass_at_k", "pass_hat_k", "run_rollouts", "summarize"]
