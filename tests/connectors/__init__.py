"""Connector tests against fake product servers."""
