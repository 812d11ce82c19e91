"""The faces people use: HTTP API, Slack, the ops console and the `execlayer` CLI."""
