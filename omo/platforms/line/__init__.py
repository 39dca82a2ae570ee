"""LINE: webhook verifier (webhook.py, SDK-free), adapter (adapter.py, line-bot-sdk v3), sending policy
(sending.py), inbound events → domain (inbound.py), product cards (flex.py), rendering (render.py),
LINE Login ID tokens (login.py), cost meter (cost.py), real-shaped webhook fixtures (fixtures/)."""
