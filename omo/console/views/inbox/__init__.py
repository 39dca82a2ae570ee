"""The inbox in the console: conversation list, one conversation, the roster and canned replies.

Scope is the inbox's own: every conversation is read through omo.inbox.selectors (HQ sees the
brand, a store manager their store), so another brand's or another store's conversation is a 404.
Every change goes through one omo.inbox.services verb; an InboxError becomes an error on the form
field it names (400), or a 403/404 page when the service refuses the action itself.
"""
