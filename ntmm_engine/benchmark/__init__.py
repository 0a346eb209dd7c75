"""Measuring every variant side by side: timing, memory, reports, the benchmark job."""
