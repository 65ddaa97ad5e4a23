"""Rendering: escaped HTML, pandas tables, plots. Rendering never calls a model."""
