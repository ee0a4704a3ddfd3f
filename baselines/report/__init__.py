"""Markdown tables and plots of a results directory: a pure function of its records."""
