"""`describe pod` and the Events block as kubectl 1.32 prints them (k8s.io/kubectl/pkg/describe).

kubectl writes describe output through a PrefixWriter (two spaces per level) into Go's
text/tabwriter (minwidth 0, tabwidth 8, padding 2, padchar ' ', no flags): `tabwrite` is that
layout (elastic tabstops: a column is as wide as its widest cell plus 2 over each run of
consecutive lines that have it), so long condition names (`PodReadyToStartContainers`) widen
their column instead of running into the status. Times are RFC 1123 with numeric zone in local
time, as metav1.Time prints; ages are HumanDuration. Pure formatting; ingressd.kubectl fetches.
"""

from __future__ import annotations

import time
from calendar import timegm
from datetime import UTC, datetime

from ingressd.apimachinery.tables import human_duration
from ingressd.apimachinery.writes import pod_qos_class

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_ANNOTATION_LEN = 140
ZERO_TIME = "Mon, 01 Jan 0001 00:00:00 +0000"  # a missing time, as Go formats time.Time{}


def tabwrite(text: str, padding: int = 2) -> str:
    """Go's text/tabwriter over `text` (cells end with a tab; a line's last cell is not aligned)."""
    if not text:
        return ""
    lines = text.split("\n")
    trailing = lines[-1] == ""
    if trailing:
        lines.pop()
    cells = [line.split("\t") for line in lines]
    out: list[str] = []
    widths: list[int] = []

    def write_lines(line0: int, line1: int) -> None:
        for line in cells[line0:line1]:
            out.append("".join(c + " " * (widths[j] - len(c)) if j < len(widths) else c
                               for j, c in enumerate(line)))

    def format_block(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(cells[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0, width = this, 0
            while this < line1 and column < len(cells[this]) - 1:
                width = max(width, len(cells[this][column]) + padding)
                this += 1
            widths.append(width)
            format_block(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    format_block(0, len(cells))
    return "\n".join(out) + ("\n" if trailing else "")


class PrefixWriter:
    """kubectl's describe PrefixWriter: `write(level, text)` indents by two spaces a level."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, level: int, text: str) -> None:
        self.parts.append("  " * level + text)

    def text(self) -> str:
        return tabwrite("".join(self.parts))


def _parse(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        seconds = float(timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None
    fraction = stamp[19:].rstrip("Z")
    if fraction.startswith("."):
        seconds += float("0" + fraction.split("+")[0].split("-")[0])
    return seconds


def rfc1123z(stamp: str | None) -> str:
    """A metav1.Time as Go's time.RFC1123Z in local time ("Mon, 02 Jan 2006 15:04:05 -0700")."""
    seconds = _parse(stamp)
    if seconds is None:
        return ZERO_TIME
    return datetime.fromtimestamp(int(seconds), UTC).astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")


def _since(stamp: str | None, now: float) -> str:
    seconds = _parse(stamp)
    return "<unknown>" if seconds is None else human_duration(now - seconds)


def _until(stamp: str | None, now: float) -> str:
    seconds = _parse(stamp)
    return "<unknown>" if seconds is None else human_duration(seconds - now)


def _labels(w: PrefixWriter, title: str, labels: dict | None) -> None:
    w.write(0, f"{title}:\t")
    keys = sorted(labels or {})
    if not keys:
        w.write(0, "<none>\n")
        return
    for i, key in enumerate(keys):
        if i:
            w.write(0, "\t")
        w.write(0, f"{key}={labels[key]}\n")


def _annotations(w: PrefixWriter, title: str, annotations: dict | None) -> None:
    w.write(0, f"{title}:\t")
    keys = sorted(k for k in annotations or {} if k != LAST_APPLIED)
    if not keys:
        w.write(0, "<none>\n")
        return
    for i, key in enumerate(keys):
        if i:
            w.write(0, "\t")
        value = str(annotations[key]).removesuffix("\n")
        if len(value) + len(key) + 2 > MAX_ANNOTATION_LEN or "\n" in value:
            w.write(0, f"{key}:\n")
            for line in value.split("\n"):
                short = line if len(line) <= MAX_ANNOTATION_LEN - 2 else line[:MAX_ANNOTATION_LEN - 2] + "..."
                w.write(0, f"\t  {short}\n")
        else:
            w.write(0, f"{key}: {value}\n")


def _tolerations(w: PrefixWriter, tolerations: list | None) -> None:
    w.write(0, "Tolerations:\t")
    if not tolerations:
        w.write(0, "<none>\n")
        return
    for i, t in enumerate(sorted(tolerations, key=lambda t: t.get("key") or "")):
        if i:
            w.write(0, "\t")
        text = t.get("key") or ""
        if t.get("value"):
            text += f"={t['value']}"
        if t.get("effect"):
            text += f":{t['effect']}"
        if t.get("operator") == "Exists" and not t.get("value"):
            text += " op=Exists" if t.get("key") or t.get("effect") else "op=Exists"
        if t.get("tolerationSeconds") is not None:
            text += f" for {t['tolerationSeconds']}s"
        w.write(0, text + "\n")


def _bool(value) -> str:
    return "True" if value else "False"


def _state(w: PrefixWriter, title: str, state: dict | None) -> None:
    state = state or {}
    if state.get("running") is not None:
        w.write(2, f"{title}:\tRunning\n")
        w.write(3, f"Started:\t{rfc1123z(state['running'].get('startedAt'))}\n")
    elif state.get("terminated") is not None:
        t = state["terminated"]
        w.write(2, f"{title}:\tTerminated\n")
        if t.get("reason"):
            w.write(3, f"Reason:\t{t['reason']}\n")
        if t.get("message"):
            w.write(3, f"Message:\t{t['message']}\n")
        w.write(3, f"Exit Code:\t{t.get('exitCode') or 0}\n")
        if (t.get("signal") or 0) > 0:
            w.write(3, f"Signal:\t{t['signal']}\n")
        w.write(3, f"Started:\t{rfc1123z(t.get('startedAt'))}\n")
        w.write(3, f"Finished:\t{rfc1123z(t.get('finishedAt'))}\n")
    else:
        w.write(2, f"{title}:\tWaiting\n")
        if (state.get("waiting") or {}).get("reason"):
            w.write(3, f"Reason:\t{state['waiting']['reason']}\n")


def _int_or_string(value) -> str:
    return "" if value is None else str(value)


def describe_probe(probe: dict) -> str:
    """kubectl's DescribeProbe: the handler, then delay/timeout/period/#success/#failure."""
    attrs = (f"delay={probe.get('initialDelaySeconds') or 0}s timeout={probe.get('timeoutSeconds') or 0}s "
             f"period={probe.get('periodSeconds') or 0}s #success={probe.get('successThreshold') or 0} "
             f"#failure={probe.get('failureThreshold') or 0}")
    if probe.get("exec") is not None:
        return f"exec [{' '.join((probe['exec'] or {}).get('command') or [])}] {attrs}"
    if probe.get("httpGet") is not None:
        get = probe["httpGet"] or {}
        host, port = get.get("host") or "", _int_or_string(get.get("port"))
        if port:
            host = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        scheme = (get.get("scheme") or "").lower()
        url = (f"{scheme}:" if scheme else "") + (f"//{host}" if host else "") + (get.get("path") or "")
        return f"http-get {url} {attrs}"
    if probe.get("tcpSocket") is not None:
        sock = probe["tcpSocket"] or {}
        return f"tcp-socket {sock.get('host') or ''}:{_int_or_string(sock.get('port'))} {attrs}"
    if probe.get("grpc") is not None:
        grpc = probe["grpc"] or {}
        return f"grpc <pod>:{grpc.get('port') or 0} {grpc.get('service') or ''} {attrs}"
    return f"unknown {attrs}"


def _field_value(pod: dict, path: str) -> str:
    """kubectl's EnvValueRetriever: fieldpath.ExtractFieldPathAsString resolves metadata only."""
    meta = pod.get("metadata") or {}
    if path in ("metadata.name", "metadata.namespace", "metadata.uid"):
        return str(meta.get(path.split(".")[1]) or "")
    for section in ("labels", "annotations"):
        prefix = f"metadata.{section}['"
        if path.startswith(prefix) and path.endswith("']"):
            return str((meta.get(section) or {}).get(path[len(prefix):-2], ""))
        if path == f"metadata.{section}":
            return "\n".join(f'{k}="{v}"' for k, v in sorted((meta.get(section) or {}).items()))
    return ""


def _env(w: PrefixWriter, pod: dict, container: dict) -> None:
    env = container.get("env") or []
    w.write(2, "Environment:" + ("" if env else "\t<none>") + "\n")
    for e in env:
        name, source = e.get("name", ""), e.get("valueFrom")
        if source is None:
            for i, line in enumerate(str(e.get("value") or "").split("\n")):
                w.write(3, f"{name}:\t{line}\n" if i == 0 else f"\t{line}\n")
        elif source.get("fieldRef") is not None:
            ref = source["fieldRef"]
            w.write(3, f"{name}:\t{_field_value(pod, ref.get('fieldPath', ''))} "
                       f"({ref.get('apiVersion', '')}:{ref.get('fieldPath', '')})\n")
        elif source.get("resourceFieldRef") is not None:
            ref = source["resourceFieldRef"]
            resource = ref.get("resource", "")
            section, _, which = resource.partition(".")
            value = str(((container.get("resources") or {}).get(section) or {}).get(which, "0"))
            if value == "0" and resource in ("limits.cpu", "limits.memory"):
                value = "node allocatable"
            w.write(3, f"{name}:\t{value} ({resource})\n")
        elif source.get("secretKeyRef") is not None:
            ref = source["secretKeyRef"]
            w.write(3, f"{name}:\t<set to the key '{ref.get('key', '')}' in secret '{ref.get('name', '')}'>\t"
                       f"Optional: {str(bool(ref.get('optional'))).lower()}\n")
        elif source.get("configMapKeyRef") is not None:
            ref = source["configMapKeyRef"]
            w.write(3, f"{name}:\t<set to the key '{ref.get('key', '')}' of config map '{ref.get('name', '')}'>\t"
                       f"Optional: {str(bool(ref.get('optional'))).lower()}\n")


def _env_from(w: PrefixWriter, container: dict) -> None:
    w.write(2, "Environment Variables from:\n")
    for source in container.get("envFrom") or []:
        if source.get("configMapRef") is not None:
            kind, ref = "ConfigMap", source["configMapRef"]
        elif source.get("secretRef") is not None:
            kind, ref = "Secret", source["secretRef"]
        else:
            continue
        optional = str(bool(ref.get("optional"))).lower()
        prefix = source.get("prefix") or ""
        if prefix:
            w.write(3, f"{ref.get('name', '')}\t{kind} with prefix '{prefix}'\tOptional: {optional}\n")
        else:
            w.write(3, f"{ref.get('name', '')}\t{kind}\tOptional: {optional}\n")


def _ports(ports: list, field: str) -> str:
    return ", ".join(f"{p.get(field) or 0}/{p.get('protocol') or 'TCP'}" for p in ports)


def _containers(w: PrefixWriter, pod: dict, label: str, containers: list, statuses: list) -> None:
    by_name = {s.get("name"): s for s in statuses or []}
    w.write(0, f"{label}:" + ("" if containers else " <none>") + "\n")
    for c in containers:
        status = by_name.get(c.get("name"))
        w.write(1, f"{c.get('name', '')}:\n")
        if status is not None:
            w.write(2, f"Container ID:\t{status.get('containerID') or ''}\n")
        w.write(2, f"Image:\t{c.get('image') or ''}\n")
        if status is not None:
            w.write(2, f"Image ID:\t{status.get('imageID') or ''}\n")
        ports = c.get("ports") or []
        port_text, host_text = _ports(ports, "containerPort"), _ports(ports, "hostPort")
        w.write(2, f"Ports:\t{port_text}\n" if "," in port_text else f"Port:\t{port_text or '<none>'}\n")
        w.write(2, f"Host Ports:\t{host_text}\n" if "," in host_text else f"Host Port:\t{host_text or '<none>'}\n")
        if c.get("restartPolicy"):
            w.write(2, f"Restart Policy:\t{c['restartPolicy']}\n")
        for title, key in (("Command", "command"), ("Args", "args")):
            if c.get(key):
                w.write(2, f"{title}:\n")
                for item in c[key]:
                    for line in str(item).split("\n"):
                        w.write(3, f"{line}\n")
        if status is not None:
            _state(w, "State", status.get("state"))
            if (status.get("lastState") or {}).get("terminated") is not None:
                _state(w, "Last State", status["lastState"])
            w.write(2, f"Ready:\t{_bool(status.get('ready'))}\n")
            w.write(2, f"Restart Count:\t{status.get('restartCount') or 0}\n")
        resources = c.get("resources") or {}
        for title, key in (("Limits", "limits"), ("Requests", "requests")):
            if resources.get(key):
                w.write(2, f"{title}:\n")
                for name in sorted(resources[key]):
                    w.write(3, f"{name}:\t{resources[key][name]}\n")
        for title, key in (("Liveness", "livenessProbe"), ("Readiness", "readinessProbe"),
                           ("Startup", "startupProbe")):
            if c.get(key) is not None:
                w.write(2, f"{title}:\t{describe_probe(c[key] or {})}\n")
        if c.get("envFrom"):
            _env_from(w, c)
        _env(w, pod, c)
        mounts = sorted(c.get("volumeMounts") or [], key=lambda m: m.get("mountPath") or "")
        w.write(2, "Mounts:" + ("" if mounts else "\t<none>") + "\n")
        for m in mounts:
            flags = ["ro" if m.get("readOnly") else "rw"]
            if m.get("subPath"):
                flags.append(f'path="{m["subPath"]}"')
            w.write(3, f"{m.get('mountPath', '')} from {m.get('name', '')} ({','.join(flags)})\n")


def _volumes(w: PrefixWriter, volumes: list) -> None:
    if not volumes:
        w.write(0, "Volumes:\t<none>\n")
        return
    w.write(0, "Volumes:\n")
    for v in volumes:
        w.write(1, f"{v.get('name', '')}:\n")
        if v.get("persistentVolumeClaim") is not None:
            claim = v["persistentVolumeClaim"]
            w.write(2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n"
                       f"    ClaimName:\t{claim.get('claimName', '')}\n"
                       f"    ReadOnly:\t{str(bool(claim.get('readOnly'))).lower()}\n")
        elif v.get("emptyDir") is not None:
            empty = v["emptyDir"] or {}
            w.write(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n"
                       f"    Medium:\t{empty.get('medium') or ''}\n"
                       f"    SizeLimit:\t{empty.get('sizeLimit') or '<unset>'}\n")
        elif v.get("configMap") is not None:
            ref = v["configMap"]
            w.write(2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n"
                       f"    Name:\t{ref.get('name', '')}\n"
                       f"    Optional:\t{str(bool(ref.get('optional'))).lower()}\n")
        elif v.get("secret") is not None:
            ref = v["secret"]
            w.write(2, "Type:\tSecret (a volume populated by a Secret)\n"
                       f"    SecretName:\t{ref.get('secretName', '')}\n"
                       f"    Optional:\t{str(bool(ref.get('optional'))).lower()}\n")
        else:
            w.write(1, "<unknown>\n")


def _qos(pod: dict) -> str:
    """status.qosClass, else computed as the API server does (kubectl's GetPodQOS)."""
    return (pod.get("status") or {}).get("qosClass") or pod_qos_class(pod)


def describe_pod(pod: dict, events: list[dict] | None, now: float) -> str:
    """`kubectl describe pod` (1.32) of `pod`, with its Events (None: events not looked up)."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    w = PrefixWriter()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    if spec.get("priority") is not None:
        w.write(0, f"Priority:\t{spec['priority']}\n")
    if spec.get("priorityClassName"):
        w.write(0, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    if spec.get("runtimeClassName"):
        w.write(0, f"Runtime Class Name:\t{spec['runtimeClassName']}\n")
    if spec.get("serviceAccountName"):
        w.write(0, f"Service Account:\t{spec['serviceAccountName']}\n")
    node = spec.get("nodeName")
    w.write(0, f"Node:\t{node}/{status.get('hostIP') or ''}\n" if node else "Node:\t<none>\n")
    if status.get("startTime"):
        w.write(0, f"Start Time:\t{rfc1123z(status['startTime'])}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, "Annotations", meta.get("annotations"))
    if meta.get("deletionTimestamp") and status.get("phase") not in ("Failed", "Succeeded"):
        w.write(0, f"Status:\tTerminating (lasts {_until(meta['deletionTimestamp'], now)})\n")
        w.write(0, f"Termination Grace Period:\t{meta.get('deletionGracePeriodSeconds') or 0}s\n")
    else:
        w.write(0, f"Status:\t{status.get('phase') or ''}\n")
    if status.get("reason"):
        w.write(0, f"Reason:\t{status['reason']}\n")
    if status.get("message"):
        w.write(0, f"Message:\t{status['message']}\n")
    w.write(0, f"IP:\t{status.get('podIP') or ''}\n")
    ips = status.get("podIPs") or []
    if ips:
        w.write(0, "IPs:\n")
        for ip in ips:
            w.write(0, f"  IP:\t{ip.get('ip', '')}\n")
    else:
        w.write(0, "IPs:\t<none>\n")
    controller = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if controller is not None:
        w.write(0, f"Controlled By:\t{controller.get('kind', '')}/{controller.get('name', '')}\n")
    if status.get("nominatedNodeName"):
        w.write(0, f"NominatedNodeName:\t{status['nominatedNodeName']}\n")
    if spec.get("initContainers"):
        _containers(w, pod, "Init Containers", spec["initContainers"], status.get("initContainerStatuses"))
    _containers(w, pod, "Containers", spec.get("containers") or [], status.get("containerStatuses"))
    gates = spec.get("readinessGates") or []
    conditions = status.get("conditions") or []
    if gates:
        w.write(0, "Readiness Gates:\n  Type\tStatus\n")
        for gate in gates:
            found = next((c.get("status") for c in conditions if c.get("type") == gate.get("conditionType")), None)
            w.write(1, f"{gate.get('conditionType', '')} \t{found or '<none>'} \n")
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\n")
        for c in conditions:
            w.write(1, f"{c.get('type', '')} \t{c.get('status', '')} \n")
    _volumes(w, spec.get("volumes") or [])
    w.write(0, f"QoS Class:\t{_qos(pod)}\n")
    _labels(w, "Node-Selectors", spec.get("nodeSelector"))
    _tolerations(w, spec.get("tolerations"))
    if events is not None and not events:
        w.write(0, "Events:\t<none>\n")  # in the same column block: kubectl flushes only before a table
    text = w.text()
    if events:
        text += describe_events(events, now)
    return text


def event_sort_key(event: dict) -> float:
    """kubectl's SortableEvents: by lastTimestamp (Python's sort is stable, as Go's for a short list)."""
    return _parse(event.get("lastTimestamp")) or 0.0


def describe_events(events: list[dict], now: float) -> str:
    """kubectl's DescribeEvents: `Events:  <none>`, or the Type/Reason/Age/From/Message table, the
    age of a repeated event as `<last> (xN over <first>)`."""
    if not events:
        return tabwrite("Events:\t<none>\n")
    w = PrefixWriter()
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for e in sorted(events, key=event_sort_key):
        first = _since(e.get("eventTime"), now) if e.get("eventTime") else _since(e.get("firstTimestamp"), now)
        series = e.get("series")
        if series:
            interval = f"{_since(series.get('lastObservedTime'), now)} (x{series.get('count') or 0} over {first})"
        elif (e.get("count") or 0) > 1:
            interval = f"{_since(e.get('lastTimestamp'), now)} (x{e['count']} over {first})"
        else:
            interval = first
        source = (e.get("source") or {}).get("component") or e.get("reportingComponent") or ""
        w.write(1, f"{e.get('type') or ''}\t{e.get('reason') or ''}\t{interval}\t{source}\t"
                   f"{(e.get('message') or '').strip()}\n")
    return w.text()
