"""Slack: approval requests with buttons, escalations, failures and a digest; signed
interactions (button clicks) and slash commands."""
