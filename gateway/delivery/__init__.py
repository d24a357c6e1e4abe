"""The delivery engine: one outbox, one sender loop, for every connector and webhook.

`engine` claims due outbox rows with a lease and keeps a parcel's events in order per target;
`routes` resolves a row's target to its connector, auth plugin and policy; `transports` send
what a connector rendered (HTTP, MQTT, SMTP); `auth` holds the auth plugins.
"""
