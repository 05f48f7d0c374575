"""Admin server: /healthz, /metrics and a read-only Kubernetes-shaped API."""

from ingressd.admin.app import build_admin_app

__all__ = ["build_admin_app"]
