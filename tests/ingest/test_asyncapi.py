"""docs/asyncapi.yaml documents the topics the adapter subscribes to and the payloads it takes."""

from pathlib import Path

import jsonschema
import yaml

from hazwatch.api.routers.telemetry import _BODY
from hazwatch.ingest import mqtt

DOC = yaml.safe_load((Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml").read_text())


def test_topics_are_the_adapters():
    assert DOC["asyncapi"].startswith("3.")
    sent = {op["channel"]["$ref"].rsplit("/", 1)[1] for op in DOC["operations"].values() if op["action"] == "send"}
    addresses = {DOC["channels"][c]["address"] for c in sent}
    assert addresses == {"hz/v1/{enterprise}/{device}/telemetry", "hz/v1/{enterprise}/{device}/status"}
    subscribed = {mqtt.TELEMETRY, mqtt.STATUS}
    assert {a.replace("{enterprise}", "+").replace("{device}", "+") for a in addresses} == subscribed


def test_readings_payload_is_the_http_body_and_examples_hold():
    msg = DOC["components"]["messages"]["readings"]
    assert msg["payload"] == _BODY
    for ex in msg["examples"]:
        jsonschema.validate(ex["payload"], msg["payload"])
    status = DOC["components"]["messages"]["status"]
    for ex in status["examples"]:
        jsonschema.validate(ex["payload"], status["payload"])


def test_interlock_commands_are_what_the_writer_publishes():
    import json

    from hazwatch.ingest.writes import command_payload

    msg = DOC["components"]["messages"]["command"]
    jsonschema.validate(json.loads(command_payload(0.0)), msg["payload"])
    for ex in msg["examples"]:
        jsonschema.validate(ex["payload"], msg["payload"])


def test_the_summary_feed_is_the_api_summary():
    from hazwatch.api.routers.risk import Summary
    from hazwatch.risk.feed import topic

    schema = Summary.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs")
    assert DOC["components"]["messages"]["summary"]["payload"] == schema
    assert all(DOC["components"]["schemas"][k] == v for k, v in defs.items())
    assert DOC["channels"]["summary"]["address"] == topic("{org}")
