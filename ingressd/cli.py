"""Command line: parse arguments, call the app, print. Nothing else lives here."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ingressd import __version__
from ingressd.words import count


def bundled_demo() -> str:
    """The demo manifests: `config/` of a checkout, which wheels carry as `ingressd/demo`."""
    package = Path(__file__).resolve().parent
    for candidate in (package.parent / "config", package / "demo"):
        if candidate.is_dir():
            return str(candidate)
    return "config"


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {port}")
    return port


def _content_length(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected a number of bytes, got {value!r}")
    return int(value)


def _pair(value: str) -> tuple[str, str]:
    key, eq, rest = value.partition("=")
    if not eq or not key:
        raise argparse.ArgumentTypeError(f"expected K=V, got {value!r}")
    return key, rest


def _duration(value: str) -> float:
    from ingressd.duration import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value!r}")
    return seconds


def _worker_timeout(value: str) -> float:
    from ingressd.duration import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"want a duration such as 30s, or 0 to turn the check off: {value!r}")
    return seconds


def _interval(value: str) -> float:
    """A positive number of seconds (0 would poll the files in a busy loop)."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, e.g. 0.5: {value!r}")
    return seconds


def _pod_cidr(value: str) -> str:
    from ingressd.pods.ips import parse_pod_cidr

    try:
        return str(parse_pod_cidr(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 <= number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 0 and < 1: {number}")
    return number


def _workers(value: str) -> int:
    from ingressd.workers.merge import parse_workers

    try:
        return parse_workers(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {number}")
    return number


def _access_log(value: str) -> str:
    if not value:
        raise argparse.ArgumentTypeError("expected stdout, stderr, off or a file path")
    return value


def _quantity(value: str) -> str:
    from ingressd.cluster.quantity import parse_quantity

    try:
        if parse_quantity(value) <= 0:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a positive quantity: {value!r} (e.g. 4, 500m, 8Gi)") from None
    return value


def _log_max_size(value: str) -> int:
    from ingressd.apimachinery.log_rotation import parse_max_size

    try:
        return parse_max_size(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _log_max_files(value: str) -> int:
    from ingressd.apimachinery.log_rotation import check_max_files

    try:
        return check_max_files(int(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc) if value.lstrip("-").isdigit() else f"not a whole number: {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ingressd",
        description="A local Kubernetes ingress emulator with ingress-nginx semantics.",
    )
    parser.add_argument("--version", action="version", version=f"ingressd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="serve Ingress routes and run the pods the manifests describe")
    run.add_argument("-f", "--filename", dest="paths", action="append", metavar="PATH",
                     help="manifest file or directory (recursive *.yaml/*.yml); repeatable; "
                          "default: the bundled demo in config/")
    run.add_argument("--bind", default="127.0.0.1", metavar="ADDR",
                     help="address the HTTP and HTTPS listeners bind (default 127.0.0.1)")
    run.add_argument("--admin-bind", default="127.0.0.1", metavar="ADDR",
                     help="address the admin port binds (default 127.0.0.1; plain HTTP, its token in the clear, "
                          "so think twice before exposing it)")
    run.add_argument("--http-port", type=_port, default=80, metavar="N", help="HTTP port (default 80)")
    run.add_argument("--https-port", type=_port, default=443, metavar="N", help="HTTPS port (default 443)")
    run.add_argument("--admin-port", type=_port, default=10254, metavar="N",
                     help="health, metrics and API port (default 10254, as ingress-nginx)")
    run.add_argument("--state-dir", default=".ingressd", metavar="DIR",
                     help="where the store (store.db: every object, kept across restarts), generated keys and "
                          "pod state live; one instance's (default .ingressd)")
    run.add_argument("--pod-cidr", type=_pod_cidr, default=None, metavar="127.X.Y.0/24",
                     help="pod addresses of this instance, inside 127.0.0.0/8 (default: a free /20 derived from "
                          "the state dir, so instances side by side never share a pod address)")
    run.add_argument("--ingress-class", default="nginx", metavar="NAME",
                     help="serve Ingresses of this class, and those without one (default nginx)")
    run.add_argument("--log-format", choices=("nginx", "json"), default="nginx",
                     help="access log format (default: ingress-nginx's log-format-upstream)")
    run.add_argument("--access-log", type=_access_log, default="stdout", metavar="stdout|stderr|off|FILE",
                     help="where the access log goes (default stdout); FILE is appended to, its directory must "
                          "exist, SIGUSR1 reopens it (logrotate); write ./off for a file called off")
    run.add_argument("--expose-upstream", action="store_true",
                     help="add an X-Ingressd-Upstream response header naming the upstream that served")
    run.add_argument("--reload-interval", type=_interval, default=0.5, metavar="SECONDS",
                     help="an edit applies once the manifest files stayed unchanged this long; also the poll "
                          "step where file notifications are unavailable (default 0.5)")

    run.add_argument("--configmap", default=None, metavar="NAMESPACE/NAME",
                     help="ingress-nginx controller ConfigMap among the manifests (hsts, hsts-max-age, "
                          "hsts-include-subdomains, hsts-preload)")
    run.add_argument("--certs-dir", default=None, metavar="DIR",
                     help="local CA for Ingresses annotated ingressd.io/local-ca (default: the per-user one, "
                          "see `ingressd certs caroot`)")
    auto = run.add_argument_group("autoscaling (metrics-server, HPA, VPA, nodes and the cluster autoscaler)")
    auto.add_argument("--metric-resolution", type=_duration, default=15.0, metavar="DURATION",
                      help="how often metrics-server samples pods (default 15s)")
    auto.add_argument("--hpa-sync-period", type=_duration, default=15.0, metavar="DURATION",
                      help="how often each HorizontalPodAutoscaler is evaluated (default 15s)")
    auto.add_argument("--vpa-recommender-interval", type=_duration, default=60.0, metavar="DURATION",
                      help="how often VerticalPodAutoscaler recommendations are recomputed (default 1m)")
    auto.add_argument("--hpa-downscale-stabilization", type=_duration, default=300.0, metavar="DURATION",
                      help="scale-down stabilization window of HPAs without behavior (default 5m)")
    auto.add_argument("--hpa-tolerance", type=_fraction, default=0.1, metavar="RATIO",
                      help="HPAs ignore usage ratios within this of 1.0 (default 0.1)")
    auto.add_argument("--hpa-cpu-initialization-period", type=_duration, default=300.0, metavar="DURATION",
                      help="CPU samples of pods younger than this may be skipped (default 5m)")
    auto.add_argument("--hpa-initial-readiness-delay", type=_duration, default=30.0, metavar="DURATION",
                      help="readiness flips within this of a pod's start do not count as readiness (default 30s)")
    auto.add_argument("--nodes", type=_count, default=None, metavar="N",
                      help="start N nodes (default: Node manifests, else one node large enough for anything)")
    auto.add_argument("--node-cpu", type=_quantity, default=None, metavar="QUANTITY",
                      help="allocatable CPU of each node from --nodes or the node group (default 4 with a node group)")
    auto.add_argument("--node-memory", type=_quantity, default=None, metavar="QUANTITY",
                      help="allocatable memory of each node (default 8Gi with a node group)")
    auto.add_argument("--node-group-min", type=_count, default=None, metavar="N",
                      help="enable the cluster autoscaler over a node group of at least N nodes")
    auto.add_argument("--node-group-max", type=_count, default=None, metavar="N",
                      help="... and at most N nodes")
    auto.add_argument("--node-group-configmap", default=None, metavar="NAMESPACE/NAME",
                      help="read the node group (minSize, maxSize, nodeCpu, nodeMemory, scaleDownUnneededTime, "
                           "scaleDownDelayAfterAdd, scanInterval) from this ConfigMap of the manifests")
    auto.add_argument("--scale-down-unneeded-time", type=_duration, default=None, metavar="DURATION",
                      help="cluster autoscaler: how long a node must be unneeded before removal (default 10m)")
    auto.add_argument("--scale-down-delay-after-add", type=_duration, default=None, metavar="DURATION",
                      help="cluster autoscaler: no scale-down for this long after a scale-up (default 10m)")
    run.add_argument("--seed", type=int, default=None, metavar="N",
                     help="seed the random source of canary-weight draws and load balancing (reproducible runs); "
                          "with --workers, worker i seeds with N+i")
    run.add_argument("--workers", type=_workers, default=1, metavar="N|auto",
                     help="data-plane processes sharing the HTTP/HTTPS/Gateway listeners (SO_REUSEPORT, Linux); "
                          "auto: one per CPU (default 1: this process serves)")
    run.add_argument("--worker-timeout", type=_worker_timeout, default=30.0, metavar="DURATION",
                     help="with --workers: a worker that reports nothing for this long (its loop stuck, the process "
                          "stopped) is killed and started again, as gunicorn's --timeout (default 30s; 0: never)")
    pod_logs = run.add_argument_group("pod logs (<state-dir>/logs/<namespace>/<pod>/<container>.log)")
    pod_logs.add_argument("--container-log-max-size", type=_log_max_size, default="10Mi", metavar="QUANTITY",
                          help="rotate a container's log once it would grow past this, as the kubelet's "
                               "containerLogMaxSize (default 10Mi; negative: never rotate)")
    pod_logs.add_argument("--container-log-max-files", type=_log_max_files, default=5, metavar="N",
                          help="log files kept per container, the current one included; older rotated ones are "
                               "gzipped, the oldest removed, as the kubelet's containerLogMaxFiles (default 5, > 1)")
    pod_logs.add_argument("--pod-log-retention", type=_duration, default=3600.0, metavar="DURATION",
                          help="remove the logs of pods gone for this long, at start and every minute (default 1h)")

    explain = sub.add_parser(
        "explain", help="where one request goes and why: asks the running ingressd, or reads -f files")
    explain.add_argument("-f", "--filename", dest="paths", action="append", metavar="PATH",
                         help="explain against these manifest files or directories instead of the running "
                              "instance (repeatable); the pods they run are assumed ready")
    explain.add_argument("--admin", "--server", dest="admin", default=None, metavar="URL",
                         help="the running instance's admin API (default: $INGRESSD_SERVER or "
                              "http://127.0.0.1:10254); when nothing answers there, the bundled demo is explained")
    explain.add_argument("--host", required=True, help="the request's Host")
    explain.add_argument("--path", default="/", help="the request path with query (default /)")
    explain.add_argument("--method", default="GET", help="the request method (default GET)")
    explain.add_argument("--port", type=int, default=None, metavar="N",
                         help="the Gateway listener port the request arrives on (default 80, 443 with --scheme https; "
                              "80 and 443 are served on --http-port and --https-port)")
    explain.add_argument("--scheme", choices=("http", "https"), default="http",
                         help="arrives on the HTTP or the HTTPS listener (default http)")
    explain.add_argument("--header", action="append", default=[], metavar="K=V", type=_pair,
                         help="a request header; repeatable")
    explain.add_argument("--cookie", action="append", default=[], metavar="K=V", type=_pair,
                         help="a request cookie; repeatable")
    explain.add_argument("--content-length", type=_content_length, default=None, metavar="BYTES",
                         help="the request's declared Content-Length")
    explain.add_argument("--ingress-class", default="nginx", metavar="NAME", help="with -f: the class served")
    explain.add_argument("-o", "--output", choices=("json", "yaml"), default=None,
                         help="print the decision document instead of sentences")
    from ingressd.access import add_credential_flags, add_kubeconfig_parser

    add_credential_flags(explain)
    add_kubeconfig_parser(sub)

    from ingressd.bench import add_bench_parser

    add_bench_parser(sub)

    from ingressd.kubectl import add_parsers as add_kubectl_parsers

    add_kubectl_parsers(sub)

    from ingressd.convert import add_convert_parser

    add_convert_parser(sub)

    validate = sub.add_parser("validate", help="check manifests; print FILE:LINE problems")
    validate.add_argument("-f", "--filename", dest="paths", action="append", metavar="PATH",
                          help="manifest file or directory; repeatable; default: the bundled demo")
    validate.add_argument("--ingress-class", default="nginx", metavar="NAME")

    from ingressd.certs_cli import add_certs_parser
    from ingressd.completion import add_completion_parser

    add_certs_parser(sub)
    add_completion_parser(sub)
    return parser


def cmd_validate(args: argparse.Namespace) -> int:
    from ingressd.objects.manifests import load_paths

    result = load_paths(args.paths or [bundled_demo()], ingress_class=args.ingress_class)
    for problem in result.errors:
        print(problem)
    for problem in result.warnings:
        print(problem, file=sys.stderr)
    if result.errors:
        return 1
    print(f"{count(len(result.manifests), 'object')} valid", file=sys.stderr)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    import os

    from ingressd.access import credentials, unauthorized_message
    from ingressd.explain import NotRunning, Unauthorized, explain_files, explain_remote
    from ingressd.objects.manifests import load_paths
    from ingressd.routing.decide import Request
    from ingressd.routing.explain_view import explain_lines

    request = Request(args.host, args.path, method=args.method, scheme=args.scheme, headers=dict(args.header),
                      cookies=dict(args.cookie), content_length=args.content_length, listener_port=args.port)
    paths = args.paths
    if not paths:
        admin = args.admin or os.environ.get("INGRESSD_SERVER") or "http://127.0.0.1:10254"
        search = credentials(admin, args)
        try:
            doc = explain_remote(admin, request, token=search.token)
        except Unauthorized:
            print(unauthorized_message(admin, search), file=sys.stderr)
            return 1
        except NotRunning as exc:
            paths = [bundled_demo()]
            print(f"ingressd: nothing answers at {admin} ({exc}): explaining the manifests in {paths[0]} "
                  "instead (give -f to choose)", file=sys.stderr)
        except ValueError as exc:
            print(f"ingressd: explain: {exc}", file=sys.stderr)
            return 1
    if paths:
        result = load_paths(paths, ingress_class=args.ingress_class)
        if result.errors:
            for problem in result.errors:
                print(problem, file=sys.stderr)
            print("ingressd: explain needs valid manifests (see `ingressd validate`)", file=sys.stderr)
            return 1
        doc = explain_files([m.obj for m in result.manifests], request, args.ingress_class)
    lines, status = explain_lines(doc)
    if args.output == "json":
        print(json.dumps(doc, indent=2))
    elif args.output == "yaml":
        import yaml

        print(yaml.safe_dump(doc, sort_keys=False), end="")
    else:
        print("\n".join(lines))
    return status


def cmd_run(args: argparse.Namespace) -> int:
    from ingressd.app import RunOptions, run
    from ingressd.certs_cli import run_certs_dir

    options = RunOptions(
        paths=args.paths or [bundled_demo()],
        bind=args.bind,
        admin_bind=args.admin_bind,
        http_port=args.http_port,
        https_port=args.https_port,
        admin_port=args.admin_port,
        state_dir=args.state_dir,
        ingress_class=args.ingress_class,
        log_format=args.log_format,
        access_log=args.access_log,
        expose_upstream=args.expose_upstream,
        reload_interval=args.reload_interval,
        seed=args.seed,
        certs_dir=run_certs_dir(args.certs_dir),
        configmap=args.configmap,
        metric_resolution=args.metric_resolution,
        hpa_sync_period=args.hpa_sync_period,
        vpa_recommender_interval=args.vpa_recommender_interval,
        hpa_downscale_stabilization=args.hpa_downscale_stabilization,
        hpa_tolerance=args.hpa_tolerance,
        hpa_cpu_initialization_period=args.hpa_cpu_initialization_period,
        hpa_initial_readiness_delay=args.hpa_initial_readiness_delay,
        nodes=args.nodes,
        node_cpu=args.node_cpu,
        node_memory=args.node_memory,
        node_group_min=args.node_group_min,
        node_group_max=args.node_group_max,
        node_group_configmap=args.node_group_configmap,
        scale_down_unneeded_time=args.scale_down_unneeded_time,
        scale_down_delay_after_add=args.scale_down_delay_after_add,
        pod_cidr=args.pod_cidr,
        workers=args.workers,
        worker_timeout=args.worker_timeout,
        container_log_max_size=args.container_log_max_size,
        container_log_max_files=args.container_log_max_files,
        pod_log_retention=args.pod_log_retention,
    )
    return run(options)


def cmd_certs(args: argparse.Namespace) -> int:
    from ingressd.certs_cli import run_certs

    return run_certs(args)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    from ingressd.completion import autocomplete

    autocomplete(parser)  # returns unless a completion script is asking
    args = parser.parse_args(argv)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "validate":
        return cmd_validate(args)
    if args.command == "explain":
        return cmd_explain(args)
    if args.command == "certs":
        return cmd_certs(args)
    if args.command == "completion":
        from ingressd.completion import run_completion

        return run_completion(args)
    if args.command == "kubeconfig":
        from ingressd.access import cmd_kubeconfig

        return cmd_kubeconfig(args)
    if args.command in ("get", "describe", "scale", "delete", "logs", "top", "routes"):
        from ingressd.kubectl import run_command

        return run_command(args)
    if args.command == "convert":
        from ingressd.convert import run_convert

        return run_convert(args)
    if args.command == "bench":
        from ingressd.bench import run_bench

        return run_bench(args)
    parser.print_help()
    return 2
