"""Reporting: figures, the README writer and the multi-run study."""
