"""`GET /ingressd/v1/canaries`: each canary attached to a main backend, with its traffic policy.

`ingressd bench` reads it for the expected shares; users read it to see what attached where.
"""

from __future__ import annotations

from ingressd.routing.table import RouteTable


def canary_documents(table: RouteTable) -> list[dict]:
    items = []
    for loc in table.locations:
        route = loc.canary
        if route is None or loc.backend is None:
            continue
        cfg = route.canary
        items.append({
            "host": loc.host,
            "path": loc.path,
            "pathType": loc.path_type,
            "ingress": f"{loc.ingress_namespace}/{loc.ingress_name}",
            "main": loc.backend.upstream_name,
            "canary": route.backend.upstream_name if route.backend else None,
            "canaryIngress": f"{route.ingress_namespace}/{route.ingress_name}",
            "weight": cfg.weight,
            "weightTotal": cfg.weight_total if cfg.weight_total > 100 else 100,
            "byHeader": cfg.by_header,
            "byHeaderValue": cfg.by_header_value,
            "byHeaderPattern": cfg.by_header_pattern,
            "byCookie": cfg.by_cookie,
        })
    return items
