"""Builders for example datasets from data that ships with scikit-learn (no downloads)."""
