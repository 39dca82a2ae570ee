"""Shopify: connect a store, accept its webhooks, process them, sync its products.

Inbound webhooks follow verify → record → acknowledge → process: `webhooks.accept_webhook` checks
the HMAC on the raw body and stores one delivery with its processing task, and the view answers 200.
`processing.process_webhook` (a task) then hands the delivery to its topic's handler:

- orders.py: orders/create|paid|updated|cancelled and refunds/create;
- customers.py: customers/create|update, and the marketing consent Shopify sends with them;
- products.py: products/create|update, and the full and scheduled syncs through the GraphQL Admin API;
- privacy.py: customers/data_request, customers/redact, shop/redact;
- connections.py: the connection's settings, and app/uninstalled.

client.py speaks to the Admin API, mapping.py turns Shopify's documents into ours, selectors.py
reads a brand's connections, views.py is the webhook endpoint.
"""
