"""Segments, RFM and predicted customer value (the insight layer, below analytics and campaigns).

- `models`: segments with materialised, versioned membership and their count history; per-customer
  RFM and lifecycle scores; CLV fits (BG/NBD + Gamma-Gamma) and per-customer predictions.
- `rules/`: the JSON rule tree: validation (errors name the path), compilation to one SQL query
  (SQLite and PostgreSQL alike) and the sentence that says why a customer is or is not a member.
- `scores` (with `rfm`, `repurchase`, `score_writes`): RFM quintile scores, the named RFM segments
  and the lifecycle groups of every customer, set-wise; `ready_made`: the brand's ready-made segments
  on them; `score_tasks` / `score_hooks`: nightly and on-demand runs, a customer's update after an
  order; `score_overview` and `scores_api`: what the 顧客分群 page and the API show (docs/rfm.md).
"""
