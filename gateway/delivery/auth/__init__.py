"""Auth plugins: how a rendered request is authorised or signed for one carrier endpoint."""
