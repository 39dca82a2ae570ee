"""Commerce connections: one package per external system that sends orders, customers and products
(shopify/; later POS and ERP vendors).

The Django app (label `connectors`) holds what they share: the models and their migrations, the
admin, the background tasks and the management commands. Screens for them live in the console.
"""
