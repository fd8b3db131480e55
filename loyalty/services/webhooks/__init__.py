"""Webhooks to the merchant's own systems (docs/WEBHOOKS.md).

- endpoints.py: what the merchant registers, rotates and reads (the API and web UI);
- events.py: the outbox rows, written in the transaction of what they describe;
- delivery.py: the `webhooks` queue's sending, retries, giving up, and the sweep.
"""
