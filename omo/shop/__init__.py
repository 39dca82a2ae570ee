"""The built-in web shop under /shop/: screens only (views, forms, templates, static).

It reads and writes through commerce, loyalty, catalog, customers and tracking; nothing in the
product imports it.
"""
