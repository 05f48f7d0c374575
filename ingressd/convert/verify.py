"""`ingressd convert --verify`: both configurations side by side, the same requests to each.

Two `ingressd run` subprocesses on free loopback ports with temporary state dirs (nothing is
written outside one temporary directory): the original manifests, and the converted Gateway API
objects plus every original object that is not an Ingress or IngressClass (Services, Deployments,
Secrets..., so both have the same backends) and the Secrets ingressd's local CA issues for
`ingressd.io/local-ca` Ingresses (both runs share that CA, which the client trusts).

The request set comes from the original route table: every host x path kind (each Exact path,
each prefix and a path under it, a path no rule matches) x canary header/cookie value (absent,
always, never, the by-header-value) x scheme (https for hosts with TLS, with SNI), plus random
samples drawn with --seed. A request's outcome is its status, the Service that served it
(X-Ingressd-Upstream, --expose-upstream), the redirect Location and the path+query the echo
backend saw. Requests whose canary decision is a weighted draw are compared statistically: each
side's split must fit the configured weights (chi-square, bench.stats) over the same Services.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import yaml

from ingressd.bench.stats import chi_square_gof
from ingressd.routing.canary import CanaryConfig, decide_canary
from ingressd.routing.convert import Conversion, Finding
from ingressd.routing.hosts import normalize_host
from ingressd.routing.paths import EXACT, compile_path_regex
from ingressd.routing.table import Location, build_route_table, is_canary

UNKNOWN_HOST = "no-rule.invalid"
# A split this unlikely under the configured weights is a difference. Stricter than bench's SRM
# alpha (0.001): a verify run makes several tests on each side, and with --split-requests 200 a
# wrong weight (10 % vs 20 %) still gives p < 1e-6.
SPLIT_ALPHA = 1e-5
ASPECTS = ("status", "backend", "location", "path")


@dataclass(frozen=True)
class Probe:
    scheme: str
    host: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    cookies: tuple[tuple[str, str], ...] = ()
    features: frozenset[str] = frozenset()  # "cookie", "case", "query", "acme"
    origin: str = "rules"  # "rules" | "random"
    rule_host: str | None = None  # the rule host it stands for ("" hostless, "*.a.b"); None: `host`

    def describe(self) -> str:
        extra = "".join(f" -H '{k}: {v}'" for k, v in self.headers)
        extra += "".join(f" -b {k}={v}" for k, v in self.cookies)
        return f"{self.scheme}://{self.host}{self.path}{extra}"

    def header_dict(self) -> dict[str, str]:
        out = dict(self.headers)
        if self.cookies:
            out["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies)
        return out


@dataclass
class Outcome:
    status: int
    backend: str  # "namespace/service", "" when ingressd answered itself
    location: str
    path: str  # what the backend saw (path?query), "" when unknown

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "backend": self.backend, "location": self.location, "path": self.path}


@dataclass
class Difference:
    probe: Probe
    aspects: tuple[str, ...]
    original: Any
    converted: Any
    known: Finding | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"request": self.probe.describe(), "origin": self.probe.origin, "differs": list(self.aspects),
                "original": self.original, "converted": self.converted,
                "known": None if self.known is None else self.known.as_dict()}


@dataclass
class VerifyResult:
    requests: int = 0
    splits: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def unexplained(self) -> list[Difference]:
        return [d for d in self.differences if d.known is None]


class VerifyError(Exception):
    pass


# --- the request set ----------------------------------------------------------------------------------

ACME_PROBE = "/.well-known/acme-challenge/probe"


def sample_paths(loc: Location, regex_host: bool) -> list[tuple[str, frozenset[str]]]:
    """Paths that reach `loc` (and the case variant a regex host answers too)."""
    if regex_host:
        literal = re.match(r"[A-Za-z0-9._~\-/]*", loc.path).group(0)
        out = []
        for candidate in (literal.rstrip("/") + "/probe", literal or "/"):
            pattern = compile_path_regex(loc.path)
            if pattern is not None and pattern.match(candidate):
                out.append((candidate, frozenset()))
        if out and out[0][0] != out[0][0].upper():
            out.append((out[0][0].upper(), frozenset({"case"})))
        return out
    if loc.path_type == EXACT:
        return [(loc.path, frozenset())]
    base = loc.path.rstrip("/")
    return [(base or "/", frozenset()), (base + "/probe/a", frozenset())]


def canary_variants(cfg: CanaryConfig) -> list[tuple[tuple, tuple]]:
    """(headers, cookies) pairs that exercise every step of a canary policy."""
    out: list[tuple[tuple, tuple]] = [((), ())]
    if cfg.by_header:
        values = ["always", "never", "something-else"]
        if cfg.by_header_value:
            values.append(cfg.by_header_value)
        out += [(((cfg.by_header, v),), ()) for v in values]
    if cfg.by_cookie:
        out += [((), ((cfg.by_cookie, v),)) for v in ("always", "never")]
        if cfg.by_header:
            out.append((((cfg.by_header, "never"),), ((cfg.by_cookie, "always"),)))
    return out


def build_probes(objects: list[dict], tls_hosts: set[str], samples: int, seed: int,
                 ingress_class: str = "nginx") -> list[Probe]:
    ingresses = [o for o in objects if o.get("kind") == "Ingress"]
    classes = [o for o in objects if o.get("kind") == "IngressClass"]
    table = build_route_table(ingresses, classes, ingress_class)
    by_host: dict[str, list[Location]] = {}
    for loc in table.locations:
        by_host.setdefault(loc.host, []).append(loc)
    probes: list[Probe] = []
    pool: list[tuple[str, str, frozenset[str], str]] = []
    variants_pool: list[tuple[tuple, tuple]] = [((), ())]
    for rule_host in sorted(by_host):
        # hostless rules answer any other host; a wildcard one host under it
        host = UNKNOWN_HOST if not rule_host else "probe" + rule_host[1:] if rule_host[:1] == "*" else rule_host
        locations = by_host[rule_host]
        regex_host = any(loc.config.use_regex or (loc.config.rewrite_target and loc.config.rewrite_target != loc.path)
                         for loc in locations)
        schemes = ["http", "https"] if host in tls_hosts else ["http"]
        paths: list[tuple[str, frozenset[str], Location | None]] = []
        for loc in locations:
            paths += [(p, f, loc) for p, f in sample_paths(loc, regex_host)]
        paths.append(("/no-rule-matches/x", frozenset(), None))
        if any(loc.config.app_root for loc in locations):
            paths += [("/", frozenset(), None), ("/?q=1", frozenset({"query"}), None)]
        if any(loc.config.force_ssl_redirect or loc.config.ssl_redirect and host in tls_hosts for loc in locations):
            # ingress-nginx never redirects an ACME HTTP-01 challenge to HTTPS
            paths.append((ACME_PROBE, frozenset({"acme"}), None))
        for path, features, loc in paths:
            pool.append((host, path, features, rule_host))
            variants = [((), ())]
            if loc is not None and loc.canary is not None and loc.canary.backend is not None:
                variants = canary_variants(loc.canary.canary)
                variants_pool += variants
            for scheme in schemes:
                for headers, cookies in variants:
                    feats = features | ({"cookie"} if cookies else set())
                    probes.append(Probe(scheme, host, path, headers, cookies, frozenset(feats),
                                        rule_host=rule_host))
    if "" not in by_host:
        probes.append(Probe("http", UNKNOWN_HOST, "/"))
    rng = random.Random(seed)
    hosts = sorted({h for h, _, _, _ in pool} | {UNKNOWN_HOST})
    rule_hosts = {h: rh for h, _, _, rh in pool}
    for _ in range(samples if pool else 0):
        host, path, features, rule_host = rng.choice(pool)
        if rng.random() < 0.1:
            host = rng.choice(hosts)
            rule_host = rule_hosts.get(host)
        if rng.random() < 0.5:
            path = path.split("?")[0].rstrip("/") + f"/r{rng.randrange(1000)}"
            features = features - {"query"}
        headers, cookies = rng.choice(variants_pool)
        scheme = "https" if host in tls_hosts and rng.random() < 0.5 else "http"
        feats = features | ({"cookie"} if cookies else set())
        probes.append(Probe(scheme, host, path, headers, cookies, frozenset(feats), "random",
                            None if rule_host == host else rule_host))
    return probes


def original_tls_hosts(objects: list[dict]) -> set[str]:
    """Hosts in a spec.tls of a non-canary Ingress: the original serves them over HTTPS with their
    certificate (the converted configuration must too)."""
    hosts = set()
    for ing in objects:
        if ing.get("kind") == "Ingress" and not is_canary(ing):
            for entry in (ing.get("spec") or {}).get("tls") or []:
                if isinstance(entry, dict) and entry.get("secretName"):
                    hosts.update(normalize_host(h) for h in entry.get("hosts") or [] if isinstance(h, str) and h)
    return hosts


def weighted(objects: list[dict], probe: Probe, ingress_class: str = "nginx",
             tls_hosts: set[str] = frozenset()) -> tuple[str, str, float] | None:
    """(main Service, canary Service, canary share) when the original routes `probe` by a weight draw
    (not when it answers first: app-root, a rewrite to a URL, the redirect to HTTPS)."""
    ingresses = [o for o in objects if o.get("kind") == "Ingress"]
    table = build_route_table(ingresses, [o for o in objects if o.get("kind") == "IngressClass"], ingress_class)
    match = table.match(probe.host, probe.path)
    if match is None or match.redirect is not None or match.location.canary is None:
        return None
    loc = match.location
    route = loc.canary
    if route.backend is None or loc.backend is None:
        return None
    if probe.scheme == "http" and not probe.path.startswith("/.well-known/acme-challenge") and (
            loc.config.force_ssl_redirect or loc.config.ssl_redirect and loc.host in tls_hosts):
        return None
    headers = {k.lower().replace("_", "-"): v for k, v in probe.headers}
    cookies = {k.lower(): v for k, v in probe.cookies}

    class Draw(Exception):
        pass

    def draw(a: int, b: int) -> int:
        raise Draw

    try:
        decide_canary(route.canary, headers.get, lambda n: cookies.get(n.lower()), draw)
    except Draw:
        cfg = route.canary
        return (f"{loc.backend.namespace}/{loc.backend.service}",
                f"{route.backend.namespace}/{route.backend.service}", cfg.weight / cfg.total)
    return None


def rule_path(objects: list[dict], probe: Probe, ingress_class: str = "nginx") -> str | None:
    ingresses = [o for o in objects if o.get("kind") == "Ingress"]
    table = build_route_table(ingresses, [o for o in objects if o.get("kind") == "IngressClass"], ingress_class)
    match = table.match(probe.host, probe.path)
    return None if match is None else match.location.path


def explain_known(findings: list[Finding], probe: Probe, path: str | None, aspects: tuple[str, ...]) -> Finding | None:
    """The most specific finding that accounts for every differing aspect of `probe`'s outcome."""
    for finding in sorted(findings, key=lambda f: (f.when is None, f.path is None, len(f.affects))):
        if finding.host != (probe.host if probe.rule_host is None else probe.rule_host) or not finding.affects:
            continue
        if finding.path is not None and finding.path != path:
            continue
        if finding.when is not None and finding.when not in probe.features:
            continue
        if set(aspects) <= finding.affects:
            return finding
    return None


# --- running both --------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Instance:
    def __init__(self, label: str, paths: list[str], workdir: Path, certs_dir: Path, seed: int) -> None:
        self.label = label
        self.http_port, self.https_port, self.admin_port = free_port(), free_port(), free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "ingressd.log"
        cmd = [sys.executable, "-m", "ingressd", "run", *(a for p in paths for a in ("-f", p)),
               "--http-port", str(self.http_port), "--https-port", str(self.https_port),
               "--admin-port", str(self.admin_port), "--state-dir", str(workdir / "state"),
               "--certs-dir", str(certs_dir), "--expose-upstream", "--access-log", "off",
               "--seed", str(seed), "--reload-interval", "3600"]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise VerifyError(f"the {self.label} configuration did not start (ingressd run exited"
                                  f" {self.proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise VerifyError(f"the {self.label} configuration was not healthy after {timeout:g}s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class _SNIConnection(http.client.HTTPConnection):
    def __init__(self, port: int, server_name: str, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__("127.0.0.1", port, timeout=timeout)
        self.server_name, self.context = server_name, context

    def connect(self) -> None:
        super().connect()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.server_name)


class Client:
    def __init__(self, services: list[tuple[str, str]], context: ssl.SSLContext, timeout: float = 10) -> None:
        # Upstream names are "<namespace>-<service>-<port>"; longest Service name first.
        self.services = sorted(services, key=lambda s: -len(s[0]) - len(s[1]))
        self.context, self.timeout = context, timeout

    def service_of(self, upstream: str) -> str:
        for ns, name in self.services:
            if upstream.startswith(f"{ns}-{name}-") or upstream in (f"{ns}/{name}", name):
                return f"{ns}/{name}"
        return upstream

    def send(self, inst: Instance, probe: Probe) -> Outcome:
        if probe.scheme == "https":
            conn: http.client.HTTPConnection = _SNIConnection(inst.https_port, probe.host, self.context, self.timeout)
            port = inst.https_port
        else:
            conn = http.client.HTTPConnection("127.0.0.1", inst.http_port, timeout=self.timeout)
            port = inst.http_port
        try:
            conn.request("GET", probe.path, headers={"Host": f"{probe.host}:{port}", **probe.header_dict()})
            resp = conn.getresponse()
            body = resp.read()
            upstream = resp.getheader("X-Ingressd-Upstream") or ""
            location = resp.getheader("Location") or ""
            status = resp.status
        except (OSError, http.client.HTTPException) as err:
            return Outcome(0, "", "", f"error: {err}")
        finally:
            conn.close()
        seen = ""
        if upstream and "json" in (resp.getheader("Content-Type") or ""):
            try:
                data = json.loads(body)
                seen = data.get("path", "") + (f"?{data['query']}" if data.get("query") else "")
            except (ValueError, AttributeError):
                pass
        return Outcome(status, self.service_of(upstream) if upstream else "",
                       normalize_location(location, inst), seen)


def normalize_location(location: str, inst: Instance) -> str:
    """Redirect targets compared as URLs: the instance's own ports read as the well-known ones
    (omitted), an empty path as "/"."""
    if not location:
        return ""
    parts = urlsplit(location)
    if not parts.scheme:
        return location
    host = parts.hostname or ""
    port = parts.port
    if port in (inst.http_port, inst.https_port, 80, 443):
        port = None
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, parts.fragment))


def compare(a: Outcome, b: Outcome) -> tuple[str, ...]:
    return tuple(name for name in ASPECTS if getattr(a, name) != getattr(b, name))


def _objects_yaml(objects: list[dict]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False)


def verify(objects: list[dict], paths: list[str], conversion: Conversion, *, samples: int = 30, seed: int = 1,
           split_requests: int = 200, timeout: float = 60, ingress_class: str = "nginx",
           progress: TextIO | None = None, keep: str | None = None) -> VerifyResult:
    """Run both configurations and compare; `paths` are the original manifest paths."""
    from ingressd.local_tls import local_ca_secrets

    tmp = Path(tempfile.mkdtemp(prefix="ingressd-verify-"))
    instances: list[Instance] = []
    try:
        certs = tmp / "certs"
        ingresses = [o for o in objects if o.get("kind") == "Ingress" and not is_canary(o)]
        secrets = [o for o in objects if o.get("kind") == "Secret"]
        issued = local_ca_secrets(ingresses, secrets, certs)
        kept = [o for o in objects if o.get("kind") not in ("Ingress", "IngressClass")]
        converted_dir = tmp / "converted"
        converted_dir.mkdir()
        (converted_dir / "converted.yaml").write_text(_objects_yaml(kept + issued + conversion.objects))
        instances.append(Instance("original", [os.path.abspath(p) for p in paths], tmp / "original", certs, seed))
        instances.append(Instance("converted", [str(converted_dir)], tmp / "converted-run", certs, seed))
        for inst in instances:
            inst.wait_healthy(timeout)
        context = ssl.create_default_context(cafile=str(certs / "ca.crt")) if (certs / "ca.crt").exists() \
            else ssl._create_unverified_context()
        services = [(o.get("metadata", {}).get("namespace") or "default", o.get("metadata", {}).get("name", ""))
                    for o in objects if o.get("kind") == "Service"]
        client = Client(services, context)
        tls_hosts = original_tls_hosts(objects)
        probes = build_probes(objects, tls_hosts, samples, seed, ingress_class)
        original, converted = instances
        _wait_backends(client, original, converted, probes, timeout)
        result = VerifyResult()
        findings = conversion.known
        split_done: set[tuple] = set()
        for probe in probes:
            split = weighted(objects, probe, ingress_class, tls_hosts)
            if split is not None:
                key = (probe.scheme, probe.host, rule_path(objects, probe, ingress_class), probe.headers, probe.cookies)
                if key in split_done:
                    continue
                split_done.add(key)
                result.splits += 1
                result.requests += 2 * split_requests
                diff = _compare_split(client, original, converted, probe, split, split_requests)
                if diff is not None:
                    diff.known = explain_known(findings, probe, rule_path(objects, probe, ingress_class),
                                               diff.aspects)
                    result.differences.append(diff)
                continue
            a, b = client.send(original, probe), client.send(converted, probe)
            result.requests += 2
            aspects = compare(a, b)
            if aspects:
                known = explain_known(findings, probe, rule_path(objects, probe, ingress_class), aspects)
                result.differences.append(Difference(probe, aspects, a.as_dict(), b.as_dict(), known))
        return result
    finally:
        for inst in instances:
            inst.stop()
        if keep:
            shutil.copytree(tmp, keep, dirs_exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)


def _wait_backends(client: Client, a: Instance, b: Instance, probes: list[Probe], timeout: float,
                   settle: float = 5.0) -> None:
    """Pods start after the process is healthy: wait until no probe answers 502/503 (or fails) on
    either side, or the set of those that do has not changed for `settle` seconds (a backend that
    never becomes ready), or `timeout` passes; what still differs then is reported."""
    deadline = time.monotonic() + timeout
    first = [p for p in probes if p.origin == "rules" and not p.headers and not p.cookies]
    previous: frozenset | None = None
    since = time.monotonic()
    while time.monotonic() < deadline:
        failing = frozenset((i, inst.label) for i, p in enumerate(first) for inst in (a, b)
                            if client.send(inst, p).status in (0, 502, 503))
        if not failing:
            return
        if failing != previous:
            previous, since = failing, time.monotonic()
        elif time.monotonic() - since >= settle:
            return
        time.sleep(0.25)


def _compare_split(client: Client, a: Instance, b: Instance, probe: Probe, split: tuple[str, str, float],
                   n: int) -> Difference | None:
    main, canary, share = split
    expected = {main: 1 - share, canary: share}
    summary = []
    bad = False
    for inst in (a, b):
        counts: dict[str, int] = {}
        statuses: dict[int, int] = {}
        for _ in range(n):
            out = client.send(inst, probe)
            counts[out.backend or f"status {out.status}"] = counts.get(out.backend or f"status {out.status}", 0) + 1
            statuses[out.status] = statuses.get(out.status, 0) + 1
        fit = chi_square_gof(counts, expected)
        fits = fit is not None and fit.p_value >= SPLIT_ALPHA
        bad = bad or not fits
        summary.append({"split": counts, "statuses": statuses, "expected": expected,
                        "p_value": None if fit is None else round(fit.p_value, 6)})
    if not bad:
        return None
    return Difference(probe, ("backend",), summary[0], summary[1])
