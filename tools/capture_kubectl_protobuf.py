"""Record what the real kubectl sends as protobuf, for tests/apimachinery/test_protobuf_kubectl.py.

    KUBECONFIG=... python tools/capture_kubectl_protobuf.py > tests/apimachinery/kubectl_protobuf.json

KUBECONFIG points at a running `ingressd run` (any state; `web` is created for expose/autoscale).
For each command below, kubectl runs twice: with -v=10 (-v=9 truncates long dumps), whose "Request Body" hex dump of the write
is the protobuf body (client-go logs it before sending), and with --dry-run=client -o json, which
prints the same object as Go's JSON: what the decoder must turn the protobuf into. (kubectl expose
and kubectl run send JSON: they build unstructured objects, so they are not here.) Not shipped; run
by hand when the commands or the kubectl version change.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HEX_LINE = re.compile(r"^\s*[0-9a-f]{8}  ((?:[0-9a-f]{2} {1,2})+)")


def commands(files: Path) -> dict[str, list[str]]:
    return {
        "create_deployment": ["create", "deployment", "web", "--image=ingressd/echo:1.0", "--replicas=2"],
        "create_deployment_zero": ["create", "deployment", "zero", "--image=ingressd/echo:1.0", "--replicas=0",
                                   "--port=8080"],
        "create_deployment_two_images": ["create", "deployment", "two", "--image=ingressd/echo:1.0",
                                         "--image=busybox:1.36"],
        "create_service_clusterip": ["create", "service", "clusterip", "svc", "--tcp=80:8080"],
        "create_service_nodeport": ["create", "service", "nodeport", "np", "--tcp=80:http", "--node-port=30080"],
        "create_service_headless": ["create", "service", "clusterip", "headless", "--clusterip=None",
                                    "--tcp=5678:8080"],
        "create_service_externalname": ["create", "service", "externalname", "ext",
                                        "--external-name=example.com"],
        "create_secret_generic": ["create", "secret", "generic", "s", "--from-literal=a=b",
                                  f"--from-file=bin={files / 'bin'}", "--type=Opaque"],
        "create_secret_tls": ["create", "secret", "tls", "t", f"--cert={files / 'tls.crt'}",
                              f"--key={files / 'tls.key'}"],
        "create_secret_docker_registry": ["create", "secret", "docker-registry", "reg", "--docker-server=r.example",
                                          "--docker-username=u", "--docker-password=p"],
        "create_configmap": ["create", "configmap", "c", "--from-literal=k=v", f"--from-file=bin={files / 'bin'}"],
        "create_namespace": ["create", "namespace", "made"],
        "create_ingress": ["create", "ingress", "demo", "--rule=demo.localtest.me/path=svc:80"],
        "create_ingress_tls": ["create", "ingress", "secure", "--class=nginx",
                               "--rule=secure.localtest.me/*=svc:http,tls=t",
                               "--default-backend=svc:80", "--annotation=nginx.ingress.kubernetes.io/x=y"],
        "autoscale_deployment": ["autoscale", "deployment", "web", "--min=1", "--max=3", "--cpu-percent=50"],
        "create_pdb": ["create", "pdb", "budget", "--selector=app=web", "--min-available=1"],
        "create_token": ["create", "token", "default"],
    }


def body_of(stderr: str) -> bytes | None:
    """The first protobuf "Request Body" client-go logged at -v=10."""
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        if '"Request Body"' not in line:
            continue
        data = bytearray()
        for dump in lines[i + 1:]:
            m = HEX_LINE.match(dump)
            if not m:
                break
            data += bytes.fromhex(m.group(1).replace(" ", ""))
        if data.startswith(b"k8s\x00"):
            return bytes(data)
    return None


def main() -> None:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = Path(tmp)
        (files / "bin").write_bytes(bytes(range(256)))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=secure.localtest.me", "-keyout", files / "tls.key", "-out", files / "tls.crt"],
                       check=True, capture_output=True)
        for name, argv in commands(files).items():
            split = argv.index("--") if "--" in argv else len(argv)
            dry = subprocess.run(["kubectl", *argv[:split], "--dry-run=client", "-o", "json", *argv[split:]],
                                 capture_output=True, text=True, check=False)
            sent = subprocess.run(["kubectl", "-v=10", *argv], capture_output=True, text=True, check=False)
            body = body_of(sent.stderr)
            entry = {"argv": argv, "protobuf": body.hex() if body else None,
                     "json": json.loads(dry.stdout) if dry.returncode == 0 else None}
            if dry.returncode:
                entry["dry_run_error"] = dry.stderr.strip()
            if sent.returncode:
                entry["error"] = sent.stderr.strip().splitlines()[-1]
            out[name] = entry
            print(name, "protobuf" if body else "no protobuf body", entry.get("error", ""), file=sys.stderr)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
