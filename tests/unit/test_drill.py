"""Drills check every name and argument before their first probe, so no lab needs to be up to see a
refusal: the drills here run on a lab that was never built, and any check that came too late would
reach for a namespace that does not exist instead of raising UsageError."""
from __future__ import annotations

from pathlib import Path

import pytest

from vpcemu import drill, load_text
from vpcemu.errors import UsageError
from vpcemu.kernel import journal
from vpcemu.kernel.journal import Journal
from vpcemu.lab import Lab

TOPOLOGY = (Path(__file__).resolve().parents[1] / "data" / "drill.yaml").read_text()

ENI_MOVE = dict(network_interface="vip", to="standby", client="client")
IP_MOVE = dict(address="10.0.1.101", to="standby.eth0", client="client")
NAT = dict(nat_gateway="nat-a", route_table="private-a", to="nat-b", client="client", target="ext")
AZ = dict(availability_zone="us-east-1a", client="client", target="ext")
RUN = dict(client="client", target="10.0.1.101", command=["true"])

REFUSED = [
    # (drill, arguments, what the message must name, AWS's code or None for a name the lab does not know)
    (drill.eni_move, {**ENI_MOVE, "network_interface": "nope"}, "'nope'", "InvalidNetworkInterfaceID.NotFound"),
    (drill.eni_move, {**ENI_MOVE, "to": "nope"}, "'nope'", "InvalidInstanceID.NotFound"),
    (drill.eni_move, {**ENI_MOVE, "client": "nope"}, "'nope'", None),
    (drill.eni_move, {**ENI_MOVE, "target": "nope"}, "'nope'", None),
    (drill.eni_move, {**ENI_MOVE, "network_interface": "active.eth0"}, "active.eth0", "OperationNotPermitted"),
    (drill.ip_move, {**IP_MOVE, "to": "nope"}, "'nope'", "InvalidNetworkInterfaceID.NotFound"),
    (drill.ip_move, {**IP_MOVE, "client": "nope"}, "'nope'", None),
    (drill.ip_move, {**IP_MOVE, "address": "10.0.1.10"}, "10.0.1.10", "InvalidParameterValue"),   # a primary IP
    (drill.nat_gateway_failure, {**NAT, "nat_gateway": "nope"}, "'nope'", "NatGatewayNotFound"),
    (drill.nat_gateway_failure, {**NAT, "route_table": "nope"}, "'nope'", "InvalidRouteTableID.NotFound"),
    (drill.nat_gateway_failure, {**NAT, "to": "nope"}, "'nope'", "InvalidRoute.NotFound"),
    (drill.nat_gateway_failure, {**NAT, "to": "nat-a"}, "'nat-a'", "InvalidRoute.NotFound"),     # the one deleted
    (drill.nat_gateway_failure, {**NAT, "destination": "10.9.0.0/16"}, "10.9.0.0/16", "InvalidRoute.NotFound"),
    (drill.nat_gateway_failure, {**NAT, "client": "nope"}, "'nope'", None),
    (drill.nat_gateway_failure, {**NAT, "target": "nope"}, "'nope'", None),
    (drill.az_outage, {**AZ, "availability_zone": "us-east-1z"}, "us-east-1z", "InvalidParameterValue"),
    (drill.az_outage, {**AZ, "client": "nope"}, "'nope'", None),
    (drill.az_outage, {**AZ, "target": "nope"}, "'nope'", None),
    (drill.az_outage, {**AZ, "standby": "nope", "command": ["true"]}, "'nope'", None),
    (drill.az_outage, {**AZ, "command": ["true"]}, "standby", "MissingParameter"),
    (drill.run, {**RUN, "command": []}, "no fault command", "MissingParameter"),
    (drill.run, {**RUN, "client": "nope"}, "'nope'", None),
    (drill.run, {**RUN, "target": "nope"}, "'nope'", None),
]


@pytest.fixture
def lab(tmp_path, monkeypatch) -> Lab:
    """A lab with a state directory (its lock and its stored model live there) and no kernel objects: a refusal
    needs none."""
    monkeypatch.setattr(journal, "STATE_ROOT", tmp_path)
    j = Journal("u-drill")
    j.dir.mkdir()
    lab = Lab("u-drill", load_text(TOPOLOGY, name="u-drill"), j)
    lab.commit(lab.topology)
    return lab


def case_id(fn, kwargs: dict) -> str:
    base = {drill.eni_move: ENI_MOVE, drill.ip_move: IP_MOVE, drill.nat_gateway_failure: NAT, drill.az_outage: AZ,
            drill.run: RUN}[fn]
    return fn.__name__ + "".join(f"-{k}={v}" for k, v in kwargs.items() if base.get(k) != v)


@pytest.mark.parametrize("fn, kwargs, named, code", REFUSED, ids=[case_id(fn, kw) for fn, kw, _, _ in REFUSED])
def test_a_drill_refuses_before_its_first_probe(lab, fn, kwargs, named, code):
    before = lab.topology
    with pytest.raises(UsageError) as exc:
        fn(lab, **kwargs)
    assert named in str(exc.value) and exc.value.code == code
    assert lab.topology is before


class _Stream:
    """What `drill.run`'s end condition reads of a probe stream: the answered seqs and the highest one."""

    def __init__(self, answered: list[int], sent: int):
        self.answered = dict.fromkeys(answered, 0.0)
        self.last_answered = max(answered, default=-1)
        self.sent = [0.0] * sent

    def answered_since(self, seq: int) -> int:
        return sum(1 for s in self.answered if s >= seq)


def test_a_run_drill_ends_once_an_outage_is_over_or_none_began_in_the_watch():
    settle = 3
    # seqs 10..19 sent after the fault; 12..14 lost, then 15..17 answered: the outage is over
    assert drill._Watch(_Stream([10, 11, 15, 16, 17, 18], 20), 10, settle, float("inf")).settled()
    # only 15, 16 answered after the loss: not yet
    assert not drill._Watch(_Stream([10, 11, 15, 16, 17], 20), 10, settle, float("inf")).settled()
    # no loss: the watch runs until quiet_until (perf_counter), however many answers came
    assert not drill._Watch(_Stream(list(range(10, 40)), 40), 10, settle, float("inf")).settled()
    # after it, `settle` probes sent from then on must be answered
    quiet = drill._Watch(_Stream(list(range(10, 40)), 40), 10, settle, 0.0)
    assert not quiet.settled()
    quiet.stream = _Stream(list(range(10, 43)), 45)
    assert quiet.settled()
    # silence since the fault (no answer, so no loss below an answer yet) is no quiet end: the drill waits
    silent = drill._Watch(_Stream([10, 11], 400), 10, settle, 0.0)
    assert not silent.settled() and not silent.settled()
    # a loss after the watch's end still counts once seen: the drill waits for its recovery
    assert not drill._Watch(_Stream([10, 11, 13], 14), 10, settle, 0.0).settled()
