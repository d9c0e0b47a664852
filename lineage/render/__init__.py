"""Turning results into tables, JSON, Markdown, CSV and pictures; one renderer per result type."""
