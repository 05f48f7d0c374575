"""Kubernetes REST shape over the store, so kubectl-style tools and scripts can
inspect what ingressd derived (pods, endpoint slices, ...) and poke at it.

Served: list/get (with `labelSelector`, a few `fieldSelector` paths and `watch=true`
streams), `DELETE` of pods (graceful), `pods/{name}/log`, and the `scale` subresource
of Deployments and StatefulSets (GET, merge-PATCH of spec.replicas). Every error is a
Kubernetes `Status` object.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from aiohttp import web

from ingressd.admin.http import (  # noqa: F401 - status_response etc. are also this module's API
    invalid, json_response, method_not_allowed, not_found, path_not_found, read_json_body, render_object,
    status_response)
from ingressd.admin.keys import COMPUTED_KEY, LOGS_DIR_KEY, STORE_KEY, WATCHES_KEY  # noqa: F401
from ingressd.admin.label_selector import LabelSelectorError, parse_label_selector
from ingressd.admin.printing import ReadView, read_view
from ingressd.admin.resources import APIResource, find_resource
from ingressd.admin.writes import serve_subresource_write, serve_write
from ingressd.apimachinery.scale import scale_object
from ingressd.pods.container_log import LogFollower


_READ_METHODS = ("GET", "HEAD")


def add_routes(app: web.Application) -> None:
    """Register discovery and resource routes; the store is read from app[STORE_KEY]."""
    app[WATCHES_KEY] = set()
    app.on_shutdown.append(_end_watches)
    r = app.router  # discovery (/, /api, /apis, ...) is ingressd.admin.discovery's
    for prefix in ("/api/{version}", "/apis/{group}/{version}"):
        r.add_route("*", prefix + "/{resource}", _serve)
        r.add_route("*", prefix + "/{resource}/{name}", _serve)
        r.add_route("*", prefix + "/namespaces/{namespace}/{resource}", _serve)
        r.add_route("*", prefix + "/namespaces/{namespace}/{resource}/{name}", _serve)
        r.add_route("*", prefix + "/namespaces/{namespace}/{resource}/{name}/{subresource}", _serve_subresource)
        # Cluster-scoped kinds' subresources (nodes/{name}/status); after the namespaced routes,
        # which win for /namespaces/{ns}/{resource}/{name}.
        r.add_route("*", prefix + "/{resource}/{name}/{subresource}", _serve_subresource)


async def _serve(request: web.Request) -> web.StreamResponse:
    info = request.match_info
    resource = find_resource(info.get("group", ""), info["version"], info["resource"])
    namespace = info.get("namespace")
    name = info.get("name")
    if resource is None and namespace is not None and name is None and not info.get("group"):
        # /api/v1/namespaces/{name}/status: a Namespace's subresource, not a resource in it
        namespaces = find_resource("", info["version"], "namespaces")
        if namespaces is not None and info["resource"] in namespaces.subresources:
            return await _subresource(request, namespaces, "", namespace, info["resource"])
    if resource is None or (namespace is not None and not resource.namespaced):
        return path_not_found()
    if resource.namespaced and namespace is None and name is not None:
        return path_not_found()  # /api/v1/pods/x: a namespaced object needs its namespace
    if request.method not in _READ_METHODS:
        if resource.computed:
            return method_not_allowed(_READ_METHODS)
        return await serve_write(request, resource, namespace if resource.namespaced else "", name,
                                 field_selector=_parse_field_selector)
    if resource.computed:
        return _serve_computed(request, resource, namespace, name)
    store = request.app[STORE_KEY]
    view, refused = read_view(request, resource)  # JSON or a server-side Table, as Accept asks
    if refused is not None:
        return refused
    if name is None:
        try:
            selects = parse_label_selector(request.query.get("labelSelector", ""))
            fields = _parse_field_selector(request.query.get("fieldSelector", ""))
        except LabelSelectorError as e:
            return status_response(400, "BadRequest", str(e))
        if request.query.get("watch", "").lower() in ("true", "1"):
            return await _watch(request, resource, namespace, lambda o: selects(_labels(o)) and fields(o), view)
        return json_response(_list_body(store, resource, namespace, lambda o: selects(_labels(o)) and fields(o), view))
    ns = namespace if resource.namespaced else ""
    obj = store.get(resource.kind, ns, name)
    if obj is None:
        return not_found(resource, name)
    return json_response(view.object_body(obj))


def _serve_computed(request: web.Request, resource: APIResource, namespace: str | None, name: str | None) -> web.Response:
    """metrics.k8s.io: documents from the app's provider (metrics-server), listed or got by name."""
    provider = request.app[COMPUTED_KEY].get(resource.kind)
    documents = provider(namespace) if provider is not None else []
    if name is not None:
        for doc in documents:
            if doc["metadata"]["name"] == name:
                return json_response(doc)
        return not_found(resource, name)
    try:
        selects = parse_label_selector(request.query.get("labelSelector", ""))
    except LabelSelectorError as e:
        return status_response(400, "BadRequest", str(e))
    return json_response({
        "kind": f"{resource.kind}List",
        "apiVersion": resource.api_version,
        "metadata": {},
        "items": [d for d in documents if selects(_labels(d))],
    })


CUSTOM_METRICS_GROUP = "custom.metrics.k8s.io"


def _custom_metric(request: web.Request, namespace: str, name: str, metric: str) -> web.Response:
    """custom.metrics.k8s.io/v1beta2 .../namespaces/{ns}/pods/{name|*}/{metric}: the proxy's
    per-pod traffic, as a metrics adapter would serve it to the HPA."""
    if request.method not in _READ_METHODS:
        return method_not_allowed(_READ_METHODS)
    provider = request.app[COMPUTED_KEY].get("MetricValue")
    items = provider(namespace, metric) if provider is not None else None
    if items is None:
        return status_response(404, "NotFound", f'the server could not find the metric {metric} for pods')
    try:
        selects = parse_label_selector(request.query.get("labelSelector", ""))
    except LabelSelectorError as e:
        return status_response(400, "BadRequest", str(e))
    store = request.app[STORE_KEY]
    chosen = []
    for item in items:
        pod = store.get("Pod", namespace, item["describedObject"]["name"])
        if pod is None or (name != "*" and item["describedObject"]["name"] != name) or not selects(_labels(pod)):
            continue
        chosen.append(item)
    if name != "*" and not chosen:
        return status_response(404, "NotFound", f'the server could not find the metric {metric} for pods {name}')
    return json_response({"kind": "MetricValueList", "apiVersion": f"{CUSTOM_METRICS_GROUP}/v1beta2",
                           "metadata": {}, "items": chosen})


def _labels(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("labels") or {}


_FIELD_PATHS = {
    "metadata.name": lambda o: (o.get("metadata") or {}).get("name", ""),
    "metadata.namespace": lambda o: (o.get("metadata") or {}).get("namespace", ""),
    "involvedObject.name": lambda o: (o.get("involvedObject") or {}).get("name", ""),
    "involvedObject.kind": lambda o: (o.get("involvedObject") or {}).get("kind", ""),
    "involvedObject.uid": lambda o: (o.get("involvedObject") or {}).get("uid", ""),
    # the rest of the Event fields kube-apiserver selects on (kubectl events --for, describe)
    "involvedObject.namespace": lambda o: (o.get("involvedObject") or {}).get("namespace", ""),
    "involvedObject.apiVersion": lambda o: (o.get("involvedObject") or {}).get("apiVersion", ""),
    "involvedObject.resourceVersion": lambda o: (o.get("involvedObject") or {}).get("resourceVersion", ""),
    "involvedObject.fieldPath": lambda o: (o.get("involvedObject") or {}).get("fieldPath", ""),
    "reason": lambda o: o.get("reason", ""),
    "reportingComponent": lambda o: o.get("reportingComponent", ""),
    "source": lambda o: (o.get("source") or {}).get("component", ""),
    "type": lambda o: o.get("type", ""),
    "spec.nodeName": lambda o: (o.get("spec") or {}).get("nodeName", ""),
    "status.phase": lambda o: (o.get("status") or {}).get("phase", ""),
}


def _parse_field_selector(text: str):
    """`a=b,c!=d` over a few well-known field paths (as the API server, which supports only some)."""
    tests = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        if "!=" in term:
            path, value = term.split("!=", 1)
            negate = True
        else:
            path, _, value = term.replace("==", "=", 1).partition("=")
            negate = False
            if not _:
                raise LabelSelectorError(f"invalid field selector: {term!r}")
        getter = _FIELD_PATHS.get(path.strip())
        if getter is None:
            raise LabelSelectorError(f'field label not supported: "{path.strip()}"')
        tests.append((getter, value.strip(), negate))
    return lambda obj: all((str(get(obj)) == value) != negate for get, value, negate in tests)


# -- watch ---------------------------------------------------------------------------------------

_WATCH_END = object()
# How often an idle watch checks that its client is still connected (so it unsubscribes).
_WATCH_POLL_SECONDS = 0.5
BOOKMARK_SECONDS = 60.0  # how often an idle watch with allowWatchBookmarks gets a BOOKMARK (as the API server)


async def _end_watches(app: web.Application) -> None:
    """Server shutdown: every open watch stream ends cleanly (and unsubscribes)."""
    for queue in list(app[WATCHES_KEY]):
        queue.put_nowait(_WATCH_END)


async def _watch(request: web.Request, resource: APIResource, namespace: str | None, matches,
                 view: ReadView | None = None) -> web.StreamResponse:
    """Newline-delimited watch events, with the API server's resourceVersion semantics.

    No `resourceVersion` (or "0"): ADDED for what exists, then the changes. `resourceVersion` N:
    exactly the changes after N (deletions included) from the store's history, then live ones; 410
    Gone ("too old resource version") when the history no longer reaches back to N, so a client
    relists. `allowWatchBookmarks=true` adds BOOKMARK events carrying the current resourceVersion
    every BOOKMARK_SECONDS; `timeoutSeconds` ends the stream after that long.
    """
    store = request.app[STORE_KEY]
    view = view or ReadView(resource)
    try:
        since = int(request.query.get("resourceVersion") or 0)
        timeout = float(request.query["timeoutSeconds"]) if "timeoutSeconds" in request.query else None
    except ValueError:
        return status_response(400, "BadRequest", "resourceVersion and timeoutSeconds must be numbers")
    bookmarks = request.query.get("allowWatchBookmarks", "").lower() in ("true", "1")
    queue: asyncio.Queue = asyncio.Queue()
    ns = namespace if resource.namespaced else None

    def on_change(event_type: str, obj: dict) -> None:
        if obj.get("kind") != resource.kind or not matches(obj):
            return
        if ns is not None and (obj.get("metadata") or {}).get("namespace", "") != ns:
            return
        queue.put_nowait((event_type, obj))

    # Subscribe before listing, in the same synchronous step: no change can fall in between.
    unsubscribe = store.subscribe(on_change)
    watches = request.app[WATCHES_KEY]
    watches.add(queue)
    try:
        if since == 0:
            for obj in store.list(resource.kind, ns):
                if matches(obj):
                    queue.put_nowait(("ADDED", obj))
        else:
            history = store.events_since(since)
            if history is None:
                return status_response(410, "Expired", f"too old resource version: {since} "
                                                       f"({store.oldest_resource_version() - 1})")
            for event_type, obj in history:
                on_change(event_type, obj)
        response = web.StreamResponse(headers={"Content-Type": "application/json", "Cache-Control": "no-cache"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        next_bookmark = loop.time() + BOOKMARK_SECONDS
        while True:
            if deadline is not None and loop.time() >= deadline:
                break
            if bookmarks and loop.time() >= next_bookmark:
                next_bookmark = loop.time() + BOOKMARK_SECONDS
                mark = {"type": "BOOKMARK", "object": view.bookmark_object(str(store.resource_version))}
                try:
                    await response.write(json.dumps(mark, separators=(",", ":")).encode() + b"\n")
                except (ConnectionError, RuntimeError):
                    break
            wait = _WATCH_POLL_SECONDS if deadline is None else min(_WATCH_POLL_SECONDS, deadline - loop.time())
            try:
                async with asyncio.timeout(max(0.0, wait)):
                    item = await queue.get()
            except TimeoutError:
                if request.transport is None or request.transport.is_closing():
                    break  # the client went away while nothing changed
                continue
            if item is _WATCH_END:
                break
            event_type, obj = item
            line = json.dumps({"type": event_type, "object": view.event_object(obj)}, separators=(",", ":"))
            try:
                await response.write(line.encode() + b"\n")
            except (ConnectionError, RuntimeError):
                break  # the client went away
        try:
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass
        return response
    finally:
        unsubscribe()
        watches.discard(queue)


# -- pods: delete, log ---------------------------------------------------------------------------


async def _serve_subresource(request: web.Request) -> web.StreamResponse:
    info = request.match_info
    if info.get("group") == CUSTOM_METRICS_GROUP and info["version"] == "v1beta2" and info["resource"] == "pods" \
            and "namespace" in info:
        return _custom_metric(request, info["namespace"], info["name"], info["subresource"])
    resource = find_resource(info.get("group", ""), info["version"], info["resource"])
    namespace = info.get("namespace")
    if resource is None or resource.namespaced != (namespace is not None):
        return path_not_found()
    return await _subresource(request, resource, namespace or "", info["name"], info["subresource"])


async def _subresource(request: web.Request, resource: APIResource, namespace: str, name: str,
                       sub: str) -> web.StreamResponse:
    """{resource}/{name}/{sub} (`namespace` "" for a cluster-scoped kind)."""
    if sub not in resource.subresources:
        return path_not_found()
    if sub == "log":
        if request.method not in _READ_METHODS:
            return method_not_allowed(_READ_METHODS)
        return await _pod_log(request, resource, namespace, name)
    if sub in ("status", "scale") and request.method not in _READ_METHODS:
        return await serve_subresource_write(request, resource, namespace, name, sub)
    if sub == "status":
        obj = request.app[STORE_KEY].get(resource.kind, namespace, name)
        return not_found(resource, name) if obj is None else json_response(render_object(resource, obj))
    return await _scale(request, resource, namespace, name)


async def _pod_log(request: web.Request, resource: APIResource, namespace: str, name: str) -> web.StreamResponse:
    """GET .../pods/{name}/log: `container`, `tailLines`, `previous` (the last instance before a
    restart) and `follow` (stream what is appended until the pod is gone or the client leaves)."""
    store = request.app[STORE_KEY]
    pod = store.get("Pod", namespace, name)
    if pod is None:
        return not_found(resource, name)
    containers = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    container = request.query.get("container")
    if not container:
        if len(containers) != 1:
            return status_response(
                400, "BadRequest",
                f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]",
            )
        container = containers[0]
    elif container not in containers:
        return status_response(
            400, "BadRequest", f"container {container} is not valid for pod {name}"
        )
    previous = _query_bool(request, "previous")
    follow = _query_bool(request, "follow")
    if previous is None or follow is None:
        return status_response(400, "BadRequest", "previous and follow must be true or false")
    logs_dir = request.app[LOGS_DIR_KEY]
    suffix = ".previous.log" if previous else ".log"
    path = Path(logs_dir) / namespace / name / f"{container}{suffix}" if logs_dir is not None else None
    try:
        if path is None:
            raise FileNotFoundError
        follower = LogFollower(path) if follow and not previous else None  # it reads across rotations
        data = path.read_bytes() if follower is None else follower.read_new()
    except (FileNotFoundError, NotADirectoryError):
        if previous:
            return status_response(
                400, "BadRequest", f'previous terminated container "{container}" in pod "{name}" not found'
            )
        return status_response(
            404, "NotFound", f"logs are not captured for pod {namespace}/{name} container {container}",
            {"name": name, "kind": "pods"},
        )
    tail = request.query.get("tailLines")
    if tail is not None:
        try:
            count = max(0, int(tail))
        except ValueError:
            if follower is not None:
                follower.close()
            return status_response(400, "BadRequest", "tailLines must be an integer")
        lines = data.splitlines(keepends=True)
        data = b"".join(lines[len(lines) - count:]) if count else b""
    if not follow or previous:
        return web.Response(body=data, content_type="text/plain", charset="utf-8")
    return await _follow_log(request, follower, data, pod["metadata"].get("uid"))


LOG_FOLLOW_POLL = 0.2  # seconds between looks at a followed log file


async def _follow_log(request: web.Request, follower: LogFollower, head: bytes, uid: str | None) -> web.StreamResponse:
    """Stream `head`, then whatever is appended to the log (across a size rotation or a restart:
    LogFollower), until that pod (by uid) is gone."""
    store = request.app[STORE_KEY]
    path = follower.path
    namespace, name = path.parent.parent.name, path.parent.name
    response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    try:
        await response.prepare(request)
        await response.write(head)
        while True:
            pod = store.get("Pod", namespace, name)
            chunk = follower.read_new()
            if chunk:
                await response.write(chunk)
            if pod is None or pod["metadata"].get("uid") != uid:
                break
            if request.transport is None or request.transport.is_closing():
                break
            await asyncio.sleep(LOG_FOLLOW_POLL)
    finally:
        follower.close()
    await response.write_eof()
    return response


def _query_bool(request: web.Request, key: str) -> bool | None:
    value = request.query.get(key, "false").lower()
    return {"true": True, "1": True, "false": False, "0": False, "": True}.get(value)


# -- scale ---------------------------------------------------------------------------------------


async def _scale(request: web.Request, resource: APIResource, namespace: str, name: str) -> web.Response:
    """GET …/scale; PUT and PATCH are admin/writes.py's."""
    obj = request.app[STORE_KEY].get(resource.kind, namespace, name)
    return not_found(resource, name) if obj is None else json_response(scale_object(obj))


def _list_body(store, resource: APIResource, namespace: str | None, matches, view: ReadView | None = None) -> dict:
    objs = store.list(resource.kind, namespace if resource.namespaced else None)
    objs = [o for o in objs if matches(o)]
    objs.sort(key=lambda o: ((o.get("metadata") or {}).get("namespace", ""), (o.get("metadata") or {}).get("name", "")))
    if view is not None and view.converts:  # a Table or a PartialObjectMetadataList
        return view.list_body(objs, str(store.resource_version))
    return {
        "kind": f"{resource.kind}List",
        "apiVersion": resource.api_version,
        "metadata": {"resourceVersion": str(store.resource_version)},
        "items": [render_object(resource, o) for o in objs],
    }
