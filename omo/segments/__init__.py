"""Segments, RFM and predicted customer value (the insight layer, below analytics and campaigns).

- `models`: segments with materialised, versioned membership and their count history; per-customer
  RFM and lifecycle scores; CLV fits (BG/NBD + Gamma-Gamma) and per-customer predictions.
- `rules/`: the JSON rule tree: validation (errors name the path), compilation to one SQL query
  (SQLite and PostgreSQL alike) and the sentence that says why a customer is or is not a member.
"""
