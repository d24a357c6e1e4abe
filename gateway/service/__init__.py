"""The service layer: the one place that knows the sequence of every flow."""
