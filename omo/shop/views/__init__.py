"""The built-in web shop at /shop/<brand>/: browse, product with live stock, cart, checkout,
confirmation and the member page.

Views parse input, resolve the brand from the URL (tenancy: every read below takes it) and call
one service or selector; each page's module is named for the part of the visit it serves.
"""
