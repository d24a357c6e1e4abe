"""Connector tests: attachments, the CLI, the conformance kit and each built-in connector."""
