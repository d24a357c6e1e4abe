"""Built-in carrier connectors, registered under `openlocker.connectors` like third-party ones.

Each imports only the public connector SDK (`gateway.sdk.connectors`).
"""
