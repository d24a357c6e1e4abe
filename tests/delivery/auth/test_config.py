"""Auth config and secret references: clear errors that name the field and never the value."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, SecretStr

from gateway.delivery.auth import (
    AuthConfigError,
    AuthType,
    build_auth_plugin,
    is_secret_reference,
    parse_auth_config,
    resolve_model_secrets,
    resolve_secret,
)
from gateway.delivery.auth.config import NoAuthConfig
from gateway.delivery.auth.none import NoAuth
from gateway.sdk.connectors import ConnectorConfigError

DOC = Path(__file__).parents[3] / "docs" / "connectors" / "auth.md"
SECRET = "s3cr3t-value-that-must-not-leak"


# --- secret references --------------------------------------------------------------------


def test_a_literal_secret_is_itself() -> None:
    assert resolve_secret("plain", field="auth.value").get_secret_value() == "plain"
    assert not is_secret_reference(SecretStr("plain"))


def test_env_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_SECRET", SECRET)
    assert resolve_secret(SecretStr("env:ACME_SECRET"), field="x").get_secret_value() == SECRET
    assert is_secret_reference("env:ACME_SECRET")


def test_env_reference_from_a_given_environment() -> None:
    resolved = resolve_secret("env:ACME", field="x", environ={"ACME": "from-mapping"})
    assert resolved.get_secret_value() == "from-mapping"


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({}, "environment variable ACME_SECRET is not set"),
        ({"ACME_SECRET": ""}, "environment variable ACME_SECRET is empty"),
    ],
)
def test_unusable_env_reference_names_field_and_variable(
    environ: dict[str, str], problem: str
) -> None:
    with pytest.raises(AuthConfigError) as error:
        resolve_secret("env:ACME_SECRET", field="auth.client_secret", environ=environ)
    assert error.value.field == "auth.client_secret"
    assert str(error.value).endswith(f"auth.client_secret: {problem}")
    assert error.value.issues[0].pointer == "/auth/client_secret"


def test_file_reference_drops_the_final_line_break(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(f"{SECRET}\n")
    resolved = resolve_secret(f"file:{path}", field="auth.secret")
    assert resolved.get_secret_value() == SECRET


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "No such file or directory"), (b"\n", "is empty"), (b"\xff\xfe", "not UTF-8")],
)
def test_unusable_file_reference_names_field_and_path(
    tmp_path: Path, content: bytes | None, problem: str
) -> None:
    path = tmp_path / "secret"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AuthConfigError) as error:
        resolve_secret(f"file:{path}", field="auth.secret")
    assert error.value.field == "auth.secret"
    assert str(path) in str(error.value)
    assert problem in str(error.value)


def test_unreadable_file_reference(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="cannot read secret file") as error:
        resolve_secret(f"file:{tmp_path}", field="auth.secret")  # a directory
    assert error.value.field == "auth.secret"


@pytest.mark.parametrize("value", ["env:", "file:", ""])
def test_empty_references_are_errors(value: str) -> None:
    with pytest.raises(AuthConfigError):
        resolve_secret(value, field="auth.secret")


class _Smtp(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str
    password: SecretStr | None = None


class _Notifier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    smtp: _Smtp
    tokens: list[SecretStr] = []
    headers: dict[str, SecretStr] = {}


def test_resolve_model_secrets_walks_nested_models_lists_and_dicts(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("from-file\n")
    model = _Notifier(
        smtp=_Smtp(host="smtp.example", password=SecretStr("env:SMTP_PW")),
        tokens=[SecretStr("literal"), SecretStr(f"file:{path}")],
        headers={"X-Key": SecretStr("env:KEY")},
    )
    resolved = resolve_model_secrets(model, environ={"SMTP_PW": "pw", "KEY": "k"})

    assert resolved.smtp.password is not None
    assert resolved.smtp.password.get_secret_value() == "pw"
    assert [token.get_secret_value() for token in resolved.tokens] == ["literal", "from-file"]
    assert resolved.headers["X-Key"].get_secret_value() == "k"
    assert model.smtp.password is not None
    assert model.smtp.password.get_secret_value() == "env:SMTP_PW"  # the original is kept


def test_resolve_model_secrets_names_the_nested_field() -> None:
    model = _Notifier(
        smtp=_Smtp(host="h"), tokens=[SecretStr("ok"), SecretStr("env:MISSING_TOKEN")]
    )
    with pytest.raises(AuthConfigError) as error:
        resolve_model_secrets(model, prefix="config.", environ={})
    assert error.value.field == "config.tokens.1"
    assert isinstance(error.value, ConnectorConfigError)


# --- the auth block -----------------------------------------------------------------------


def test_no_auth_block_is_none() -> None:
    assert parse_auth_config(None) == NoAuthConfig()
    assert isinstance(build_auth_plugin(parse_auth_config({"type": "none"})), NoAuth)


def _issues(data: Any) -> dict[str, str]:
    with pytest.raises(AuthConfigError) as error:
        parse_auth_config(data)
    return {issue.pointer: issue.detail for issue in error.value.issues}


def test_unknown_type_lists_the_known_ones() -> None:
    issues = _issues({"type": "kerberos"})
    assert list(issues) == ["/auth/type"]
    assert all(member.value in issues["/auth/type"] for member in AuthType)


def test_missing_type() -> None:
    assert "missing" in _issues({"value": SECRET})["/auth/type"]


def test_every_bad_field_is_named_and_no_value_is_echoed() -> None:
    data = {
        "type": "oauth2-client-credentials",
        "token_url": "ftp://auth.example/token",
        "client_id": "gw",
        "client_secert": SECRET,  # a typo: the secret lands in an unknown key
    }
    with pytest.raises(AuthConfigError) as error:
        parse_auth_config(data)
    issues = {issue.pointer: issue.detail for issue in error.value.issues}
    assert issues["/auth/client_secert"] == "unknown key"
    assert issues["/auth/client_secret"] == "Field required"
    assert "/auth/token_url" in issues
    assert SECRET not in str(error.value)
    assert SECRET not in repr(error.value)


@pytest.mark.parametrize(
    ("data", "pointer", "problem"),
    [
        ({"type": "api-key", "value": SECRET, "header": "X Key"}, "/auth/header", "header name"),
        ({"type": "hmac", "secret": SECRET, "canonical": "{nonce}"}, "/auth/canonical", "{nonce}"),
        ({"type": "hmac", "secret": SECRET, "canonical": "{body"}, "/auth/canonical", "template"),
        ({"type": "hmac", "secret": SECRET, "canonical": "{body!r}"}, "/auth/canonical", "format"),
        ({"type": "hmac", "secret": SECRET, "algorithm": "md5"}, "/auth/algorithm", "sha256"),
        (
            {"type": "hmac", "secret": SECRET, "canonical": "{timestamp}.{body}"},
            "/auth",
            "timestamp_header is not set",
        ),
        (
            {
                "type": "oauth2-client-credentials",
                "token_url": "https://a.example/t",
                "client_id": "c",
                "client_secret": SECRET,
                "extra_params": {"grant_type": "password"},
            },
            "/auth/extra_params",
            "grant_type",
        ),
        ({"type": "mtls"}, "/auth/cert_file", "Field required"),
        ({"type": "none", "tls": {"cert": "x"}}, "/auth/tls/cert", "unknown key"),
    ],
)
def test_field_errors(data: dict[str, Any], pointer: str, problem: str) -> None:
    issues = _issues(data)
    assert problem in issues[pointer]
    assert all(SECRET not in detail for detail in issues.values())


def test_hmac_literal_braces_are_not_a_timestamp() -> None:
    parse_auth_config({"type": "hmac", "secret": "s", "canonical": "{{timestamp}}{body}"})


def test_a_missing_env_secret_fails_the_build_naming_the_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ACME_CLIENT_SECRET", raising=False)
    config = parse_auth_config(
        {
            "type": "oauth2-client-credentials",
            "token_url": "https://auth.acme.example/token",
            "client_id": "gw",
            "client_secret": "env:ACME_CLIENT_SECRET",
        }
    )
    with pytest.raises(AuthConfigError) as error:
        build_auth_plugin(config, field="connectors.acme.auth")
    assert error.value.field == "connectors.acme.auth.client_secret"
    assert "ACME_CLIENT_SECRET is not set" in str(error.value)


def test_olp_jws_needs_the_network_signer() -> None:
    with pytest.raises(AuthConfigError, match="network key"):
        build_auth_plugin(parse_auth_config({"type": "olp-jws"}))


# --- the documented examples are valid ----------------------------------------------------


def _doc_auth_blocks() -> list[Any]:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    found = []
    for block in blocks:
        for connector in tomllib.loads(block)["connectors"]:
            found.append(pytest.param(connector["auth"], id=connector["id"]))
    return found


@pytest.mark.parametrize("auth", _doc_auth_blocks())
def test_documented_example_parses(auth: dict[str, Any]) -> None:
    assert parse_auth_config(auth).type == auth["type"]


def test_every_plugin_has_a_documented_example() -> None:
    documented = {param.values[0]["type"] for param in _doc_auth_blocks()}
    assert documented == {member.value for member in AuthType}
