"""`ingressd convert`: Ingresses -> Gateway API manifests, a report of what cannot be expressed,
and with --verify the evidence that both configurations route alike (convert/verify.py).

The translation itself is pure (ingressd.routing.convert); this module reads files, writes YAML
and prints the report.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from typing import TextIO

import yaml

from ingressd.words import count

EXIT_OK, EXIT_DIFFERENT, EXIT_USAGE = 0, 1, 2


def add_convert_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="write Gateway API manifests equivalent to the Ingresses (--verify: prove it)")
    p.add_argument("-f", "--filename", dest="paths", action="append", metavar="PATH", required=True,
                   help="manifest file or directory (repeatable)")
    p.add_argument("-o", "--output-dir", dest="output_dir", default=None, metavar="DIR",
                   help="write one <namespace>.yaml per namespace into DIR (default: print to stdout)")
    p.add_argument("--ingress-class", default="nginx", metavar="NAME",
                   help="the IngressClass whose Ingresses are converted (default nginx); also the Gateway's name")
    p.add_argument("--report", default=None, metavar="FILE",
                   help="write the report (objects, findings, with --verify the differences) as JSON to FILE")
    p.add_argument("--verify", action="store_true",
                   help="run both configurations side by side and compare the outcome of the same requests;"
                        " exit 1 when one differs for a reason the report does not list")
    p.add_argument("--samples", type=int, default=30, metavar="N", help="with --verify: random requests (default 30)")
    p.add_argument("--seed", type=int, default=1, metavar="N",
                   help="with --verify: seed of the random samples and of both instances' weight draws")
    p.add_argument("--split-requests", type=int, default=200, metavar="N",
                   help="with --verify: requests per side for each weighted canary split (default 200)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="with --verify: how long each configuration may take to start (default 60)")
    p.add_argument("--converted", default=None, metavar="PATH",
                   help="with --verify: verify the Gateway API manifests under PATH (e.g. edited output of -o)"
                        " instead of a fresh conversion")


def _load(paths: list[str], stderr: TextIO) -> list[dict] | None:
    from ingressd.objects.manifests import load_paths

    result = load_paths(paths)
    for problem in result.errors:
        print(f"ingressd convert: {problem}", file=stderr)
    if result.errors:
        return None
    return [m.obj for m in result.manifests]


def _by_namespace(objects: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for obj in objects:
        out[obj["metadata"].get("namespace", "default")].append(obj)
    return out


def _print_findings(conversion, out: TextIO) -> None:
    if not conversion.findings:
        print("# every Ingress setting is expressed", file=out)
        return
    print(f"# {count(len(conversion.findings), 'finding')}:", file=out)
    for f in conversion.findings:
        where = f"{f.host or '*'}{'' if f.path is None else ' ' + f.path}"
        print(f"#  {f.severity:<13} {f.namespace}/{f.ingress} {where}: {f.subject}: {f.message}", file=out)


def run_convert(args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    from ingressd.routing.convert import convert

    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    for name in ("samples", "split_requests"):
        if getattr(args, name) < 0 or (name == "split_requests" and args.split_requests < 20):
            print(f"ingressd convert: --{name.replace('_', '-')} is too small", file=stderr)
            return EXIT_USAGE
    objects = _load(args.paths, stderr)
    if objects is None:
        return EXIT_USAGE
    if not any(o.get("kind") == "Ingress" for o in objects):
        print(f"ingressd convert: no Ingress in {', '.join(args.paths)}", file=stderr)
        return EXIT_USAGE
    conversion = convert(objects, args.ingress_class)
    if args.converted:  # verify these manifests (hand-edited, or deliberately wrong in tests) instead
        loaded = _load([args.converted], stderr)
        if loaded is None:
            return EXIT_USAGE
        conversion.objects = [o for o in loaded if o.get("apiVersion", "").startswith("gateway.networking.k8s.io/")]
    report = conversion.report()
    if args.output_dir:
        os.makedirs(args.output_dir, exist_ok=True)
        for ns, objs in sorted(_by_namespace(conversion.objects).items()):
            path = os.path.join(args.output_dir, f"{ns}.yaml")
            with open(path, "w") as f:
                f.write("# Generated by `ingressd convert`; see the report for what is not expressed.\n")
                f.write(yaml.safe_dump_all(objs, sort_keys=False))
            print(f"wrote {path} ({count(len(objs), 'object')})", file=stderr)
        _print_findings(conversion, stdout)
    elif not args.verify:
        stdout.write(yaml.safe_dump_all(conversion.objects, sort_keys=False))
        _print_findings(conversion, stdout)
    else:
        _print_findings(conversion, stdout)
    status = EXIT_OK
    if args.verify:
        from ingressd.convert.verify import VerifyError, verify

        try:
            result = verify(objects, args.paths, conversion, samples=args.samples, seed=args.seed,
                            split_requests=args.split_requests, timeout=args.timeout,
                            ingress_class=args.ingress_class)
        except VerifyError as err:
            print(f"ingressd convert --verify: {err}", file=stderr)
            return EXIT_USAGE
        _print_verify(result, stdout)
        report["verify"] = {"requests": result.requests, "splits": result.splits,
                            "differences": [d.as_dict() for d in result.differences],
                            "unexplained": len(result.unexplained)}
        status = EXIT_DIFFERENT if result.unexplained else EXIT_OK
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return status


def _print_verify(result, out: TextIO) -> None:
    known = len(result.differences) - len(result.unexplained)
    print(f"verify: {count(result.requests, 'request')} ({count(result.splits, 'weighted split')} compared "
          f"statistically): {count(len(result.unexplained), 'difference')}, {known} known (listed in the findings)",
          file=out)
    if not result.differences:
        return
    print(f"{'':<6} {'REQUEST':<60} {'DIFFERS':<16} ORIGINAL -> CONVERTED", file=out)
    for d in result.differences:
        tag = "known" if d.known else "DIFF"
        original = {k: d.original[k] for k in d.aspects} if "status" in d.original else d.original
        converted = {k: d.converted[k] for k in d.aspects} if "status" in d.converted else d.converted
        print(f"{tag:<6} {d.probe.describe():<60} {','.join(d.aspects):<16} {original} -> {converted}", file=out)
        if d.known:
            print(f"{'':<6}   known: {d.known.subject}: {d.known.message}", file=out)
