"""Wire models of batch pre-advice (`POST /v1/parcels:batch`) and of the discovery document."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gateway.wire.base import WireModel
from gateway.wire.parcels import ParcelOut
from gateway.wire.problem import ProblemOut


class ParcelBatchIn(WireModel):
    """The batch as the schema checks it: each item is read on its own afterwards, so that
    one item of the wrong shape is refused alone (see gateway/http/routes/parcel_batch.py)."""

    parcels: list[Any]


class BatchItemOut(WireModel):
    index: int
    status: int
    location: str | None = None
    parcel: ParcelOut | None = None
    pointer: str | None = None
    problem: ProblemOut | None = None


class ParcelBatchOut(WireModel):
    items: list[BatchItemOut]
    accepted: int
    refused: int


class EndpointsOut(WireModel):
    api: str
    jwks_uri: str = Field(alias="jwksUri")
    openapi: str
    spec: str
    health: str
    mqtt: list[str] | None = None


class AlgorithmsOut(WireModel):
    carrier_tokens: list[str] = Field(alias="carrierTokens")
    grants: list[str]
    webhook_signatures: list[str] = Field(alias="webhookSignatures")


class LimitsOut(WireModel):
    max_body_bytes: int = Field(alias="maxBodyBytes")
    batch_max_items: int = Field(alias="batchMaxItems")
    batch_max_body_bytes: int = Field(alias="batchMaxBodyBytes")
    max_json_depth: int = Field(alias="maxJsonDepth")
    page_size_default: int = Field(alias="pageSizeDefault")
    page_size_max: int = Field(alias="pageSizeMax")
    idempotency_key_retention_seconds: int = Field(alias="idempotencyKeyRetentionSeconds")
    carrier_token_max_lifetime_seconds: int = Field(alias="carrierTokenMaxLifetimeSeconds")
    max_token_bytes: int = Field(alias="maxTokenBytes")
    webhook_subscriptions_max: int = Field(alias="webhookSubscriptionsMax")


class OlpConfigurationOut(WireModel):
    spec_version: str = Field(alias="specVersion")
    network_id: str = Field(alias="networkId")
    endpoints: EndpointsOut
    algorithms: AlgorithmsOut
    limits: LimitsOut
    features: list[str]
