"""Container probes, as the kubelet runs them: `httpGet`, `tcpSocket` and `exec`.

`Probe` holds a probe's settings with Kubernetes defaults; `ProbeState` is the pure threshold
logic (consecutive successes/failures against successThreshold/failureThreshold); `run_probe`
performs one check against the pod and returns (ok, message), the message worded like the
kubelet's "Unhealthy" events.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from dataclasses import dataclass

USER_AGENT = "kube-probe/1.31"


@dataclass(frozen=True)
class Probe:
    kind: str  # "Readiness" or "Liveness", as events name it
    handler: dict
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def from_spec(cls, kind: str, spec: dict) -> Probe:
        def number(key: str, default: float, minimum: float) -> float:
            value = spec.get(key)
            return max(minimum, float(value)) if value is not None else default

        return cls(
            kind=kind,
            handler=spec,
            initial_delay=number("initialDelaySeconds", 0.0, 0.0),
            period=number("periodSeconds", 10.0, 1.0),
            timeout=number("timeoutSeconds", 1.0, 1.0),
            # Liveness (and startup) probes must use successThreshold 1, as the API server enforces.
            success_threshold=1 if kind == "Liveness" else int(number("successThreshold", 1, 1)),
            failure_threshold=int(number("failureThreshold", 3, 1)),
        )


@dataclass
class ProbeState:
    """Readiness starts failed (unready until a success), liveness starts healthy."""

    probe: Probe
    ok: bool = False
    successes: int = 0
    failures: int = 0

    def __post_init__(self) -> None:
        self.ok = self.probe.kind == "Liveness"

    def record(self, success: bool) -> bool:
        """Count one result; True when the outcome (`ok`) flipped."""
        if success:
            self.successes, self.failures = self.successes + 1, 0
            flip = not self.ok and self.successes >= self.probe.success_threshold
        else:
            self.successes, self.failures = 0, self.failures + 1
            flip = self.ok and self.failures >= self.probe.failure_threshold
        if flip:
            self.ok = not self.ok
        return flip

    def reset(self) -> None:
        self.successes = self.failures = 0
        self.ok = self.probe.kind == "Liveness"


def resolve_port(port, container: dict) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in container.get("ports") or ():
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"port {port!r} is not a named port of the container")


async def run_probe(probe: Probe, container: dict, pod_ip: str, env: dict[str, str] | None = None) -> tuple[bool, str]:
    handler = probe.handler
    try:
        if "httpGet" in handler:
            return await _http_get(handler["httpGet"], container, pod_ip, probe.timeout)
        if "tcpSocket" in handler:
            return await _tcp_socket(handler["tcpSocket"], container, pod_ip, probe.timeout)
        if "exec" in handler:
            return await _exec(handler["exec"], container, probe.timeout, env)
    except ValueError as exc:
        return False, str(exc)
    return False, "probe has no supported handler (httpGet, tcpSocket or exec)"


async def _http_get(spec: dict, container: dict, pod_ip: str, timeout: float) -> tuple[bool, str]:
    host = spec.get("host") or pod_ip
    port = resolve_port(spec.get("port"), container)
    path = spec.get("path") or "/"
    https = (spec.get("scheme") or "HTTP").upper() == "HTTPS"
    context = None
    if https:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # as the kubelet: probes do not verify certificates
    headers = {"Host": f"{host}:{port}", "User-Agent": USER_AGENT, "Accept": "*/*"}
    for header in spec.get("httpHeaders") or ():
        headers[header.get("name", "")] = header.get("value", "")
    request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request += "Connection: close\r\n\r\n"
    url = f"{'https' if https else 'http'}://{host}:{port}{path}"
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port, ssl=context)
            writer.write(request.encode("latin-1"))
            await writer.drain()
            status_line = await reader.readline()
    except TimeoutError:
        return False, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
    except OSError as exc:
        return False, f'Get "{url}": dial tcp {host}:{port}: connect: {_reason(exc)}'
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    parts = status_line.decode("latin-1").split()
    if len(parts) < 2 or not parts[1].isdigit():
        return False, f'Get "{url}": malformed HTTP response'
    status = int(parts[1])
    if 200 <= status < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {status}"


async def _tcp_socket(spec: dict, container: dict, pod_ip: str, timeout: float) -> tuple[bool, str]:
    host = spec.get("host") or pod_ip
    port = resolve_port(spec.get("port"), container)
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return False, f"dial tcp {host}:{port}: i/o timeout"
    except OSError as exc:
        return False, f"dial tcp {host}:{port}: connect: {_reason(exc)}"
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return True, ""


async def _exec(spec: dict, container: dict, timeout: float, env: dict[str, str] | None) -> tuple[bool, str]:
    command = [str(part) for part in spec.get("command") or ()]
    if not command:
        raise ValueError("exec probe has no command")
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=container.get("workingDir") or None,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    except OSError as exc:
        return False, f"exec {command[0]!r}: {exc.strerror or exc}"
    try:
        async with asyncio.timeout(timeout):
            output, _ = await process.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
        await process.wait()
        return False, f"command {' '.join(command)!r} timed out"
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
        await process.wait()
        raise
    if process.returncode == 0:
        return True, ""
    text = output.decode("utf-8", "replace").strip()
    return False, text or f"command {' '.join(command)!r} exited with {process.returncode}"


def _reason(exc: OSError) -> str:
    if exc.errno:
        return os.strerror(exc.errno).lower()
    return (exc.strerror or str(exc)).lower()
