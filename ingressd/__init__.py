"""ingressd: a local ingress emulator with ingress-nginx semantics."""

__version__ = "0.1.0"
