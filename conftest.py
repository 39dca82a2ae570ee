"""Shared pytest fixtures: a brand with its stores, staff of every role, and API keys."""
