"""Auth plugins: how a rendered request is authorised or signed for one carrier endpoint."""

from gateway.delivery.auth.base import AuthContext, AuthPlugin
from gateway.delivery.auth.config import AuthConfig, AuthType, parse_auth_config
from gateway.delivery.auth.errors import AuthConfigError, AuthFailed
from gateway.delivery.auth.factory import build_auth_plugin
from gateway.delivery.auth.secrets import is_secret_reference, resolve_model_secrets, resolve_secret

__all__ = [
    "AuthConfig",
    "AuthConfigError",
    "AuthContext",
    "AuthFailed",
    "AuthPlugin",
    "AuthType",
    "build_auth_plugin",
    "is_secret_reference",
    "parse_auth_config",
    "resolve_model_secrets",
    "resolve_secret",
]
