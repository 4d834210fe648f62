"""The meter's room: overage units to Stripe's Billing meter, exactly once.

`push.py` (the push, and why each step is safe), `period.py` (one period's steps and the
period maths), `report.py` (what a push did), `events.py` (one meter event and the seam,
`MeterEventSender`, that billing/stripe_client.py fills in). Its own storage, one file per
backend, built by `wiring.build`: the outbox (`outbox.py`, its rules over the claim/settle
ledger; `outbox_memory.py`, `outbox_dynamo.py`) and the index of what the gate counted
(`index.py`; `index_memory.py`, `index_upstash.py`).
"""
