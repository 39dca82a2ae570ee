"""Console views, one module per area. Each view: check access, read through selectors, render."""
