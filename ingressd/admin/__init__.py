"""Admin server: /healthz, /metrics and a Kubernetes-shaped API (reads, watches, pod deletes, scale)."""

from ingressd.admin.app import build_admin_app

__all__ = ["build_admin_app"]
