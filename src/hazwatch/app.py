"""Composition root: every service built from settings, in one screen.

    settings ─► relational engine (SQLite | PostgreSQL) ─► migrations ─► catalog, auth, alarms
             └► telemetry store (DuckDB | PostgreSQL) ─► pipeline (normalize ► store ► limits ► alarms ► bus)
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import uvicorn
from fastapi import FastAPI

from hazwatch.access import Access
from hazwatch.alarms.queries import AlarmQueries
from hazwatch.api import create_api
from hazwatch.api.app import ROLE_ROUTERS
from hazwatch.auth import AuditLog, AuthService, DeviceCredentials, OrgTrees, Principal, UserDirectory
from hazwatch.auth.signing import BatchSignatures
from hazwatch.auth.throttle import LoginThrottle
from hazwatch.bus import InProcessBus
from hazwatch.catalog import CatalogRepository
from hazwatch.db import make_engine
from hazwatch.domain import SystemClock
from hazwatch.domain.events import READINGS_STORED
from hazwatch.domain.netpolicy import OutboundPolicy, parse_networks
from hazwatch.incidents.channels import SmtpChannel, WebhookChannel
from hazwatch.incidents.desk import ClockPolicy, IncidentDesk
from hazwatch.incidents.notify import Notifier, NotifyPolicy
from hazwatch.ingest.modbus import ModbusAdapter, ModbusConfig
from hazwatch.ingest.mqtt import MqttAdapter
from hazwatch.ingest.opcua import OpcUaAdapter
from hazwatch.ingest.retained import publish_retained
from hazwatch.ingest.writes import ProtocolWriter
from hazwatch.keyfile import load_key
from hazwatch.ledger import barrier
from hazwatch.ledger.anchor import FileAnchor
from hazwatch.ledger.entries import SEALED
from hazwatch.ledger.keys import load_signer, parse_witness
from hazwatch.ledger.log import Ledger, SealPolicy
from hazwatch.migrations.runner import upgrade
from hazwatch.packs.service import ShippedPacks
from hazwatch.pipeline import Pipeline
from hazwatch.risk.assess import Bands
from hazwatch.risk.feed import SUMMARY_PUBLISHED, Feed, SummaryPublished, topic
from hazwatch.risk.hidden import HiddenDangerRegister
from hazwatch.risk.overview import ColourRule
from hazwatch.risk.periodic import Reports, Schedule
from hazwatch.risk.points import RiskPoints
from hazwatch.services import Services, hygiene_policy
from hazwatch.settings import Settings
from hazwatch.store import open_store

log = logging.getLogger("hazwatch")


def open_database(settings: Settings):
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.relational_url)
    upgrade(engine)
    barrier.install(engine, frozenset(SEALED))  # every node that writes a sealed table, ledger or not
    return engine


def build(settings: Settings) -> Services:
    """Every service of this process's role: `all` (the embedded default) runs everything; an ingest
    node validates and publishes to JetStream; a worker owns partitions; an API node serves the API
    and console over them (hazwatch.scale, docs/deploy.md)."""
    engine = open_database(settings)
    store = open_store(settings.store_url, settings.duckdb_memory_limit)
    catalog = CatalogRepository(engine)
    role, clock = settings.role, SystemClock()
    node = settings.node_id or f"{socket.gethostname()}-{os.getpid()}"
    pipeline, bus, worker = build_pipeline(settings, engine, store, catalog, clock, node)
    auth, users, devices = build_auth(engine, settings, lambda: pipeline.index.revision)
    device_key = devices.server_key
    notifier, desk = build_disposal(engine, settings, pipeline, users.holders, store)
    risk_points = RiskPoints(engine, pipeline.clock, Bands(**settings.risk_bands))
    services = Services(settings=settings, engine=engine, store=store, catalog=catalog, pipeline=pipeline,
                        auth=auth, alarm_queries=AlarmQueries(engine), bus=bus, audit=auth.audit, orgs=users.orgs,
                        users=users, device_credentials=devices, signatures=BatchSignatures(engine, device_key),
                        incidents=desk, notifier=notifier, risk_points=risk_points,
                        packs=ShippedPacks(catalog, store, risk_points),
                        hidden_dangers=build_hidden_dangers(engine, pipeline, notifier, users.holders, desk),
                        colour_rule=ColourRule.model_validate(settings.risk_colour_rule), worker=worker,
                        node=node)
    if role == "worker":
        return services  # no edges, no disposal: those run where the readings come in and the users are
    if role in ("all", "ingest"):  # the protocol adapters run where readings come in
        build_adapters(settings, services)
    once = role == "all" or (role == "api" and settings.singletons)  # may run the installation's singletons
    # the ledger learns of late readings from this process's stored batches: only where it stores them
    services.ledger = build_ledger(settings, engine, store, pipeline) if role == "all" else None
    build_read_models(settings, services)
    desk.also_tick += [services.reports.tick, services.feed.tick]
    if once:
        build_tiers(settings, services)
    return services


def build_read_models(settings: Settings, services: Services) -> None:
    """The periodic reports and the upward feed, each reading one org at a time through that org's
    own scope (an `Access` as its administrator), pushing the summaries to the bus and the broker."""
    def view(org_id: int) -> Access:
        return Access(services, Principal(None, "report", "admin", org_id))

    now_us = services.pipeline.clock.now_us
    services.reports = Reports(services.engine, services.orgs, view, now_us, Schedule(
        settings.data_dir / "reports" / "periodic", settings.report_timezone, list(settings.report_schedule),
        list(settings.report_scope_kinds), settings.report_language), services.users.installed_at)
    sinks = [lambda docs: [services.bus.publish(SUMMARY_PUBLISHED, SummaryPublished(code, doc))
                           for code, doc in docs]]
    if settings.mqtt_url:
        url, client_id = settings.mqtt_url, f"{settings.mqtt_client_id}-feed"
        sinks.append(lambda docs: publish_retained(url, client_id, [(topic(code), doc) for code, doc in docs]))
    services.feed = Feed(services.orgs, view, now_us, settings.feed_interval_s, list(settings.feed_scope_kinds),
                         sinks)


def build_pipeline(settings: Settings, engine, store, catalog: CatalogRepository, clock, node: str):
    """What stands behind the edges in this role: the pipeline (all), an ingest or API node that
    publishes to JetStream, or a worker's scoped pipeline with its leases; and the bus."""
    role, worker = settings.role, None
    if role == "all":
        bus = InProcessBus()
    else:
        from hazwatch.bus.jetstream import JetStreamBus

        bus = JetStreamBus(settings.nats_url, local=frozenset({READINGS_STORED}), replicas=settings.stream_replicas)
    if role in ("ingest", "api"):
        from hazwatch.scale.api import READINGS_LATEST, ApiNode
        from hazwatch.scale.ingest import IngestNode

        pipeline = (IngestNode if role == "ingest" else ApiNode)(
            engine, catalog, clock, bus, settings.nats_url, node, settings.partitions, settings.stream_replicas,
            settings.future_tolerance_s, settings.tick_interval_s)
        if role == "api":  # the workers' live values, for the sensor list and this node's WebSocket clients
            def latest(_subject: str, event) -> None:
                pipeline.saw(event.batch)
                bus.publish(READINGS_STORED, event)

            bus.subscribe(READINGS_LATEST, latest)
        return pipeline, bus, None
    leases = None
    if role == "worker":
        from hazwatch.scale.leases import PartitionLeases

        leases = PartitionLeases(engine, clock, node, settings.partitions, settings.lease_ttl_s,
                                 settings.stream_replicas)
    pipeline = Pipeline(engine, store, catalog, bus, clock,
                        future_tolerance_s=settings.future_tolerance_s,
                        tick_interval_s=settings.tick_interval_s,
                        checkpoint_interval_s=settings.checkpoint_interval_s,
                        hygiene=hygiene_policy(settings),
                        ownership=leases)
    if leases is not None:
        from hazwatch.scale.worker import WorkerNode

        # A new owner makes the partition's consumer afresh, so a dead worker's deliveries come again
        # at once; the wait only has to outlast a busy worker's batch (a redelivery is work twice).
        worker = WorkerNode(pipeline, leases, settings.nats_url, settings.stream_replicas,
                            ack_wait_s=max(30.0, 10 * settings.lease_ttl_s))
    return pipeline, bus, worker


def build_adapters(settings: Settings, services: Services) -> None:
    """The protocol adapters, feeding the pipeline (or an ingest node) as the HTTP edge does."""
    pipeline = services.pipeline
    # OPC UA: idle until the catalog names opc.tcp sources; follows catalog changes by itself.
    services.adapters.append(OpcUaAdapter(pipeline.ingest, lambda: pipeline.index))
    if settings.modbus_config:
        services.adapters.append(ModbusAdapter(ModbusConfig.load(settings.modbus_config), pipeline.ingest,
                                               lambda: pipeline.index))
    if settings.mqtt_url:
        services.adapters.append(MqttAdapter(
            settings.mqtt_url, settings.data_dir / "mqtt-spool", pipeline.ingest, lambda: pipeline.index,
            client_id=settings.mqtt_client_id, max_readings=settings.max_batch_readings,
            on_status=pipeline.device_status, spool_max_bytes=settings.mqtt_spool_max_bytes,
            signatures=services.signatures, require_signed=settings.require_signed_batches,
            share_group=settings.mqtt_share_group))


def build_tiers(settings: Settings, services: Services) -> None:
    """The link to the tier above (uplink) and from the tiers below (receiver), where configured."""
    if settings.uplink_nats_url:
        from hazwatch.scale.tiers import Uplink

        if not settings.uplink_name or not settings.uplink_name.replace("-", "").replace("_", "").isalnum():
            raise ValueError("HAZWATCH_UPLINK_NAME (letters, digits, - and _) is required with "
                             "HAZWATCH_UPLINK_NATS_URL")
        uplink = Uplink(services.engine, lambda: services.index, settings.uplink_nats_url, settings.uplink_name,
                        services.store.window, settings.uplink_aggregate_s)
        services.bus.subscribe(SUMMARY_PUBLISHED, lambda _s, ev: uplink.summary(ev.org, ev.summary))
        services.background.append(uplink)
    if settings.tier_nats_url:
        from hazwatch.scale.tiers import TierReceiver

        services.background.append(TierReceiver(services.engine, services.pipeline.clock, settings.tier_nats_url))


def build_ledger(settings: Settings, engine, store, pipeline: Pipeline | None) -> Ledger | None:
    """The transparency log over this installation's records and readings (None when turned off)."""
    if not settings.ledger_enabled:
        return None
    directory = settings.ledger_path
    signer = load_signer(settings.ledger_key or directory / "log.key",
                         create_as=None if settings.ledger_key else settings.ledger_origin)
    ledger = Ledger(engine, directory, signer, pipeline.clock if pipeline else SystemClock(),
                    [parse_witness(w) for w in settings.ledger_witnesses], settings.ledger_quorum,
                    window=store.window, seal=SealPolicy(settings.ledger_window_s, settings.ledger_grace_s),
                    anchors=[FileAnchor(settings.ledger_anchor_file)] if settings.ledger_anchor_file else [],
                    interval_s=settings.ledger_interval_s)
    if pipeline is not None:
        pipeline.bus.subscribe(READINGS_STORED, lambda _s, ev: ledger.readings_stored(ev.batch))
    return ledger


def build_disposal(engine, settings: Settings, pipeline: Pipeline, recipients, store) -> tuple[Notifier, IncidentDesk]:
    """Notification channels as configured, the notifier, and the incident desk over the alarms."""
    channels: dict = {}
    outbound = OutboundPolicy(parse_networks(settings.outbound_allow))
    if settings.webhook_secret is not None:
        channels["webhook"] = WebhookChannel(settings.webhook_secret.get_secret_value().encode(), policy=outbound)
    if settings.smtp_host:
        channels["email"] = SmtpChannel(settings.smtp_host, settings.smtp_port, settings.smtp_sender,
                                        settings.smtp_user, settings.smtp_password.get_secret_value()
                                        if settings.smtp_password else None, settings.smtp_starttls)
    clock = pipeline.clock
    notifier = Notifier(engine, clock, channels, NotifyPolicy(settings.notify_window_s, settings.notify_max_per_window,
                                                              settings.notify_retries, settings.notify_backoff_s,
                                                              settings.notify_timezone), outbound)

    def series(sensor_id: int, start: int, end: int) -> tuple[list[int], list[float]]:
        frame = store.series(sensor_id, start, end, None, 20_000)
        return frame.columns["ts"].tolist(), frame.columns["value"].tolist()

    desk = IncidentDesk(engine, clock, lambda: pipeline.index, notifier, recipients,
                        ProtocolWriter(settings.mqtt_url), settings.data_dir / "reports", series,
                        ClockPolicy(tuple(settings.report_clock_levels), settings.report_first_min,
                                    settings.report_next_min, settings.report_warn_min), pipeline.bus)
    return notifier, desk


def build_hidden_dangers(engine, pipeline: Pipeline, notifier: Notifier, holders, desk: IncidentDesk
                         ) -> HiddenDangerRegister:
    """The register, warning each enterprise's safety managers of overdue hidden dangers; its overdue
    check runs on the incident desk's tick."""

    def warn(conn, org_id: int, subject: str, body: str, priority: int) -> None:
        notifier.enqueue(conn, holders("enterprise_admin", org_id), subject, body, priority, None,
                         pipeline.clock.now_us())

    register = HiddenDangerRegister(engine, pipeline.clock, warn)
    desk.also_tick.append(register.tick)
    return register


def build_auth(engine, settings: Settings, revision: Callable[[], int]
               ) -> tuple[AuthService, UserDirectory, DeviceCredentials]:
    """The security services alone, for the CLI's user and broker commands (no pipeline needed).
    `revision` tells the org-tree cache when the catalog moved (-1: reload every time)."""
    audit = AuditLog(engine)
    auth = AuthService(engine, audit, LoginThrottle(settings.login_free_failures, settings.login_lock_s),
                       access_ttl_s=settings.access_token_ttl_s, refresh_ttl_s=settings.refresh_token_ttl_s)
    orgs = OrgTrees(engine, revision)
    device_key = load_key(settings.device_key_file or settings.data_dir / "device-signing.key", create=True)
    return auth, UserDirectory(engine, audit, auth, orgs), DeviceCredentials(engine, audit, auth, device_key)


def make_api(services: Services, background: Callable[[Services], Awaitable[None]] | None = None) -> FastAPI:
    """The API with a lifespan that runs the writer thread (and an optional background task, such as
    the demo's simulator) for as long as the server runs."""
    api = create_api(services, routers=ROLE_ROUTERS.get(services.settings.role))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runner = services.worker or services.pipeline
        runner.start()
        st = services.settings
        election = None
        if st.role == "all":
            start_singletons(services)
        elif st.role == "api" and st.singletons:  # one API node at a time runs them, by lease
            from hazwatch.scale.election import Election

            election = services.election = Election(st.nats_url, services.node, st.lease_ttl_s, st.stream_replicas,
                                                    lambda: start_singletons(services),
                                                    lambda: stop_singletons(services))
            election.start()
        if services.ledger:
            services.ledger.start()
        for adapter in services.adapters:
            await adapter.start()
        task = asyncio.create_task(background(services)) if background else None
        try:
            yield
        finally:
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for adapter in services.adapters:
                await adapter.stop()
            if election is not None:
                election.stop()  # stops the singletons it started, and hands the lease over
            elif st.role == "all":
                stop_singletons(services)
            runner.stop()
            if services.ledger:
                services.ledger.stop()
            services.store.close()
            if hasattr(services.bus, "close"):
                services.bus.close()

    api.router.lifespan_context = lifespan
    return api


def start_singletons(services: Services) -> None:
    """What an installation runs once: the incident desk, notifications, and the services on the
    desk's tick (reports, the feed, hidden-danger deadlines) and beside it (the tier links)."""
    services.incidents.start(services.settings.incident_tick_s)
    services.notifier.start()
    for service in services.background:
        service.start()


def stop_singletons(services: Services) -> None:
    for service in services.background:
        service.stop()
    services.notifier.stop()
    services.incidents.stop()


def tune_gc() -> None:
    """The server's heap is mostly long-lived (modules, the catalog index); the hot path allocates
    short-lived lists by the thousand (one per small MQTT message). Freezing the long-lived heap and
    collecting the young generation less often halves the cost of decoding small messages."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


def serve(services: Services, host: str, port: int,
          background: Callable[[Services], Awaitable[None]] | None = None,
          duration_s: float | None = None) -> None:
    """Run the server until interrupted, or for `duration_s` seconds."""
    server: uvicorn.Server

    async def run_background(s: Services) -> None:
        tasks = [asyncio.create_task(background(s))] if background else []
        try:
            if duration_s is not None:
                await asyncio.sleep(duration_s)
                server.should_exit = True
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()

    api = make_api(services, run_background if (background or duration_s is not None) else None)
    tune_gc()
    tls = services.settings
    if (tls.tls_certfile is None) != (tls.tls_keyfile is None):
        raise ValueError("HAZWATCH_TLS_CERTFILE and HAZWATCH_TLS_KEYFILE go together")
    server = uvicorn.Server(uvicorn.Config(api, host=host, port=port, log_level="warning", access_log=False,
                                           http="httptools", loop="uvloop", ws="websockets-sansio",
                                           # compressing each message per socket cost more CPU than it saved
                                           ws_per_message_deflate=False,
                                           ssl_certfile=tls.tls_certfile, ssl_keyfile=tls.tls_keyfile,
                                           # a forwarded address is believed only from a proxy named for it
                                           proxy_headers=tls.forwarded_allow_ips is not None,
                                           forwarded_allow_ips=tls.forwarded_allow_ips))
    server.run()
