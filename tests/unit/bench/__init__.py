"""Unit tests of the benchmark's own measuring helpers (bench/)."""
