"""Predicted customer value: BG/NBD (how often, and whether still a customer) and Gamma-Gamma (how
much per purchase), fitted by maximum likelihood on each brand's own order history.

- `bgnbd`, `gamma_gamma`: the models' likelihoods, fits and predictions (numpy / scipy only);
- `data`: per-customer statistics from the orders (SQL aggregates, streamed by blocks of customers);
- `services`: fit a brand, score its customers; `tasks`: the nightly and the on-demand refit;
- `selectors`: the latest fit, a customer's prediction and the sentence a clerk reads.

docs/predictions.md describes the models, the minimum history, the command, the page and the API.
"""
