"""`explain`'s view of a routing decision: the Decision as a JSON document, and as sentences.

Pure. The document is what `GET /ingressd/v1/explain` answers and `ingressd explain -o json`
prints; the sentences are rendered from the document, so the running instance and `-f` files
explain the same way. The outcome is `decide()`'s, never recomputed here.
"""

from __future__ import annotations

from ingressd.routing.balancer import Balancers
from ingressd.routing.decide import Answer, Forward, Request, decide
from ingressd.routing.gateway_match import _label
from ingressd.routing.hosts import normalize_host
from ingressd.routing.snapshot import Snapshot
from ingressd.routing.table import BackendRef, Location

PREDICTED_NET = "0."  # 0.0.0.0/8 is never a destination: endpoints predicted from manifests (`-f`) live there


def predicted_ip(n: int) -> str:
    """The n-th (from 0) address standing for a pod that `ingressd run` would start."""
    return f"0.{n >> 16 & 255}.{n >> 8 & 255}.{(n & 255)}" if n else "0.0.0.0"  # noqa: S104 - never bound


def _host_kind(rule_host: str) -> str:
    if not rule_host:
        return "catch-all (rule without host)"
    return "wildcard host" if rule_host.startswith("*.") else "exact host"


def _endpoint_docs(endpoints) -> list[dict]:
    return [{"address": e.address, "pod": e.pod, **({"predicted": True} if e.ip.startswith(PREDICTED_NET) else {})}
            for e in endpoints or ()]


def _backend_doc(snapshot: Snapshot, ref: BackendRef) -> dict:
    endpoints = snapshot.endpoints.resolve(ref)
    return {"namespace": ref.namespace, "service": ref.service, "port": ref.port, "upstream": ref.upstream_name,
            "found": endpoints is not None, "endpoints": _endpoint_docs(endpoints)}


def _rule_doc(snapshot: Snapshot, request: Request, loc: Location) -> dict:
    siblings = [f"{o.path} ({o.path_type})" for o in snapshot.table.locations if o.host == loc.host and o is not loc]
    why = "the longest matching path" if siblings else "the only path"
    if loc.config.use_regex or loc.config.rewrite_target:
        why = "regex mode for this host: the first regex (longest path first) that matches"
    return {"ingress": f"{loc.ingress_namespace}/{loc.ingress_name}", "host": loc.host, "hostKind": _host_kind(loc.host),
            "requestHost": normalize_host(request.host), "path": loc.path, "pathType": loc.path_type, "why": why,
            "otherPaths": siblings}


def _header_ops_doc(ops) -> dict:
    return {"set": [list(p) for p in ops.set], "add": [list(p) for p in ops.add], "remove": list(ops.remove)}


def http_route_document(gm, forward=None) -> dict:
    """The HTTPRoute part of an explanation (`httpRoute`): which route, rule and match served, why,
    the hostname bucket, and what the rule does (filters, weights, mirrors, timeouts); `forward`
    (the Forward's GatewayForward): the header operations with the serving backendRef's own."""
    rule = gm.rule
    doc: dict = {"hostname": gm.hostname, "why": gm.why}
    if rule is None:
        return doc
    doc.update(route=rule.route, rule=rule.rule_index, match=rule.match_index, ruleName=rule.rule_name,
               matches=rule.describe(),
               requestHeaders=_header_ops_doc(forward.request_headers if forward else rule.request_headers),
               responseHeaders=_header_ops_doc(forward.response_headers if forward else rule.response_headers),
               mirrors=[{"backend": (f"{m.backend.ref.namespace}/{m.backend.ref.service}:{m.backend.ref.port}"
                                     if m.backend.ref else None), "fraction": m.fraction} for m in rule.mirrors],
               timeouts={"request": rule.request_timeout, "backendRequest": rule.backend_timeout})
    if gm.weights:
        doc["weights"] = [{"backend": name, "probability": p} for name, p in gm.weights]
    if gm.upstream_host:
        doc["upstreamHost"] = gm.upstream_host
    return doc


def backend_refs_document(snapshot: Snapshot, rule) -> list[dict]:
    """Every backendRef of the rule that serves (`httpRoute.backendRefs`), in order: `backend`
    (namespace/service:port as `weights` names it), `weight`, `probability` (its weight over the
    rule's total, the unresolvable ones included as the draw includes them; null when every weight
    is 0), `upstream` (the name X-Ingressd-Upstream gives, null when it cannot be resolved), and
    either the Service's `namespace`, `service`, `port`, `found`, `endpoints` or the `problem`
    (`reason`, `message`: why it answers 500). What `ingressd bench` derives an HTTPRoute split from."""
    total = sum(b.weight for b in rule.backends)
    docs = []
    for b in rule.backends:
        entry: dict = {"backend": _label(b), "weight": b.weight,
                       "probability": b.weight / total if total > 0 else None,
                       "upstream": b.ref.upstream_name if b.ref is not None else None}
        if b.ref is not None:
            entry.update(_backend_doc(snapshot, b.ref))
        else:
            reason, message = b.problem or ("Unresolved", "the backendRef cannot be resolved")
            entry["problem"] = {"reason": reason, "message": message}
        docs.append(entry)
    return docs


def request_document(request: Request) -> dict:
    return {"method": request.method, "scheme": request.scheme, "host": request.host, "path": request.path,
            "headers": dict(request.headers), "cookies": dict(request.cookies),
            "contentLength": request.content_length}


def explain_document(snapshot: Snapshot, request: Request, balancers: Balancers | None = None,
                     predicted: bool = False) -> dict:
    """What `decide` makes of `request`, with what explains it: the rule and why, the backends and
    their endpoints, the canary step, affinity or hashing, and the endpoint tried first
    (`balancers`: the proxy's, so a round-robin turn is the live one). Weight draws are described
    as a probability, not drawn. `predicted`: the endpoints are the pods `ingressd run` would start."""
    decision = decide(snapshot, request, None)
    doc: dict = {"kind": "Explanation", "apiVersion": "ingressd.io/v1", "request": request_document(request),
                 "predicted": predicted}
    gm = decision.gateway.match if isinstance(decision, Forward) and decision.gateway else \
        decision.gateway if isinstance(decision, Answer) else None
    if gm is not None:
        doc["httpRoute"] = http_route_document(gm, decision.gateway if isinstance(decision, Forward) else None)
        if gm.rule is not None:
            doc["httpRoute"]["backendRefs"] = backend_refs_document(snapshot, gm.rule)
    if isinstance(decision, Answer):
        doc["outcome"] = {"action": "answer", "status": decision.status, "reason": decision.reason,
                          "headers": [list(h) for h in decision.headers]}
        if gm is not None:
            doc["rule"] = None
            if decision.match is not None and decision.match.location.backend is not None:
                doc["main"] = _backend_doc(snapshot, decision.match.location.backend)
            return doc
        if decision.match is None:
            doc["rule"] = None
            doc["hostsServed"] = sorted({loc.host or "*" for loc in snapshot.table.locations})
            return doc
        loc = decision.match.location
        doc["rule"] = _rule_doc(snapshot, request, loc)
        if loc.backend is not None:
            doc["main"] = _backend_doc(snapshot, loc.backend)
        return doc
    assert isinstance(decision, Forward)
    loc = decision.location
    if decision.pod is not None:
        target = decision.pod
        doc["rule"] = None
        doc["podName"] = {"namespace": target.namespace, "service": target.service,
                          **_endpoint_docs((target.endpoint,))[0]}
    elif gm is not None:
        doc["rule"] = None
        doc["main"] = _backend_doc(snapshot, loc.backend)
    else:
        doc["rule"] = _rule_doc(snapshot, request, loc)
        doc["main"] = _backend_doc(snapshot, loc.backend)
    if decision.upstream_path != request.path:
        doc["upstreamPath"] = decision.upstream_path
    route = loc.canary
    if route is not None:
        canary: dict = {"ingress": f"{route.ingress_namespace}/{route.ingress_name}"}
        if route.backend is not None:
            canary.update(_backend_doc(snapshot, route.backend))
        if decision.canary_skipped:
            canary["skipped"] = decision.canary_skipped
        elif decision.canary is not None:
            canary.update(step=decision.canary.step, reason=decision.canary.reason, serves=decision.canary.canary)
            if decision.canary_probability is not None:
                canary["probability"] = decision.canary_probability
        doc["canary"] = canary
    balance = decision.balance_config
    balancing: dict = {"upstream": decision.upstream_name, "loadBalance": balance.load_balance}
    affinity_mode = None
    if balance.affinity == "cookie":
        affinity_mode = balance.affinity_mode or "balanced"
        balancing.update(affinity="cookie", affinityMode=affinity_mode, cookie=balance.session_cookie_name,
                         cookieValue=decision.affinity_cookie)
    elif decision.hash_key is not None:
        balancing.update(hashBy=balance.upstream_hash_by, hashKey=decision.hash_key)
    first, why = (balancers or Balancers()).first_choice(
        decision.upstream_name, decision.endpoints, balance.load_balance, decision.affinity_cookie, affinity_mode,
        decision.hash_key)
    balancing["first"] = None if first is None else _endpoint_docs((first,))[0]
    balancing["why"] = why
    doc["balancing"] = balancing
    doc["outcome"] = {"action": "forward", "upstream": decision.upstream_name, "path": decision.upstream_path,
                      "endpoints": _endpoint_docs(decision.endpoints)}
    return doc


# ---- sentences ------------------------------------------------------------------------------

def _endpoints_line(backend: dict, consequence: str = ": requests get 503") -> str:
    if not backend.get("found", True):
        return f"  service {backend['namespace']}/{backend['service']} (port {backend['port']}) not found{consequence}"
    endpoints = backend["endpoints"]
    if not endpoints:
        return f"  no ready endpoints{consequence}"
    if all(e.get("predicted") for e in endpoints):
        return "  endpoint candidates (predicted from the manifests: the pods `ingressd run` starts): " + \
            ", ".join(e["pod"] for e in endpoints)
    return "  endpoint candidates: " + ", ".join(_endpoint_text(e) for e in endpoints)


def _endpoint_text(endpoint: dict) -> str:
    if endpoint.get("predicted"):
        return endpoint["pod"]
    return endpoint["address"] + (f" ({endpoint['pod']})" if endpoint.get("pod") else "")


def explain_lines(doc: dict) -> tuple[list[str], int]:
    """(lines to print, exit status): 0 when a route or a per-pod name matches, 1 when nothing does."""
    req = doc["request"]
    lines = [f"request: {req['method']} {req['scheme']}://{req['host']}{req['path']}"
             + "".join(f", header {k}: {v}" for k, v in req["headers"].items())
             + "".join(f", cookie {k}={v}" for k, v in req["cookies"].items())
             + (f", Content-Length {req['contentLength']}" if req.get("contentLength") is not None else "")]
    outcome = doc["outcome"]
    rule = doc.get("rule")
    route = doc.get("httpRoute")
    if route is not None:
        return _http_route_lines(doc, route, lines)
    if rule is None and "podName" not in doc:
        lines.append(f"no rule matches: the default backend answers 404 "
                     f"(hosts served: {', '.join(doc.get('hostsServed') or []) or 'none'})")
        return lines, 1
    if rule is not None:
        lines.append(f"matched: Ingress {rule['ingress']}, {rule['hostKind']} {rule['host'] or '*'!r} "
                     f"(request host {rule['requestHost']!r})")
        others = f"; other paths of this host: {', '.join(rule['otherPaths'])}" if rule["otherPaths"] else ""
        lines.append(f"  path {rule['path']!r} ({rule['pathType']}): {rule['why']}{others}")
    else:
        pod = doc["podName"]
        lines.append(f"matched: the per-pod name of pod {pod['namespace']}/{pod['pod']} behind headless Service "
                     f"{pod['namespace']}/{pod['service']}: straight to "
                     f"{'it' if pod.get('predicted') else pod['address']}, no Ingress involved")
    if outcome["action"] == "answer":
        location = next((v for k, v in outcome["headers"] if k == "Location"), None)
        lines.append(f"answered by ingressd: {outcome['status']}"
                     + (f" redirect to {location}" if location else "") + f": {outcome['reason']}")
        return lines, 0
    if "upstreamPath" in doc:
        lines.append(f"  rewritten upstream path: {doc['upstreamPath']!r}")
    main = doc.get("main")
    if main is not None:
        lines.append(f"main backend: service {main['namespace']}/{main['service']} port {main['port']} "
                     f"(upstream {main['upstream']})")
        lines.append(_endpoints_line(main))
    canary = doc.get("canary")
    if main is not None and canary is None:
        lines.append("canary: none attached to this path")
    elif canary is not None:
        if "service" not in canary:
            lines.append(f"canary: Ingress {canary['ingress']} has no service backend")
        else:
            lines.append(f"canary backend: service {canary['namespace']}/{canary['service']} port {canary['port']} "
                         f"(upstream {canary['upstream']}) from Ingress {canary['ingress']}")
            lines.append(_endpoints_line(canary, ""))
        if "skipped" in canary:
            lines.append(f"decision: canary not consulted: {canary['skipped']} -> main")
        elif "probability" in canary:
            lines.append(f"decision: weight step: {canary['reason']}")
        else:
            lines.append(f"decision: {canary['step']} step: {canary['reason']} -> "
                         f"{'canary' if canary['serves'] else 'main'}")
    balancing = doc["balancing"]
    if balancing.get("affinity") == "cookie":
        value = balancing["cookieValue"]
        lines.append(f"affinity: cookie {balancing['cookie']!r} ({balancing['affinityMode']})"
                     + (f", request carries {value!r}" if value else ", not in the request"))
    elif "hashBy" in balancing:
        lines.append(f"upstream-hash-by: {balancing['hashBy']!r} = {balancing['hashKey']!r}")
    first = balancing["first"]
    lines.append(f"first endpoint: {_endpoint_text(first) if first else 'chosen at request time'}: {balancing['why']}")
    lines.append(f"outcome: forwarded to upstream {outcome['upstream']}, path {outcome['path']!r}")
    return lines, 0


def _http_route_lines(doc: dict, route: dict, lines: list[str]) -> tuple[list[str], int]:
    outcome = doc["outcome"]
    if "route" not in route:
        lines.append(f"no HTTPRoute rule matches: {route['why']}")
        return lines, 1
    lines.append(f"matched: HTTPRoute {route['route']} rule {route['rule']} match {route['match']} "
                 f"({route['matches']}), hostname {route['hostname'] or '*'!r}")
    for side, key in (("request", "requestHeaders"), ("response", "responseHeaders")):
        ops = route[key]
        for verb in ("set", "add"):
            lines += [f"  {side} header {verb} {name}: {value}" for name, value in ops[verb]]
        lines += [f"  {side} header remove {name}" for name in ops["remove"]]
    if route.get("upstreamHost"):
        lines.append(f"  upstream Host: {route['upstreamHost']}")
    for mirror in route["mirrors"]:
        lines.append(f"  mirror to {mirror['backend'] or '(unresolved)'} ({mirror['fraction']:.0%} of requests)")
    timeouts = route["timeouts"]
    if timeouts["request"] is not None or timeouts["backendRequest"] is not None:
        lines.append(f"  timeouts: request {timeouts['request']}, backendRequest {timeouts['backendRequest']}")
    for w in route.get("weights", ()):
        lines.append(f"  weight: {w['backend']} with probability {w['probability']:.2%}")
    if outcome["action"] == "answer":
        location = next((v for k, v in outcome["headers"] if k == "Location"), None)
        lines.append(f"answered by ingressd: {outcome['status']}"
                     + (f" redirect to {location}" if location else "") + f": {outcome['reason']}")
        return lines, 0
    main = doc["main"]
    lines.append(f"backend: service {main['namespace']}/{main['service']} port {main['port']} "
                 f"(upstream {main['upstream']})")
    lines.append(_endpoints_line(main))
    if "upstreamPath" in doc:
        lines.append(f"  rewritten upstream path: {doc['upstreamPath']!r}")
    lines.append(f"outcome: forwarded to upstream {outcome['upstream']}, path {outcome['path']!r}")
    return lines, 0


def outcome_of(doc: dict) -> tuple:
    """The comparable outcome of an explanation: ("answer", status, Location) or ("forward", upstream);
    a weight step explained as a probability has no single upstream."""
    outcome = doc["outcome"]
    if outcome["action"] == "answer":
        return "answer", outcome["status"], next((v for k, v in outcome["headers"] if k == "Location"), None)
    return "forward", outcome["upstream"]
