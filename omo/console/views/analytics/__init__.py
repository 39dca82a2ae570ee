"""The 分析 pages: OMO contribution, Pareto, RFM, cohorts, bindings, funnel, lifecycle (docs/analytics.md)."""
