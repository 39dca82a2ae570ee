"""Segment-spec event tracking: write-keyed sources, the HTTP ingest API and the event store."""
