"""The `email` notifier: tells the recipient by e-mail (SMTP), with the pickup code and QR."""

from connectors.email.connector import EmailConfig, EmailNotifier, SmtpConfig

__all__ = ["EmailConfig", "EmailNotifier", "SmtpConfig"]
