"""Documents published retained on the installation's MQTT broker (the upward summary on
`hz/v1/{org}/summary`): a subscriber that comes later, or a broker bridge to the tier above, still
gets the newest one. One short connection per push; a broker that cannot be reached is logged and
the next push tries again."""

from __future__ import annotations

import json
import logging

from hazwatch.ingest.mqtt import Broker

log = logging.getLogger(__name__)


def publish_retained(url: str, client_id: str, docs: list[tuple[str, dict]]) -> None:
    """Publish each (topic, document) at QoS 1, retained, and wait until the broker has them."""
    import paho.mqtt.client as mqtt

    b = Broker.parse(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if b.username:
        client.username_pw_set(b.username, b.password)
    if b.tls:
        client.tls_set()
    try:
        client.connect(b.host, b.port, keepalive=30)
        client.loop_start()
        infos = [client.publish(topic, json.dumps(doc, ensure_ascii=False), qos=1, retain=True)
                 for topic, doc in docs]
        for info in infos:
            info.wait_for_publish(10)
    except OSError as e:
        log.warning("MQTT broker %s:%s unreachable (%s); the next push tries again", b.host, b.port, e)
    finally:
        client.disconnect()
        client.loop_stop()
