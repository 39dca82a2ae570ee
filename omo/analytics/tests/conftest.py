from omo.analytics.tests.seed import seeded_sales  # noqa: F401  (a fixture shared with console tests)
