"""Read every MQTT packet the socket holds per wake-up, and hand on all that were read.

paho's `loop_read` reads as many packets per call as the client has QoS 1/2 messages of its
own in flight (at least one), and aiomqtt calls it once per readable event of the socket. A
gateway with few publishes of its own outstanding thus read ONE packet per event-loop
iteration, and every iteration also runs each ready task: in a boot storm (hundreds of locker
lanes ready at once) the broker's messages waited in the socket for seconds, every Boot
arrived past its `exp`, and none was accepted (bench/boot_storm.py). Reading until the
socket is empty keeps the intake at the broker's pace; the cap keeps one flooded socket from
holding the loop for long.

The same on the other side of aiomqtt's queue: its message iterator creates a task and waits
on it for every message (two loop turns each), so what was read waited as long again; the
receive loop takes the rest of the queue at once (`queued_messages`).
"""

from __future__ import annotations

from collections.abc import Iterator

import aiomqtt
from paho.mqtt.enums import MQTTErrorCode

# Packets read per wake-up at most (~1-3 ms of paho's parsing and our classifying); the rest
# waits for the loop's next turn.
READ_BURST = 256


def read_in_bursts(client: aiomqtt.Client) -> None:
    """Make `client`'s paho loop read up to READ_BURST packets per readable event."""
    paho = client._client

    def loop_read(max_packets: int = 1) -> MQTTErrorCode:
        # paho's own loop_read (max_packets is ignored there too), without tying the count
        # to our own messages in flight.
        for _ in range(READ_BURST):
            if paho._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = paho._packet_read()
            if rc > 0:
                return paho._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                break
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    paho.loop_read = loop_read  # type: ignore[method-assign]


def queued_messages(client: aiomqtt.Client) -> Iterator[aiomqtt.Message]:
    """The messages `client` has read and queued, without waiting (at most READ_BURST)."""
    queue = client._queue
    for _ in range(READ_BURST):
        if queue.empty():
            return
        yield queue.get_nowait()
