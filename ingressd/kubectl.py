"""`ingressd get/describe/scale/delete/logs/top`: thin kubectl-like clients of the admin API.

Standard library only (urllib), so these commands start fast and need nothing the
server-side stack brings. Every failure is one line on stderr and exit status 1. What the output
looks like lives in `ingressd.kubectl_format`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, replace

from ingressd.access import TokenSearch, add_credential_flags, credentials, unauthorized_message
from ingressd.cluster.quantity import parse_quantity
from ingressd.kinds import KINDS, SCALABLE_KINDS, resolve_resource
from ingressd.kubectl_describe import describe_events, describe_pod
from ingressd.kubectl_format import (
    Table,
    describe_lines,
    dump,
    event_time,
    format_table,
    hpa_targets,
    human_duration,
    metadata_of,
    node_describe,
    routes_table,
)

__all__ = ["Client", "Kind", "add_parsers", "describe_lines", "hpa_targets", "human_duration", "run_command"]

DEFAULT_SERVER = "http://127.0.0.1:10254"


@dataclass(frozen=True)
class Kind:
    plural: str
    kind: str
    group: str = ""
    namespaced: bool = True
    scalable: bool = False
    version: str = "v1"

    @property
    def api_prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def display(self) -> str:
        """kubectl's `kind.group/name` prefix: `pod`, `deployment.apps`."""
        return f"{self.kind.lower()}.{self.group}" if self.group else self.kind.lower()

    def path(self, namespace: str | None, name: str | None = None) -> str:
        path = self.api_prefix
        if self.namespaced and namespace is not None:
            path += f"/namespaces/{urllib.parse.quote(namespace, safe='')}"
        path += f"/{self.plural}"
        if name is not None:
            path += f"/{urllib.parse.quote(name, safe='')}"
        return path


POD_METRICS = Kind("pods", "PodMetrics", "metrics.k8s.io", version="v1beta1")
NODE_METRICS = Kind("nodes", "NodeMetrics", "metrics.k8s.io", namespaced=False, version="v1beta1")
# kind -> its Kind, for every kind of the registry (ingressd.kinds), which also resolves the names.
_KINDS: dict[str, Kind] = {
    info.kind: Kind(info.plural, info.kind, info.group, info.namespaced, info.scale, info.version) for info in KINDS
}


class CLIError(Exception):
    """A one-line failure for stderr."""


def resolve_kind(text: str) -> Kind:
    """KIND as kubectl resolves it: plural, singular or short name, optionally `.group` qualified."""
    info = resolve_resource(text)
    if info is None:
        raise CLIError(f'error: the server doesn\'t have a resource type "{text}"')
    kind = _KINDS[info.kind]
    for version in info.versions:  # `httproutes.v1beta1.gateway.networking.k8s.io`: at that version
        if version != kind.version and text.lower().endswith(f".{version}.{info.group}"):
            return replace(kind, version=version)
    return kind


# -- HTTP ---------------------------------------------------------------------------------------


class Client:
    def __init__(self, server: str, timeout: float = 10.0, token: str | None = None,
                 search: TokenSearch | None = None) -> None:
        """`token`: the admin API's bearer token (ingressd.access.find_token), `search` where it was
        looked for (named when the server answers 401)."""
        self.server = server.rstrip("/")
        self.timeout = timeout
        self.search = search or TokenSearch(token)
        self.token = token if token is not None else self.search.token

    def _open(self, method: str, path: str, query: dict | None = None, body: bytes | None = None,
              content_type: str | None = None, timeout: float | None = -1):
        url = self.server + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        request = urllib.request.Request(url, data=body, method=method)
        request.add_header("Accept", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout if timeout == -1 else timeout)
        except urllib.error.HTTPError as err:
            if err.code == 401:
                err.close()
                raise CLIError(unauthorized_message(self.server, self.search)) from None
            raise CLIError(_server_error(err)) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise CLIError(
                f"error: cannot reach the ingressd admin API at {self.server} ({reason}); "
                "is `ingressd run` running? (set --server or INGRESSD_SERVER)"
            ) from None

    def json(self, method: str, path: str, query: dict | None = None, body: dict | None = None,
             content_type: str = "application/json") -> dict:
        data = None if body is None else json.dumps(body).encode()
        with self._open(method, path, query, data, content_type if data is not None else None) as resp:
            raw = resp.read()
        try:
            return json.loads(raw)
        except ValueError:
            raise CLIError(f"error: the server at {self.server} did not answer JSON for {path}") from None

    def text(self, path: str, query: dict | None = None) -> bytes:
        with self._open("GET", path, query) as resp:
            return resp.read()

    def stream(self, path: str, query: dict | None = None):
        """Yield the body in pieces as the server sends them (no timeout: it may never end)."""
        with self._open("GET", path, query, timeout=None) as resp:
            while chunk := resp.read1(65536):
                yield chunk

    def watch(self, path: str, query: dict | None = None):
        """Yield watch events until the server ends the stream after the `timeoutSeconds` asked for.
        CLIError when it ends otherwise (the server went away: stopped, killed, unreachable) or
        sends an ERROR event: a watch that stops silently reads as "nothing changed"."""
        query = {**(query or {}), "watch": "true"}
        resp = self._open("GET", path, query, timeout=None)
        with resp:
            try:
                for line in resp:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise CLIError(f"Error from server ({status.get('reason') or status.get('code') or 'Error'}): "
                                       f"{status.get('message', '')}")
                    yield event
            except (OSError, http.client.HTTPException, ValueError) as err:
                raise CLIError(f"error: lost the connection to the ingressd admin API at {self.server} during the "
                               f"watch ({type(err).__name__}: {err}); is `ingressd run` still running?") from None
        if "timeoutSeconds" not in query:
            raise CLIError(f"error: the ingressd admin API at {self.server} ended the watch (the server stopped?); "
                           "is `ingressd run` still running?")


def _server_error(err: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(err.read())
    except (ValueError, OSError):
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        return f"Error from server ({body.get('reason') or err.code}): {body.get('message', '')}"
    return f"Error from server: HTTP {err.code} {err.reason}"


# -- commands -----------------------------------------------------------------------------------


def add_parsers(sub) -> None:
    """The kubectl-like subcommands, added to ingressd's subparsers."""

    def common(p, namespaced=True):
        p.add_argument("--server", default=None, metavar="URL",
                       help=f"the admin API (default: $INGRESSD_SERVER or {DEFAULT_SERVER})")
        add_credential_flags(p)
        if namespaced:
            p.add_argument("-n", "--namespace", default="default", metavar="NS", help="namespace (default: default)")

    get = sub.add_parser("get", help="list or show objects of the running ingressd, like kubectl get")
    get.add_argument("kind", metavar="KIND", help="pods (po), services (svc), deployments (deploy), statefulsets (sts), "
                     "replicasets (rs), endpointslices, endpoints (ep), ingresses (ing), pvc, events (ev), ...")
    get.add_argument("name", nargs="?", metavar="NAME")
    common(get)
    get.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")
    get.add_argument("-o", "--output", choices=("wide", "json", "yaml"), default=None)
    get.add_argument("-l", "--selector", default=None, metavar="SELECTOR", help="label selector")
    get.add_argument("-w", "--watch", action="store_true", help="after listing, print changes as they happen")

    describe = sub.add_parser("describe", help="show an object's details and its events")
    describe.add_argument("kind", metavar="KIND")
    describe.add_argument("name", metavar="NAME")
    common(describe)

    scale = sub.add_parser("scale", help="set the replicas of a Deployment, StatefulSet or ReplicaSet")
    scale.add_argument("target", metavar="KIND/NAME", help="e.g. deployment/web or sts/db")
    scale.add_argument("--replicas", type=int, required=True, metavar="N")
    common(scale)

    delete = sub.add_parser("delete", help="delete a pod (gracefully, as the API server does)")
    delete.add_argument("kind", metavar="KIND", choices=("pod", "pods", "po"), help="pod")
    delete.add_argument("names", nargs="+", metavar="NAME")
    delete.add_argument("--grace-period", type=int, default=None, metavar="SECONDS",
                        help="override the pod's terminationGracePeriodSeconds (0: at once)")
    common(delete)

    logs = sub.add_parser("logs", help="print a pod container's captured output")
    logs.add_argument("pod", metavar="POD")
    logs.add_argument("-c", "--container", default=None, metavar="NAME")
    logs.add_argument("--tail", type=int, default=None, metavar="N", help="only the last N lines")
    logs.add_argument("-p", "--previous", action="store_true",
                      help="the output of the container's previous instance (before its last restart)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing what the container writes")
    common(logs)


    top = sub.add_parser("top", help="CPU and memory of pods or nodes, from metrics-server")
    top.add_argument("what", metavar="pods|nodes", choices=("pod", "pods", "po", "node", "nodes", "no"))
    top.add_argument("name", nargs="?", metavar="NAME")
    common(top)
    top.add_argument("-A", "--all-namespaces", action="store_true", help="pods across all namespaces")
    top.add_argument("-l", "--selector", default=None, metavar="SELECTOR", help="label selector")
    top.add_argument("--containers", action="store_true", help="one line per container (pods)")

    routes = sub.add_parser("routes", help="every host/path the running ingressd routes: backend, canary, "
                            "ready/total endpoints, TLS")
    routes.add_argument("--admin", "--server", dest="server", default=None, metavar="URL",
                        help=f"the admin API (default: $INGRESSD_SERVER or {DEFAULT_SERVER})")
    routes.add_argument("-o", "--output", choices=("wide", "json", "yaml"), default=None)
    add_credential_flags(routes)


COMMANDS = ("get", "describe", "scale", "delete", "logs", "top", "routes")


def run_command(args: argparse.Namespace) -> int:
    server = args.server or os.environ.get("INGRESSD_SERVER") or DEFAULT_SERVER
    client = Client(server, search=credentials(server, args))
    try:
        return {"get": _get, "describe": _describe, "scale": _scale, "delete": _delete, "logs": _logs,
                "top": _top, "routes": _routes}[args.command](
            client, args
        )
    except CLIError as err:
        sys.stdout.flush()
        print(err, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _get(client: Client, args: argparse.Namespace) -> int:
    kind = resolve_kind(args.kind)
    namespace = None if args.all_namespaces else args.namespace
    if args.name and args.all_namespaces:
        raise CLIError("error: a resource cannot be retrieved by name across all namespaces")
    query = {"labelSelector": args.selector} if args.selector else {}
    table = Table(kind, args.output == "wide", namespace is None)
    out = sys.stdout
    if args.name:
        obj = client.json("GET", kind.path(namespace, args.name))
        objs = [obj]
        listed_at = metadata_of(obj).get("resourceVersion")
        if args.output in ("json", "yaml"):
            out.write(dump(obj, args.output))
    else:
        body = client.json("GET", kind.path(namespace), query)
        objs = body.get("items") or []
        listed_at = (body.get("metadata") or {}).get("resourceVersion")
        if args.output in ("json", "yaml"):
            out.write(dump({"apiVersion": "v1", "kind": "List", "items": objs,
                             "metadata": {"resourceVersion": ""}}, args.output))
        if kind.kind == "Event":
            objs.sort(key=lambda o: event_time(o) or 0)
    if args.output not in ("json", "yaml"):
        now = time.time()
        if objs:
            out.write(format_table([table.header] + [table.row(o, now) for o in objs]))
        elif not args.watch:
            where = "" if namespace is None or not kind.namespaced else f" in {namespace} namespace"
            print(f"No resources found{where}.", file=sys.stderr)
    out.flush()
    if not args.watch:
        return 0
    if args.name:
        query["fieldSelector"] = f"metadata.name={args.name}"
    widths = [len(h) for h in table.header]
    # From the list's resourceVersion: exactly what changed after it, nothing printed twice.
    for event in client.watch(kind.path(namespace), {**query, "resourceVersion": listed_at or None}):
        if event.get("type") == "BOOKMARK":
            continue
        obj = event.get("object") or {}
        if args.output in ("json", "yaml"):
            out.write(dump(obj, args.output) if args.output == "json" else "---\n" + dump(obj, "yaml"))
        else:
            row = table.row(obj, time.time())
            if not objs and widths == [len(h) for h in table.header]:
                widths = [max(len(h), len(c)) for h, c in zip(table.header, row)]
                out.write("   ".join(h.ljust(w) for h, w in zip(table.header, widths)).rstrip() + "\n")
            out.write("   ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() + "\n")
        out.flush()
    return 0


def _describe(client: Client, args: argparse.Namespace) -> int:
    kind = resolve_kind(args.kind)
    namespace = args.namespace if kind.namespaced else None
    obj = client.json("GET", kind.path(namespace, args.name))
    lines = describe_lines(kind, obj) if kind.kind != "Pod" else []  # a Pod: describe_pod, below
    if kind.kind == "Node":
        pods = client.json("GET", resolve_kind("pods").path(None), {"fieldSelector": f"spec.nodeName={args.name}"})
        lines += node_describe(obj, pods.get("items") or [], time.time())
    events = []
    if kind.kind != "Event":
        uid = metadata_of(obj).get("uid")
        # Events about cluster-scoped objects (Nodes) are recorded in the default namespace.
        body = client.json("GET", resolve_kind("events").path(namespace if kind.namespaced else "default"),
                           {"fieldSelector": f"involvedObject.name={args.name}"})
        events = [e for e in body.get("items") or []
                  if (e.get("involvedObject") or {}).get("kind") in (None, kind.kind)
                  and (not uid or (e.get("involvedObject") or {}).get("uid") in (None, uid))]
    if kind.kind == "Pod":  # kubectl's own layout (ingressd.kubectl_describe)
        sys.stdout.write(describe_pod(obj, events, time.time()))
        return 0
    if kind.kind != "Event":
        lines.append("Events:            <none>" if not events else describe_events(events, time.time()).rstrip("\n"))
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _scale(client: Client, args: argparse.Namespace) -> int:
    kind_text, slash, name = args.target.partition("/")
    if not slash or not name:
        raise CLIError(f"error: expected KIND/NAME (e.g. deployment/web), got {args.target!r}")
    kind = resolve_kind(kind_text)
    if not kind.scalable:
        scalable = sorted(_KINDS[k].plural for k in SCALABLE_KINDS)
        raise CLIError(f"error: {kind.plural} cannot be scaled (only {', '.join(scalable[:-1])} and {scalable[-1]})")
    if args.replicas < 0:
        raise CLIError("error: --replicas must be 0 or more")
    client.json("PATCH", kind.path(args.namespace, name) + "/scale", body={"spec": {"replicas": args.replicas}},
                content_type="application/merge-patch+json")
    print(f"{kind.display}/{name} scaled")
    return 0


def _delete(client: Client, args: argparse.Namespace) -> int:
    kind = resolve_kind("pods")
    query = {"gracePeriodSeconds": args.grace_period} if args.grace_period is not None else None
    status = 0
    for name in args.names:
        try:
            client.json("DELETE", kind.path(args.namespace, name), query)
        except CLIError as err:
            if "cannot reach" in str(err):
                raise
            print(err, file=sys.stderr)
            status = 1
            continue
        print(f'pod "{name}" deleted')
    return status


def _logs(client: Client, args: argparse.Namespace) -> int:
    pod = args.pod.removeprefix("pod/").removeprefix("pods/")
    query = {"container": args.container, "tailLines": args.tail,
             "previous": "true" if args.previous else None, "follow": "true" if args.follow else None}
    path = resolve_kind("pods").path(args.namespace, pod) + "/log"
    chunks = client.stream(path, query) if args.follow else [client.text(path, query)]
    for data in chunks:
        if hasattr(sys.stdout, "buffer"):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data.decode(errors="replace"))
        sys.stdout.flush()
    return 0


def _top(client: Client, args: argparse.Namespace) -> int:
    """kubectl top: CPU in millicores, memory in Mi, node percentages of allocatable."""
    query = {"labelSelector": args.selector} if args.selector else {}
    nodes = args.what in ("node", "nodes", "no")
    kind = NODE_METRICS if nodes else POD_METRICS
    namespace = None if args.all_namespaces else args.namespace
    if args.name:
        items = [client.json("GET", kind.path(namespace, args.name))]
    else:
        items = client.json("GET", kind.path(namespace), query).get("items") or []
    if not items:
        what = "nodes" if nodes else "pods"
        where = "" if nodes or namespace is None else f" in {namespace} namespace"
        raise CLIError(f"error: metrics not available yet for {what}{where} "
                       "(metrics-server needs two samples, --metric-resolution apart)")
    if nodes:
        allocatable = {}
        for node in client.json("GET", resolve_kind("nodes").path(None)).get("items") or []:
            status = node.get("status") or {}
            allocatable[metadata_of(node).get("name")] = status.get("allocatable") or status.get("capacity") or {}
        rows = [["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]]
        for item in sorted(items, key=lambda i: metadata_of(i).get("name", "")):
            cpu, memory = _number(item["usage"].get("cpu", "0")), _number(item["usage"].get("memory", "0"))
            alloc = allocatable.get(metadata_of(item).get("name"), {})
            cpu_total, memory_total = _number(alloc.get("cpu", "0")), _number(alloc.get("memory", "0"))
            rows.append([metadata_of(item).get("name", ""), f"{round(cpu * 1000)}m",
                         f"{int(cpu * 100 / cpu_total)}%" if cpu_total else "<unknown>",
                         f"{int(memory / 2**20)}Mi", f"{int(memory * 100 / memory_total)}%" if memory_total else "<unknown>"])
    else:
        header = ["NAMESPACE"] if namespace is None else []
        header += ["POD", "NAME"] if args.containers else ["NAME"]
        rows = [header + ["CPU(cores)", "MEMORY(bytes)"]]
        for item in sorted(items, key=lambda i: (metadata_of(i).get("namespace", ""), metadata_of(i).get("name", ""))):
            prefix = [metadata_of(item).get("namespace", "")] if namespace is None else []
            containers = item.get("containers") or []
            if args.containers:
                for c in containers:
                    rows.append(prefix + [metadata_of(item).get("name", ""), c.get("name", ""),
                                          f"{round(_number(c['usage'].get('cpu', '0')) * 1000)}m",
                                          f"{int(_number(c['usage'].get('memory', '0')) / 2**20)}Mi"])
            else:
                cpu = sum(_number(c["usage"].get("cpu", "0")) for c in containers)
                memory = sum(_number(c["usage"].get("memory", "0")) for c in containers)
                rows.append(prefix + [metadata_of(item).get("name", ""), f"{round(cpu * 1000)}m", f"{int(memory / 2**20)}Mi"])
    sys.stdout.write(format_table(rows))
    return 0


def _routes(client: Client, args: argparse.Namespace) -> int:
    body = client.json("GET", "/ingressd/v1/routes")
    if args.output in ("json", "yaml"):
        sys.stdout.write(dump(body, args.output))
        return 0
    routes = body.get("routes") or []
    if not routes:
        print("No routes: no served Ingress has a rule or a defaultBackend.", file=sys.stderr)
        return 0
    sys.stdout.write(format_table(routes_table(routes, args.output == "wide")))
    return 0


def _number(quantity: str) -> float:
    """A quantity in base units (cores, bytes)."""
    return float(parse_quantity(quantity))
