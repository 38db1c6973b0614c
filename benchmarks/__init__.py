"""slpc benchmarks: figures, not tests (see RESULTS.md)."""
