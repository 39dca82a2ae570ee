"""The analytics reports behind the console's 分析 pages (docs/analytics.md).

One module per report. Each takes a `ReportFilters` (period, store, clerk, sales channel, already
narrowed to what the viewer may see) and answers with a small dataclass, computed by a fixed
number of grouped SQL queries whatever the size of the brand: the database groups and sums per
customer and then per group; Python only sees the groups (a handful of rows, or one per month,
cell, store or clerk). Days and months are the brand's local ones.
"""
