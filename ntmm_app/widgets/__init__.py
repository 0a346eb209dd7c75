"""Reusable widgets: config forms, live plots, metrics and results views, run controls."""
