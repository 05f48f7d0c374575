"""`/livez` and `/readyz` as kube-apiserver answers them (k8s.io/apiserver `server/healthz`).

    GET /readyz            200 "ok", or 500 with every check listed and "readyz check failed"
    GET /readyz?verbose    "[+]ping ok" per check, then "readyz check passed"
    GET /readyz?exclude=x  check x is listed as "[+]x excluded: ok"
    GET /readyz/ping       one check: 200 "ok", or 500 "internal server error: <reason>"

Pure: a check is a name and a result (None when it passes, else the reason it fails).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Check = tuple[str, str | None]  # (name, None if it passes else why not)


def render(endpoint: str, checks: Sequence[Check], verbose: bool, exclude: Iterable[str] = ()) -> tuple[int, str]:
    """(HTTP status, text/plain body) of GET /`endpoint` ("livez" or "readyz")."""
    excluded = set(exclude)
    names = {name for name, _ in checks}
    out: list[str] = []
    unknown = sorted(excluded - names)
    if unknown:
        out.append("warn: some health checks cannot be excluded: no matches for "
                   + ",".join(f'"{name}"' for name in unknown) + "\n")
    failed = False
    for name, failure in checks:
        if name in excluded:
            out.append(f"[+]{name} excluded: ok\n")
        elif failure is None:
            out.append(f"[+]{name} ok\n")
        else:
            out.append(f"[-]{name} failed: reason withheld\n")  # the reason goes to the log only
            failed = True
    if failed:
        return 500, "".join(out) + f"{endpoint} check failed\n"
    if not verbose:
        return 200, "ok"
    return 200, "".join(out) + f"{endpoint} check passed\n"


def render_one(checks: Sequence[Check], name: str) -> tuple[int, str] | None:
    """GET /readyz/`name`: (status, body), None if there is no such check (404)."""
    for check, failure in checks:
        if check == name:
            return (200, "ok") if failure is None else (500, f"internal server error: {failure}\n")
    return None
