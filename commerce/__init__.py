"""Commerce and growth: products and checkout, Stripe webhooks, memberships and their access,
step-up codes, creator tokens and their purchases, referrals, magic links, livestreams.

Layering: `tools`, `bots` and `one` use `commerce`; `commerce` uses `ontology` and `providers` only.
Every business operation here writes its facts (entities, connections, events) and the operational
rows that drive it (outbox, purchases, grants) in one unit of work.
"""
