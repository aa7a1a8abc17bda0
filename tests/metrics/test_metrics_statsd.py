"""The statsd sink: real datagrams to a UDP socket the test opens."""

from __future__ import annotations

import pytest
from support.metrics import sample

from syncstorage import metrics
from syncstorage.metrics.statsd import StatsdClient, statsd_route
from syncstorage.settings import Settings


def _statsd(port: int, **extra) -> Settings:
    return Settings(statsd_host="127.0.0.1", statsd_port=port, **extra)


def test_each_observation_is_one_datagram(statsd_socket):
    port, receive = statsd_socket
    metrics.configure(_statsd(port, statsd_prefix="sync.test"))
    metrics.observe_request("/1.5/{uid}/storage/{collection}", "POST", 200, 0.0125)
    metrics.observe_conflict()
    metrics.observe_batch(37)
    metrics.observe_batch(250, "commit")
    metrics.observe_token_verification("invalid-generation")
    assert receive() == [
        "sync.test.request.1_5.uid.storage.collection.POST.200:12.500|ms",
        "sync.test.write_conflicts:1|c",
        "sync.test.batch_records.post:37|ms",
        "sync.test.batch_records.commit:250|ms",
        "sync.test.token_verifications.invalid-generation:1|c",
    ]


def test_statsd_alone_does_not_switch_prometheus_on(statsd_socket):
    port, receive = statsd_socket
    metrics.configure(_statsd(port))
    before = sample("syncstorage_write_conflicts_total")
    metrics.observe_conflict()
    assert sample("syncstorage_write_conflicts_total") == before
    assert receive() == ["syncstorage.write_conflicts:1|c"]


def test_off_by_default_sends_nothing(statsd_socket):
    port, receive = statsd_socket
    metrics.configure(Settings(statsd_port=port))  # port alone: no host, no statsd
    metrics.observe_conflict()
    metrics.observe_request("unmatched", "GET", 404, 0.001)
    assert receive() == []
    assert not metrics.enabled()


def test_nobody_listening_is_not_an_error():
    client = StatsdClient("127.0.0.1", 9, "x")  # discard port, nothing bound
    for _ in range(3):  # the ICMP refusal shows up on a later send
        client.send("a", "1", "c")
    client.close()


@pytest.mark.parametrize(
    ("template", "name"),
    [
        ("/1.5/{uid}/storage/{collection}/{id}", "1_5.uid.storage.collection.id"),
        ("/1.5/{uid}/info/collections", "1_5.uid.info.collections"),
        ("/__heartbeat__", "__heartbeat__"),
        ("unmatched", "unmatched"),
        ("/", "root"),
    ],
)
def test_route_names(template, name):
    assert statsd_route(template) == name
