"""The kubelet after ingressd restarted with the same state dir: pods restored from store.db whose
processes died with the old ingressd run again, as a kubelet restarts them after a node reboot."""

import asyncio
import random

from ingressd.cluster.pod_status import is_ready
from ingressd.cluster.runner import Runner
from ingressd.cluster.store import Store
from ingressd.pods.ips import PodIPPool
from ingressd.pods.kubelet import Kubelet
from tests.pods.test_kubelet import FIRST_IP, IP_BASE, PORT, Cluster, echo_deployment


class Restarted(Cluster):
    """A cluster whose store was restored (as app.py does from store.db) before the kubelet starts."""

    def __init__(self, before: Cluster, **kubelet_options):
        self.clock = before.clock
        self.store = Store(self.clock)
        self.store.restore([o for kind in before.store.kinds() for o in before.store.list(kind)],
                           before.store.resource_version)
        self.runner = Runner(self.store, self.clock, random.Random(1))
        self.kubelet = Kubelet(self.store, self.clock, ip_base=IP_BASE, **kubelet_options)
        self.changed = asyncio.Event()
        self.store.subscribe(lambda event, obj: self.changed.set())


async def test_a_restored_pod_runs_again_with_restart_count_plus_one_and_its_previous_log(tmp_path):
    first = Cluster(logs_dir=tmp_path / "logs")
    first.store.apply(echo_deployment(replicas=1))
    try:
        await first.wait_until(lambda: first.pods() and is_ready(first.pods()[0]))
    finally:
        await first.kubelet.close()
    (before,) = first.pods()
    name = before["metadata"]["name"]
    log = tmp_path / "logs" / "default" / name / "app.log"
    first_log = log.read_text()

    second = Restarted(first, logs_dir=tmp_path / "logs")
    try:
        await second.wait_until(lambda: second.pods() and is_ready(second.pods()[0])
                                and second.pods()[0]["status"]["containerStatuses"][0]["restartCount"] == 1)
        (after,) = second.pods()
        assert after["metadata"]["uid"] == before["metadata"]["uid"]
        assert after["status"]["startTime"] == before["status"]["startTime"]
        assert after["status"]["podIP"] == FIRST_IP
        (status,) = after["status"]["containerStatuses"]
        (old,) = before["status"]["containerStatuses"]
        assert status["state"]["running"] and status["ready"]
        assert status["containerID"] != old["containerID"]
        assert status["lastState"] == {"terminated": {
            "exitCode": 255, "reason": "Unknown", "startedAt": old["state"]["running"]["startedAt"],
            "finishedAt": status["state"]["running"]["startedAt"], "containerID": old["containerID"]}}
        previous = tmp_path / "logs" / "default" / name / "app.previous.log"
        assert previous.read_text() == first_log  # kubectl logs --previous: the run before the restart
        assert f"listening on {FIRST_IP}:{PORT}" in log.read_text()
    finally:
        await second.kubelet.close()


async def test_restored_pods_get_their_addresses_back_so_endpoints_do_not_move(tmp_path):
    first = Cluster()
    first.store.apply(echo_deployment(replicas=3))
    try:
        await first.wait_until(lambda: len(first.pods()) == 3 and all(is_ready(p) for p in first.pods()))
        # Free the first address and take another, so that name order and address order differ.
        victim = first.pods()[0]["metadata"]["name"]
        first.store.delete("Pod", "default", victim, grace_period_seconds=0)
        await first.wait_until(lambda: len(first.pods()) == 3 and all(is_ready(p) for p in first.pods()))
    finally:
        await first.kubelet.close()
    before = {p["metadata"]["name"]: p["status"]["podIP"] for p in first.pods()}
    second = Restarted(first)
    try:
        await second.wait_until(lambda: len(second.pods()) == 3 and all(
            is_ready(p) and p["status"]["containerStatuses"][0]["restartCount"] == 1 for p in second.pods()))
        assert {p["metadata"]["name"]: p["status"]["podIP"] for p in second.pods()} == before
    finally:
        await second.kubelet.close()


def test_the_pool_hands_out_a_preferred_address_only_when_it_is_its_own_and_free():
    pool = PodIPPool("127.1.240.0", size=256)
    assert pool.allocate(preferred="127.1.240.7") == "127.1.240.7"
    assert pool.allocate(preferred="127.1.240.7") == "127.1.240.1"  # taken: the next free one
    assert pool.allocate(preferred="127.1.241.7") == "127.1.240.2"  # not in the pool
    assert pool.allocate(preferred="127.1.240.255") == "127.1.240.3"  # broadcast octet
    assert pool.allocate(preferred="not an address") == "127.1.240.4"
    assert pool.allocate() == "127.1.240.5"
