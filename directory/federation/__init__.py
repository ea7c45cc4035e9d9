"""Federation: signed trust lists exchanged between directories (docs/federation.md)."""
