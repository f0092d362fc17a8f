"""Alerts: grid events delivered to a webhook once per change (opened, severity, closed),
with retries.

`severity` decides which events alert, `payload` is what the receiver gets, `backoff`
when a failed POST is tried again, `webhook` the POST itself, `queue` the delivery
table (`alert_deliveries`) that remembers what was sent across restarts.
"""
