"""The encoded operating policy: schema, default policy, evaluator. Imports `tools` only."""
