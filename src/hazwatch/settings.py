"""All configuration in one place, read from HAZWATCH_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from hazwatch.domain.netpolicy import parse_networks


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HAZWATCH_", extra="ignore")

    data_dir: Path = Field(Path(".hazwatch/data"), description="Embedded mode keeps its files here")
    database_url: str | None = Field(
        None,
        description="One setting picks the backend: unset = embedded (SQLite + DuckDB in data_dir); "
        "postgresql://... = PostgreSQL for relational state and telemetry",
    )
    telemetry_url: str | None = Field(None, description="Override the telemetry store only (duckdb:///file or postgresql://...)")
    duckdb_memory_limit: str = Field("1GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
                                     description="The most memory the embedded telemetry store (DuckDB) caches; "
                                                 "what it wrote stays on disk, so the server's memory stays flat "
                                                 "however long it runs")
    admin_token: SecretStr | None = Field(None, description="API token of the first admin, for automation")
    host: str = "127.0.0.1"
    port: int = 8000
    max_batch_readings: int = Field(100_000, description="A telemetry request with more readings answers 413")
    max_body_bytes: int = Field(64 * 1024 * 1024, description="A telemetry body larger than this answers 413")
    future_tolerance_s: float = Field(300.0, description="Readings further than this in the future are rejected")
    max_shelve_minutes: int = Field(24 * 60, description="Longest shelving an operator may ask for")
    checkpoint_interval_s: float = Field(2.0, description="How often per-sensor alarm state is checkpointed")
    tick_interval_s: float = Field(1.0, description="How often timers (delays, shelving expiry) are checked")
    # -- alarm-flood control (ISA-18.2 / EEMUA 191) ------------------------------------------------------
    flood_alarms: int = Field(10, ge=1, description="More alarms than this in flood_window_s in one enterprise "
                                                    "is a flood")
    flood_window_s: float = Field(600.0, gt=0, description="The window floods are counted in")
    chatter_activations: int = Field(3, ge=2, description="This many raises of one alarm in chatter_window_s is "
                                                          "chattering")
    chatter_window_s: float = Field(60.0, gt=0, description="The window chattering is counted in")
    chatter_suppress_s: float = Field(0.0, ge=0, description="Suppress a chattering alarm for this long (0: only "
                                                            "mark it)")
    first_out_window_s: float = Field(60.0, ge=0, description="An alarm raised this soon after an active alarm "
                                                             "of the same hazard source (or device) is grouped "
                                                             "under that first-out alarm")
    # -- disposal: incidents, notifications, reporting clocks ----------------------------------------------
    incident_tick_s: float = Field(1.0, gt=0, description="How often incident triggers, escalation deadlines "
                                   "and reporting clocks are checked")
    report_clock_levels: list[str] = Field(["county", "city", "province", "national"], min_length=1,
                                           description="The regulators an accident report climbs through")
    report_first_min: float = Field(60.0, gt=0, description="Minutes to report to the first level")
    report_next_min: float = Field(120.0, gt=0, description="Minutes each level has to pass the report up")
    report_warn_min: float = Field(15.0, ge=0, description="Warn this many minutes before a report is due")
    notify_window_s: float = Field(60.0, gt=0, description="Rate-limit window per recipient and channel")
    notify_max_per_window: int = Field(3, ge=1, description="Messages per recipient and channel per window; "
                                       "what waits beyond that goes out as one summary")
    notify_retries: int = Field(5, ge=1, description="Attempts to deliver a message before it is failed")
    notify_backoff_s: float = Field(5.0, gt=0, description="First retry delay; it doubles with each attempt")
    notify_timezone: str = Field("Asia/Shanghai", description="The time zone of users' notification hours")
    webhook_secret: SecretStr | None = Field(None, description="Key of the HMAC-SHA256 signature on webhook "
                                             "bodies (X-Hazwatch-Signature); unset = webhooks off")
    device_key_file: Path | None = Field(None, description="The key that wraps devices' batch-signing keys in the "
                                         "database (default data_dir/device-signing.key, made on first start); "
                                         "every node that checks signed batches needs the same file")
    forwarded_allow_ips: str | None = Field(None, description="Reverse proxies (comma-separated addresses) whose "
                                            "X-Forwarded-For gives the client address; unset = the connection's own "
                                            "address is the client's (log-in throttling and the audit log rely on it)")
    stream_max_per_principal: int = Field(20, ge=1, le=10_000, description="Live-stream WebSockets one user, "
                                          "key or device may hold open at once; one more is closed (4429)")
    stream_values_interval_s: float = Field(0.5, gt=0, le=10, description="How often a live stream sends the "
                                            "newest value of each sensor that changed (alarm changes go at once)")
    stream_recheck_s: float = Field(2.0, gt=0, le=3, description="How often a live stream checks its credential "
                                    "again (one read per token, shared by its sockets): a revoked key or a "
                                    "disabled user is cut off within 1.5 times this, at most 4.5 s")
    outbound_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Address blocks (CIDR, comma-separated) that webhooks may call although "
        "they are loopback, private or link-local: an intranet receiver admitted on purpose. Everything else "
        "outside global unicast is refused, when a URL is set and when it is called")
    smtp_host: str | None = Field(None, description="SMTP server for e-mail notifications; unset = e-mail off")
    smtp_port: int = 25
    smtp_sender: str = Field("hazwatch@localhost", description="From address of notification e-mail")
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    # -- evaluation: risk colours ---------------------------------------------------------------------------
    risk_colour_rule: dict = Field(default_factory=dict, description="How an enterprise's colour is derived "
                                   "(JSON of risk.overview.ColourRule; unset keys keep their defaults)")
    risk_bands: dict = Field(default_factory=dict, description="LEC and matrix colour bands (JSON of "
                             "risk.assess.Bands: lec_red, lec_orange, lec_yellow, matrix_blue, matrix_yellow, "
                             "matrix_orange; unset keys keep SAFETY.md's)")
    report_timezone: str = Field("Asia/Shanghai", description="Where periodic reports' days, weeks and months "
                                 "begin")
    report_schedule: list[Literal["daily", "weekly", "monthly"]] = Field(
        ["daily", "weekly", "monthly"], description="Periodic reports written by themselves once each period ends "
        "(JSON list; [] turns the schedule off)")
    report_scope_kinds: list[Literal["region", "park", "enterprise"]] = Field(
        ["region", "park", "enterprise"], description="Which orgs get scheduled reports")
    report_language: Literal["zh", "en"] = Field("zh", description="Language of scheduled reports")
    feed_interval_s: float = Field(300.0, ge=0, description="How often each org's summary goes up to the next "
                                   "tier (bus, and MQTT when configured); 0 turns the push off")
    feed_scope_kinds: list[Literal["region", "park", "enterprise"]] = Field(
        ["park", "enterprise"], description="Which orgs push a summary upward")
    # -- ledger: the tamper-evident log -------------------------------------------------------------
    ledger_enabled: bool = Field(True, description="Seal alarm, incident, audit and catalog records and "
                                 "telemetry digests in the transparency log")
    ledger_dir: Path | None = Field(None, description="Where the log's tiles and checkpoint live (default: "
                                    "data_dir/ledger); served under /ledger/")
    ledger_key: Path | None = Field(None, description="The log's signing key (PRIVATE+KEY+<origin>+...); "
                                    "default: made on first start in ledger_dir/log.key with ledger_origin")
    ledger_origin: str = Field("hazwatch.local/ledger", description="The log's name: checkpoint origin line and "
                               "key name of a newly made key (a schema-less URL)")
    ledger_witnesses: list[str] = Field(default_factory=list, description="Witnesses that cosign checkpoints "
                                        "(JSON list of \"<url> <verifier key>\")")
    ledger_quorum: int | None = Field(None, ge=0, description="Cosignatures a checkpoint needs to be published "
                                      "(default: every configured witness)")
    ledger_interval_s: float = Field(2.0, gt=0, description="How often new entries are integrated and a "
                                     "checkpoint signed")
    ledger_window_s: int = Field(60, ge=1, description="Readings are sealed per sensor and window of this length")
    ledger_grace_s: float = Field(30.0, ge=0, description="A telemetry window is sealed this long after it ends")
    ledger_anchor_file: Path | None = Field(None, description="Append each published checkpoint to this JSON "
                                            "Lines file for a chain client to anchor")
    # -- security ------------------------------------------------------------------------------------
    access_token_ttl_s: int = Field(900, ge=30, description="Lifetime of a login's access token")
    refresh_token_ttl_s: int = Field(7 * 86400, ge=60, description="Lifetime of a login's refresh token")
    login_free_failures: int = Field(5, ge=1, description="Failed logins in a row before back-off starts")
    login_lock_s: float = Field(30.0, ge=0, description="First back-off after repeated failed logins; "
                                "it doubles with each further failure, up to 15 minutes")
    rate_limit_rps: float = Field(2000.0, ge=0, description="Requests per second per credential (or per client "
                                  "address when unauthenticated); 0 turns the limit off")
    rate_limit_burst: int = Field(4000, ge=1, description="Requests a credential may send at once before "
                                  "the rate limit applies")
    login_rate_limit_rps: float = Field(5.0, ge=0, description="Login attempts per second per client address "
                                        "(each costs a deliberately slow password hash); 0 turns it off")
    login_rate_limit_burst: int = Field(20, ge=1, description="Login attempts a client address may make at once")
    max_request_bytes: int = Field(4 * 1024 * 1024, description="Largest body of any request other than "
                                   "telemetry and catalog uploads (413 above it)")
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed to call the API from "
                                    "a browser (JSON list); empty = CORS closed")
    tls_certfile: Path | None = Field(None, description="Serve HTTPS with this certificate (PEM)")
    tls_keyfile: Path | None = Field(None, description="Private key for tls_certfile (PEM)")
    mqtt_url: str | None = Field(None, description="mqtt://user:password@host:port (or mqtts://) of the broker "
                                 "to take telemetry from; unset = no MQTT ingest")
    require_signed_batches: bool = Field(False, description="Device credentials must sign their batches "
                                         "(X-Hazwatch-Sequence, X-Hazwatch-Signature); unsigned ones answer 401")
    modbus_config: Path | None = Field(None, description="Register maps of Modbus TCP devices the server polls "
                                       "itself (YAML: devices with host, port, unit, interval_s, points)")
    mqtt_client_id: str = Field("hazwatch-ingest", description="MQTT client id: the broker keeps this persistent "
                                "session's messages while the server is down")
    mqtt_share_group: str | None = Field(None, description="Subscribe as a member of this MQTT shared-subscription "
                                         "group ($share/<group>/...): with several ingest nodes on one broker, each "
                                         "message goes to one of them")
    mqtt_spool_max_bytes: int = Field(8 << 30, description="Largest backlog the MQTT receiver keeps on disk "
                                      "before it stops acknowledging (the broker then holds the rest)")
    # -- scale-out (hazwatch serve --role ingest|worker|api) -------------------------------------------
    role: Literal["all", "ingest", "worker", "api"] = Field(
        "all", description="What this process does: all (the embedded default), ingest (accept and validate "
        "readings, publish them to NATS JetStream), worker (own partitions: store, evaluate, raise alarms), "
        "api (the REST API and console; alarm commands go to the worker that owns the alarm)")
    singletons: bool = Field(True, description="An api node stands for election as the one node that runs what "
                             "an installation runs once (incidents, notifications, reports, the feed, the tier "
                             "links); false: never")
    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server (or cluster, comma-separated) of "
                          "the scale-out mode")
    partitions: int = Field(16, ge=1, le=4096, description="Telemetry partitions (subjects hz.tel.<n>); fixed "
                            "for the life of an installation")
    stream_replicas: int = Field(1, ge=1, le=5, description="JetStream replicas of the telemetry stream and "
                                 "the lease bucket (3 on a three-node cluster)")
    lease_ttl_s: float = Field(6.0, gt=0.5, description="A worker's partition lease lapses this long after its "
                               "last renewal; another worker then takes the partition over")
    node_id: str | None = Field(None, description="This node's name in leases and metrics (default: host-pid)")
    # -- tiers (park ▸ regulator) ---------------------------------------------------------------------
    uplink_nats_url: str | None = Field(None, description="A park's (or enterprise's) own NATS server, a leaf "
                                        "node of the regulator's: alarms, summaries and ledger checkpoints go "
                                        "up through it (stream HZ_UP); unset = nothing goes up this way")
    uplink_name: str | None = Field(None, description="This deployment's name at the tier above (its org code, "
                                    "a NATS subject token); required with uplink_nats_url")
    uplink_aggregate_s: float = Field(300.0, ge=1, description="Each sensor's min, avg, max, last and count "
                                      "over windows of this length go up (not the readings)")
    tier_nats_url: str | None = Field(None, description="A regulator's NATS server: the tier events the parks "
                                      "send (streams HZ_TIER_<park>, linked with `hazwatch tier link`) are received "
                                      "into this deployment")

    @property
    def relational_url(self) -> str:
        if self.database_url:
            return _sqlalchemy_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'hazwatch.db').resolve()}"

    @field_validator("outbound_allow", mode="before")
    @classmethod
    def _blocks(cls, v: object) -> object:
        """`10.20.0.0/16, fd00::/8` or a JSON list; a block that does not parse stops the start."""
        if isinstance(v, str):
            v = [p for p in v.replace(",", " ").replace("[", " ").replace("]", " ").replace('"', " ").split() if p]
        if isinstance(v, list):
            parse_networks(v)
        return v

    @property
    def ledger_path(self) -> Path:
        return self.ledger_dir or self.data_dir / "ledger"

    @property
    def store_url(self) -> str:
        if self.telemetry_url:
            return self.telemetry_url
        if self.database_url:
            return self.database_url
        return f"duckdb:///{(self.data_dir / 'telemetry.duckdb').resolve()}"


def _sqlalchemy_url(url: str) -> str:
    """Accept a plain libpq URL and choose the psycopg 3 driver for it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
