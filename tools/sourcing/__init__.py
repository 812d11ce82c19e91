"""Sourcing: candidate resolutions, their expected-cost score and batch re-sourcing."""
