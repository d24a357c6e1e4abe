"""Built-in locker adapters; each registers under the `openlocker.adapters` entry point."""
