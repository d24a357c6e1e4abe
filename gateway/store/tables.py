"""The schema, as SQLAlchemy Core tables; migrations/ must build exactly this (a test checks)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from gateway.domain.delivery import AttachmentSource, TargetKind
from gateway.domain.enums import (
    CompartmentState,
    Direction,
    DoorState,
    ItemSensor,
    ParcelState,
    SizeClass,
)
from gateway.domain.holds import HoldState
from gateway.domain.operators import Role
from gateway.domain.requirements import TemperatureClass
from gateway.domain.webhooks import DeliveryState
from gateway.store.types import StrEnumType, UTCDateTime

# Deterministic constraint names on both engines: later migrations (and SQLite's batch mode,
# which rebuilds tables) can only refer to constraints by name.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an "INTEGER PRIMARY KEY" (the rowid alias), not a BIGINT one.
BigId = BigInteger().with_variant(Integer(), "sqlite")

carriers = Table(
    "carriers",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("jwks", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

lockers = Table(
    "lockers",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("lat", Double, nullable=False),
    Column("lon", Double, nullable=False),
    Column("address", Text),
    Column("adapter", Text, nullable=False),
    Column("features", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

compartments = Table(
    "compartments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("locker_id", Text, ForeignKey("lockers.id"), nullable=False),
    Column("code", Text, nullable=False),
    Column("size_class", StrEnumType(SizeClass), nullable=False),
    # The class's rank, so SQL can filter and order by size without knowing the enum.
    Column("size_rank", Integer, nullable=False),
    Column("width_mm", Integer, nullable=False),
    Column("height_mm", Integer, nullable=False),
    Column("depth_mm", Integer, nullable=False),
    Column("max_weight_g", Integer, nullable=False),
    Column("state", StrEnumType(CompartmentState), nullable=False),
    Column("door", StrEnumType(DoorState), nullable=False),
    Column("item_sensor", StrEnumType(ItemSensor), nullable=False),
    Column("parcel_uid", Text),
    Column("updated_at", UTCDateTime, nullable=False),
    # Migration 0017 (delivery requirements): the declared temperature class and floor height
    # above the ground (null: not declared, never accessible), the last temperature reading
    # and whether the locker reports it out of the class's range (no allocation meanwhile).
    Column(
        "temperature_class",
        StrEnumType(TemperatureClass),
        nullable=False,
        server_default=TemperatureClass.AMBIENT.value,
    ),
    Column("floor_mm", Integer),
    Column("temperature_c", Double),
    Column("temperature_at", UTCDateTime),
    Column("temperature_alarm", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("locker_id", "code"),
    Index("ix_compartments_allocation", "locker_id", "state", "size_rank"),
)

parcels = Table(
    "parcels",
    metadata,
    # Monotonic insertion order: the stable cursor for paging a carrier's parcels.
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("uid", Text, nullable=False, unique=True),
    Column("carrier_id", Text, nullable=False),
    Column("parcel_id", Text, nullable=False),
    Column("direction", StrEnumType(Direction), nullable=False),
    Column("state", StrEnumType(ParcelState), nullable=False),
    Column("locker_id", Text, nullable=False),
    Column("compartment_code", Text),
    Column("size_class", StrEnumType(SizeClass)),
    Column("length_mm", Integer),
    Column("width_mm", Integer),
    Column("height_mm", Integer),
    Column("weight_g", Integer),
    Column("reference", Text),
    Column("reserved_until", UTCDateTime),
    Column("pickup_until", UTCDateTime),
    Column("pickup_window_s", Integer, nullable=False),
    Column("reservation_ttl_s", Integer, nullable=False),
    Column("redirected_from", Text),
    Column("redirected_to", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_seq", Integer, nullable=False),
    # Migration 0008: the recipient (personal data, JSON) and the pickupUntil the reminder
    # was queued for; the latter is written only by the reminder's conditional update.
    Column("recipient", JSON),
    Column("reminded_for", UTCDateTime),
    # Migration 0017: the parcel's delivery requirements (delivery-requirements.json), or null.
    Column("requirements", JSON),
    # Migration 0016: the hold-time policy fixed at booking, the next reminder it calls for,
    # and what the recipient asked for through the self-service link (JSON).
    Column("hold_policy", JSON(none_as_null=True)),  # SQL NULL: booked before 0016
    Column("next_reminder_at", UTCDateTime),
    Column("recipient_requests", JSON),
    UniqueConstraint("carrier_id", "parcel_id"),
    Index("ix_parcels_state_reserved_until", "state", "reserved_until"),
    Index("ix_parcels_state_pickup_until", "state", "pickup_until"),
    Index("ix_parcels_carrier_id_seq", "carrier_id", "seq"),
    Index("ix_parcels_state_next_reminder_at", "state", "next_reminder_at"),
    # Migration 0021: query on scan looks a parcel id up across carriers (store/scans.py).
    Index("ix_parcels_parcel_id", "parcel_id"),
    # Migration 0022: an operator's search by what a counter reads out (store/parcels.py
    # `search(identifier=…)`): uid OR parcel id OR reference, each an index read.
    Index("ix_parcels_reference", "reference"),
)

parcel_events = Table(
    "parcel_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("parcel_uid", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", Text, nullable=False),
    Column("from_state", StrEnumType(ParcelState)),
    Column("to_state", StrEnumType(ParcelState), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("details", JSON, nullable=False),
    UniqueConstraint("parcel_uid", "seq"),
    # The console's reports read the last 30 days of events (migration 0022).
    Index("ix_parcel_events_at", "at"),
)

# ---- soft holds (migration 0015) --------------------------------------------------------------

holds = Table(
    "holds",
    metadata,
    # Capacity of one size class at one locker, held for a carrier without a compartment
    # (gateway/domain/holds.py). Active rows count against their class until `expires_at`.
    Column("hold_id", Text, primary_key=True),
    Column("carrier_id", Text, ForeignKey("carriers.id"), nullable=False),
    Column("locker_id", Text, ForeignKey("lockers.id"), nullable=False),
    Column("size_class", StrEnumType(SizeClass), nullable=False),
    # What the carrier asked for (a class, or dimensions and weight): a parcel booked with the
    # hold is checked against the held class, not against this.
    Column("requested_class", StrEnumType(SizeClass)),
    Column("length_mm", Integer),
    Column("width_mm", Integer),
    Column("height_mm", Integer),
    Column("weight_g", Integer),
    Column("state", StrEnumType(HoldState), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
    # The parcel announced with the hold (attached while it waits for the door, or converted).
    Column("parcel_uid", Text),
    Column("parcel_id", Text),
    Column("reference", Text),
    Index("ix_holds_locker_id_state_expires_at", "locker_id", "state", "expires_at"),
    Index("ix_holds_state_expires_at", "state", "expires_at"),
    Index("ix_holds_parcel_uid", "parcel_uid"),
    Index("ix_holds_carrier_id_created_at", "carrier_id", "created_at"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("carrier_id", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("carrier_id", "key"),
    # purge() deletes by age.
    Index("ix_idempotency_keys_created_at", "created_at"),
)

used_jtis = Table(
    "used_jtis",
    metadata,
    Column("issuer", Text, nullable=False),
    Column("jti", Text, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("issuer", "jti"),
    # purge() deletes by expiry.
    Index("ix_used_jtis_expires_at", "expires_at"),
)

# ---- the locker side (migration 0002) -------------------------------------------------------

locker_sessions = Table(
    "locker_sessions",
    metadata,
    # Presence and boot state, shared by every gateway instance (boot gating must not depend
    # on which instance answered the locker's Boot).
    Column("locker_id", Text, ForeignKey("lockers.id"), primary_key=True),
    Column("online", Boolean, nullable=False),
    Column("booted_at", UTCDateTime),
    Column("last_seen_at", UTCDateTime),
    Column("firmware", Text),
    Column("boot_info", JSON),
    Column("updated_at", UTCDateTime, nullable=False),
    # The highest journaled event number (envelope `eventSeq`) processed, moved in the same
    # transaction as the event's effects (migration 0006; SPEC §9 "Event order").
    Column("event_seq", BigInteger, nullable=False, server_default="0"),
    # The grant-verification key-set version the locker reported at Boot or confirmed after
    # SetKeySet; null while it holds none (migration 0006; SPEC §9 "Key sets").
    Column("key_set_version", BigInteger),
)

door_sessions = Table(
    "door_sessions",
    metadata,
    # One unlock the gateway ordered, from the command to the door closing again; the
    # purpose and the item sensor at close decide the parcel's transition.
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("locker_id", Text, nullable=False),
    Column("compartment_code", Text, nullable=False),
    Column("parcel_uid", Text),
    Column("purpose", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("outcome", Text),
    Column("item_sensor", StrEnumType(ItemSensor)),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("deadline", UTCDateTime, nullable=False),
    Column("opened_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Index(
        "ix_door_sessions_locker_id_compartment_code_state",
        "locker_id",
        "compartment_code",
        "state",
    ),
)

access_codes = Table(
    "access_codes",
    metadata,
    # Keypad codes, stored only as a keyed hash, single use, bound to one locker.
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("locker_id", Text, nullable=False),
    Column("parcel_uid", Text, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("code_hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
    UniqueConstraint("locker_id", "code_hash"),
    Index("ix_access_codes_parcel_uid", "parcel_uid"),
)

# ---- bundles (migration 0018) -----------------------------------------------------------------

bundles = Table(
    "bundles",
    metadata,
    # Several parcels of one carrier for one recipient at one locker (gateway/domain/bundles.py).
    # A bundle's keypad code is an `access_codes` row whose `parcel_uid` is the bundle's `uid`.
    Column("uid", Text, primary_key=True),
    Column("carrier_id", Text, ForeignKey("carriers.id"), nullable=False),
    Column("bundle_id", Text, nullable=False),
    Column("locker_id", Text, nullable=False),
    Column("reference", Text),
    Column("created_at", UTCDateTime, nullable=False),
    # The number of the bundle's last webhook event: orders its outbox rows per receiver.
    Column("event_seq", Integer, nullable=False, server_default="0"),
    UniqueConstraint("carrier_id", "bundle_id"),
)

bundle_parcels = Table(
    "bundle_parcels",
    metadata,
    # A parcel belongs to at most one bundle; `position` keeps the booking's order.
    Column("bundle_uid", Text, ForeignKey("bundles.uid"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("parcel_uid", Text, nullable=False, unique=True),
    PrimaryKeyConstraint("bundle_uid", "position"),
)

inbox = Table(
    "inbox",
    metadata,
    # Locker messages already acted on, so a QoS 1 redelivery to any instance acts once.
    Column("src", Text, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("src", "message_id"),
    Index("ix_inbox_received_at", "received_at"),
)

gateway_secrets = Table(
    "gateway_secrets",
    metadata,
    # Network-wide secrets every instance must share (e.g. the PIN hashing key).
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # The KEK that sealed `value` (migration 0012, gateway/tokens/sealing.py); NULL: a value
    # written before 0012, in clear until the next start seals it.
    Column("kek_id", Text),
)

# ---- carrier webhooks and the network signing key (migration 0003) ---------------------------

network_keys = Table(
    "network_keys",
    metadata,
    # The network's own signing keys (webhook signatures now, offline grants later), shared by
    # every instance; `retired_at` is set when a rotation replaces a key.
    Column("kid", Text, primary_key=True),
    Column("alg", Text, nullable=False),
    Column("public_jwk", JSON, nullable=False),
    Column("private_key_pem", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("retired_at", UTCDateTime),
    # Published at once, signs only from here on (migration 0005): lockers that were offline
    # receive a new key before any grant signed by it reaches them.
    Column("activates_at", UTCDateTime, nullable=False),
    # The KEK that sealed `private_key_pem` (migration 0012); NULL: in clear, from before 0012.
    Column("kek_id", Text),
)

network_root_keys = Table(
    "network_root_keys",
    metadata,
    # The network's root key (migration 0012): it signs every SetKeySet, and lockers pin its
    # public half. Separate from the signing keys above; `private_key` is sealed under
    # `kek_id`. `endorsement` is the previous root's signature over this key (NULL for the
    # first); `retired_at` is set when a rotation replaces it. One row is not retired.
    Column("kid", Text, primary_key=True),
    Column("public_jwk", JSON, nullable=False),
    Column("private_key", Text, nullable=False),
    Column("kek_id", Text, nullable=False),
    Column("endorsement", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("retired_at", UTCDateTime),
)

# ---- key rotation and access grants (migration 0005) -----------------------------------------

network_key_set = Table(
    "network_key_set",
    metadata,
    # One row: the version of the published key set, bumped by every rotate/retire so all
    # instances (and lockers) can tell that the set changed.
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

grants = Table(
    "grants",
    metadata,
    # Every access grant issued; the token itself is never stored, only what it binds.
    Column("jti", Text, primary_key=True),
    Column("parcel_uid", Text, nullable=False),
    Column("locker_id", Text, nullable=False),
    Column("compartment_code", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("kid", Text, nullable=False),
    Column("not_before", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("redeemed_at", UTCDateTime),
    Index("ix_grants_parcel_uid", "parcel_uid"),
    # purge() deletes by expiry.
    Index("ix_grants_expires_at", "expires_at"),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("carrier_id", Text, ForeignKey("carriers.id"), nullable=False),
    Column("url", Text, nullable=False),
    # NULL: every event type, including types a later protocol version adds.
    Column("events", JSON),
    Column("description", Text),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("deactivated_at", UTCDateTime),
    Index("ix_webhook_subscriptions_carrier_id_active", "carrier_id", "active"),
)

outbox = Table(
    "outbox",
    metadata,
    # One row per (parcel event, target), written in the transition's own transaction. The
    # target is a webhook subscription or a connector attachment (migration 0007), so there is
    # no foreign key: a row outlives its target's deactivation and says why it went dead.
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", Text, nullable=False),
    Column("target_kind", StrEnumType(TargetKind), nullable=False),
    Column("target_id", Text, nullable=False),
    Column("carrier_id", Text, nullable=False),
    Column("parcel_uid", Text, nullable=False),
    Column("parcel_seq", Integer, nullable=False),
    Column("type", Text, nullable=False),
    # The ConnectorEvent as JSON; rendered for the target only at send time.
    Column("body", JSON, nullable=False),
    Column("state", StrEnumType(DeliveryState), nullable=False),
    Column("attempts", Integer, nullable=False),
    # When pending: the next attempt, or the end of the lease of the attempt in flight.
    Column("next_attempt_at", UTCDateTime),
    Column("last_error", Text),
    Column("last_status", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    UniqueConstraint("target_kind", "target_id", "event_id"),
    Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
    # The ordering rule looks for an earlier pending row of the same parcel and target.
    Index(
        "ix_outbox_target_kind_target_id_parcel_uid_parcel_seq",
        "target_kind",
        "target_id",
        "parcel_uid",
        "parcel_seq",
    ),
    Index("ix_outbox_target_kind_target_id_id", "target_kind", "target_id", "id"),
    Index("ix_outbox_created_at", "created_at"),
)

connector_attachments = Table(
    "connector_attachments",
    metadata,
    # A connector attached to a carrier by the operator (settings file or CLI; migration 0007).
    # Secret values inside `config` and `auth`: a literal is stored sealed (`sealed:<kek-id>:
    # <ciphertext>`, gateway/delivery/attachment_secrets.py); an `env:NAME` / `file:/path`
    # reference is stored as given and resolved when the route is built.
    Column("id", Text, primary_key=True),
    Column("carrier_id", Text, ForeignKey("carriers.id"), nullable=False),
    Column("connector", Text, nullable=False),  # the entry-point name
    Column("config", JSON, nullable=False),
    Column("auth", JSON),
    Column("delivery", JSON),
    # NULL: every event type, including types a later protocol version adds.
    Column("events", JSON),
    Column("active", Boolean, nullable=False),
    Column("disabled_reason", Text),
    Column("source", StrEnumType(AttachmentSource), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_connector_attachments_carrier_id_active", "carrier_id", "active"),
)

# ---- the audit trail and keypad attempt limits (migration 0004) -----------------------------

audit_log = Table(
    "audit_log",
    metadata,
    # Append-only and hash-chained: `hash` covers the row's content and `prev_hash`, so an
    # altered, inserted or deleted row breaks the chain (gateway/service/audit.py verifies).
    # Positions are assigned by the appender under a lock, never by the database, so a gap
    # means a deleted row.
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    # Text, not the enum: verification must still read a row whose action was tampered with.
    Column("action", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("details", JSON, nullable=False),
    Column("prev_hash", Text, nullable=False),
    Column("hash", Text, nullable=False),
)

keypad_attempts = Table(
    "keypad_attempts",
    metadata,
    # Wrong codes per locker keypad, shared by every gateway instance, so a brute force that
    # is spread over instances still meets one limit.
    Column("locker_id", Text, primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_started_at", UTCDateTime),
    Column("last_failure_at", UTCDateTime),
    # Lockouts in a row: the back-off doubles with each, and resets after a quiet period.
    Column("lockouts", Integer, nullable=False),
    Column("locked_until", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    # The daily cap (migration 0011): wrong codes since `day_started_at`, success or not.
    Column("day_failures", Integer, nullable=False, server_default="0"),
    Column("day_started_at", UTCDateTime),
    # Network events (migration 0014): the limit behind the running lockout, and the number
    # of the locker's last `locker.keypad_*` event (orders them in the outbox).
    Column("lock_reason", Text),
    Column("event_seq", Integer, nullable=False, server_default="0"),
)

# ---- locker events that could not be applied (migration 0009) -------------------------------

parked_events = Table(
    "parked_events",
    metadata,
    # A locker event the gateway failed to apply after its retries: kept here, counted and
    # listed (`openlocker events parked`) instead of being dropped. The journal mark and the
    # inbox moved past it when it was parked, so the locker's later events are not held up.
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("locker_id", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("event_seq", BigInteger),
    Column("type", Text, nullable=False),
    # The LockerEvent as JSON (gateway/service/parked_events.py encodes and decodes it).
    Column("event", JSON, nullable=False),
    Column("error", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("parked_at", UTCDateTime, nullable=False),
    # Set by `openlocker events retry`: a gateway's sweep applies the event again.
    Column("retry_requested_at", UTCDateTime),
    Column("last_retry_at", UTCDateTime),
    UniqueConstraint("locker_id", "event_id"),
    Index("ix_parked_events_retry_requested_at", "retry_requested_at"),
)

bus_leases = Table(
    "bus_leases",
    metadata,
    # Who drives a serial/TCP bus that only one process may drive (migration 0010): every
    # instance configures the board adapter, the holder of the unexpired lease runs it.
    Column("bus", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    # The fencing token: raised by every takeover, so a holder that lost the lease (paused,
    # partitioned) can no longer renew it with the token it was given.
    Column("token", BigInteger, nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# ---- operators: people who run the network, not carriers (migration 0013) ------------------

operators = Table(
    "operators",
    metadata,
    Column("id", Text, primary_key=True),  # the login name
    Column("name", Text, nullable=False),
    Column("role", StrEnumType(Role), nullable=False),
    # argon2id, in its PHC string form (parameters and salt included).
    Column("password_hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime),
)

operator_sessions = Table(
    "operator_sessions",
    metadata,
    # SHA-256 of the cookie's random id: a database reader cannot sign in with what it reads.
    Column("id_hash", Text, primary_key=True),
    Column("operator_id", Text, ForeignKey("operators.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    # min(last_seen + idle, created + absolute): one indexed column for the purge.
    Column("expires_at", UTCDateTime, nullable=False),
    Column("client", Text),
    Index("ix_operator_sessions_operator_id", "operator_id"),
    Index("ix_operator_sessions_expires_at", "expires_at"),
)

operator_tokens = Table(
    "operator_tokens",
    metadata,
    Column("id", Text, primary_key=True),  # public, printed by `tokens create`, for revoking
    Column("operator_id", Text, ForeignKey("operators.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("role", StrEnumType(Role), nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),  # SHA-256 of the secret part
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    Index("ix_operator_tokens_operator_id", "operator_id"),
)

login_attempts = Table(
    "login_attempts",
    metadata,
    # "account:<id>" or "address:<ip>": counted in the database so the limit holds across
    # instances behind a load balancer.
    Column("key", Text, primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_started_at", UTCDateTime),
    Column("lockouts", Integer, nullable=False),
    Column("locked_until", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    # Housekeeping purges stale counters in batches, oldest first (migration 0022).
    Index("ix_login_attempts_updated_at", "updated_at"),
)

# Hold-time policies per network, carrier and locker (migration 0016); a NULL field leaves
# the value to the less specific scope (gateway/domain/hold_policy.py).
hold_policies = Table(
    "hold_policies",
    metadata,
    Column("scope", Text, nullable=False),  # network | carrier | locker
    Column("scope_id", Text, nullable=False),
    Column("hold_days", Integer),
    Column("reminder_hours", JSON),
    Column("extension_days", Integer),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", Text, nullable=False),
    PrimaryKeyConstraint("scope", "scope_id"),
)

courier_sessions = Table(
    "courier_sessions",
    metadata,
    # Migration 0019: a courier's round at one locker; one code (a keyed hash, cleared when
    # the session closes) opens the doors of the carrier's deposits and collections there.
    Column("id", Text, primary_key=True),
    Column("carrier_id", Text, nullable=False),
    Column("locker_id", Text, nullable=False),
    Column("courier_ref", Text),
    Column("code_hash", Text),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),
    UniqueConstraint("locker_id", "code_hash"),
    Index("ix_courier_sessions_carrier_id_locker_id", "carrier_id", "locker_id"),
)

courier_session_doors = Table(
    "courier_session_doors",
    metadata,
    # Each parcel whose door a session's code opened: once per parcel and session.
    Column("session_id", Text, ForeignKey("courier_sessions.id"), nullable=False),
    Column("parcel_uid", Text, nullable=False),
    Column("task", Text, nullable=False),
    Column("compartment_code", Text, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("session_id", "parcel_uid"),
)

returns = Table(
    "returns",
    metadata,
    # Migration 0020: a return announced without a label. Its parcel (first mile) carries the
    # return id as parcel id until the label is bound at the locker or by the courier.
    Column("id", Text, primary_key=True),
    Column("carrier_id", Text, nullable=False),
    Column("locker_id", Text, nullable=False),
    Column("parcel_uid", Text, nullable=False, unique=True),
    Column("reference", Text, nullable=False),  # the shop's return (RMA) number
    Column("label", Text),
    Column("label_source", Text),  # locker | courier
    Column("label_bound_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("carrier_id", "reference"),
)
