"""`describe pod` and Events as kubectl 1.32 lays them out (Go's tabwriter, RFC 1123 times)."""

from __future__ import annotations

import time

import pytest

from ingressd.kubectl_describe import describe_events, describe_pod, describe_probe, rfc1123z, tabwrite

NOW = 1795636800.0  # 2026-11-25T20:00:00Z


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """kubectl prints times in the local zone: pin it."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(("text", "want"), [
    # one column block: the widest cell plus 2
    ("a:\tx\nlonger:\ty\n", "a:       x\nlonger:  y\n"),
    # a line without a tab ends the block; the next block has its own width
    ("a:\tx\nhead\nlonger:\ty\n", "a:  x\nhead\nlonger:  y\n"),
    # nested columns: the second column aligns over the lines that have it
    ("T\tR\tAge\nNormal\tScheduled\t5s\nWarning\tBackOff\t1s\n",
     "T        R          Age\nNormal   Scheduled  5s\nWarning  BackOff    1s\n"),
    # an empty leading cell is padded (continuation lines of Labels)
    ("Labels:\ta=1\n\tb=2\n", "Labels:  a=1\n         b=2\n"),
    # the last cell is never padded; trailing spaces in it are kept
    ("  Type\tStatus\n  PodReadyToStartContainers \tTrue \n",
     "  Type                        Status\n  PodReadyToStartContainers   True \n"),
    ("no tabs at all\n", "no tabs at all\n"),
    ("", ""),
])
def test_tabwrite_is_gos_tabwriter(text, want):
    assert tabwrite(text) == want


def crash_looping_pod() -> dict:
    return {
        "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web", "tier": "front"},
                     "annotations": {"note": "hi", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
                     "ownerReferences": [{"kind": "ReplicaSet", "name": "web-5d4f", "controller": True}]},
        "spec": {
            "nodeName": "ingressd", "serviceAccountName": "default",
            "containers": [{
                "name": "app", "image": "busybox", "command": ["sh", "-c", "exit 3"],
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "MODE", "value": "fast"},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                        {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}}],
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                                   "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                                   "failureThreshold": 3},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            }],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}}],
        },
        "status": {
            "phase": "Running", "hostIP": "127.0.0.1", "podIP": "127.1.0.5", "podIPs": [{"ip": "127.1.0.5"}],
            "startTime": "2026-11-25T19:58:00Z", "qosClass": "BestEffort",
            "conditions": [{"type": t, "status": s} for t, s in (
                ("PodReadyToStartContainers", "True"), ("Initialized", "True"), ("Ready", "False"),
                ("ContainersReady", "False"), ("PodScheduled", "True"))],
            "containerStatuses": [{
                "name": "app", "containerID": "ingressd://abc", "image": "busybox", "imageID": "",
                "ready": False, "restartCount": 3, "started": False,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
                "lastState": {"terminated": {"exitCode": 3, "reason": "Error", "startedAt": "2026-11-25T19:59:00Z",
                                             "finishedAt": "2026-11-25T19:59:01Z"}},
            }],
        },
    }


EXPECTED = """\
Name:             web-1
Namespace:        shop
Service Account:  default
Node:             ingressd/127.0.0.1
Start Time:       Wed, 25 Nov 2026 19:58:00 +0000
Labels:           app=web
                  tier=front
Annotations:      note: hi
Status:           Running
IP:               127.1.0.5
IPs:
  IP:           127.1.0.5
Controlled By:  ReplicaSet/web-5d4f
Containers:
  app:
    Container ID:  ingressd://abc
    Image:         busybox
    Image ID:      
    Port:          8080/TCP
    Host Port:     0/TCP
    Command:
      sh
      -c
      exit 3
    State:          Waiting
      Reason:       CrashLoopBackOff
    Last State:     Terminated
      Reason:       Error
      Exit Code:    3
      Started:      Wed, 25 Nov 2026 19:59:00 +0000
      Finished:     Wed, 25 Nov 2026 19:59:01 +0000
    Ready:          False
    Restart Count:  3
    Readiness:      http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3
    Environment:
      MODE:      fast
      POD_NAME:  web-1 (v1:metadata.name)
      POD_IP:     (v1:status.podIP)
    Mounts:
      /data from data (rw)
Conditions:
  Type                        Status
  PodReadyToStartContainers   True 
  Initialized                 True 
  Ready                       False 
  ContainersReady             False 
  PodScheduled                True 
Volumes:
  data:
    Type:        PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)
    ClaimName:   data-web-1
    ReadOnly:    false
QoS Class:       BestEffort
Node-Selectors:  <none>
Tolerations:     <none>
Events:
  Type     Reason     Age                 From               Message
  ----     ------     ----                ----               -------
  Normal   Scheduled  2m                  default-scheduler  Successfully assigned shop/web-1 to ingressd
  Normal   Pulled     59s (x4 over 2m)    kubelet            Container image "busybox" already present on machine
  Warning  BackOff    10s (x3 over 110s)  kubelet            Back-off restarting failed container app
"""


def events() -> list[dict]:
    def event(reason, message, first, last, count=1, kind="Normal", component="kubelet"):
        return {"type": kind, "reason": reason, "message": message, "count": count, "source": {"component": component},
                "firstTimestamp": first, "lastTimestamp": last}
    return [  # not in time order: describe sorts by lastTimestamp
        event("BackOff", "Back-off restarting failed container app", "2026-11-25T19:58:10Z", "2026-11-25T19:59:50Z",
              3, "Warning"),
        event("Scheduled", "Successfully assigned shop/web-1 to ingressd", "2026-11-25T19:58:00Z",
              "2026-11-25T19:58:00Z", component="default-scheduler"),
        event("Pulled", 'Container image "busybox" already present on machine', "2026-11-25T19:58:00Z",
              "2026-11-25T19:59:01Z", 4),
    ]


def test_describe_pod_is_kubectls_layout():
    assert describe_pod(crash_looping_pod(), events(), NOW) == EXPECTED


def test_no_events_share_the_last_column_block_and_terminating_pods_say_so():
    pod = crash_looping_pod()
    pod["metadata"].update(deletionTimestamp="2026-11-25T20:00:30Z", deletionGracePeriodSeconds=30)
    text = describe_pod(pod, [], NOW)
    assert "Status:                    Terminating (lasts 30s)\nTermination Grace Period:  30s\n" in text
    assert text.endswith("Tolerations:     <none>\nEvents:          <none>\n")
    assert "Events" not in describe_pod(pod, None, NOW)  # not looked up


def test_a_pod_not_scheduled_without_statuses():
    pod = {"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    assert describe_pod(pod, None, NOW) == """\
Name:         p
Namespace:    default
Node:         <none>
Labels:       <none>
Annotations:  <none>
Status:       
IP:           
IPs:          <none>
Containers:
  c:
    Image:        x
    Port:         <none>
    Host Port:    <none>
    Environment:  <none>
    Mounts:       <none>
Volumes:          <none>
QoS Class:        BestEffort
Node-Selectors:   <none>
Tolerations:      <none>
"""


@pytest.mark.parametrize(("probe", "want"), [
    ({"tcpSocket": {"port": 8080}, "periodSeconds": 1},
     "tcp-socket :8080 delay=0s timeout=0s period=1s #success=0 #failure=0"),
    ({"exec": {"command": ["cat", "/tmp/ok"]}, "initialDelaySeconds": 5},
     "exec [cat /tmp/ok] delay=5s timeout=0s period=0s #success=0 #failure=0"),
    ({"httpGet": {"path": "/", "port": "http", "host": "10.0.0.1", "scheme": "HTTPS"}},
     "http-get https://10.0.0.1:http/ delay=0s timeout=0s period=0s #success=0 #failure=0"),
])
def test_describe_probe(probe, want):
    assert describe_probe(probe) == want


def test_events_of_other_kinds_and_times():
    assert describe_events([], NOW) == "Events:  <none>\n"
    assert rfc1123z(None) == "Mon, 01 Jan 0001 00:00:00 +0000"
    assert rfc1123z("2026-11-25T20:00:00.123456Z") == "Wed, 25 Nov 2026 20:00:00 +0000"
