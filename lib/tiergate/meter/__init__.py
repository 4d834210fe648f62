"""The meter's room: overage units to Stripe's Billing meter, exactly once.

`push.py` (the push, and why each step is safe), `period.py` (one period's steps and the
period maths), `report.py` (what a push did), `events.py` (one meter event and the seam,
`MeterEventSender`, that billing/stripe_client.py fills in). The outbox's rules are still in
registry/outbox.py and the meter index in the hot store (`HotStore.metered`).
"""
