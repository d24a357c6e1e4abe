"""The `sms` notifier: tells the recipient by SMS through a generic HTTP SMS API."""

from connectors.sms.connector import SmsConfig, SmsNotifier

__all__ = ["SmsConfig", "SmsNotifier"]
