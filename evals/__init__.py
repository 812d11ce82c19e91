"""Offline evaluation: simulator, replay, scorer, baselines, reports, benchmarks."""
