"""The admin application's shared state, as aiohttp app keys."""

from __future__ import annotations

from typing import Any

from aiohttp import web

STORE_KEY: web.AppKey[Any] = web.AppKey("store", object)
# `<state-dir>/logs`, where the kubelet writes `<ns>/<pod>/<container>.log`; None: not captured.
LOGS_DIR_KEY: web.AppKey[Any] = web.AppKey("logs_dir", object)
# kind -> (namespace or None -> documents), for resources that are computed rather than stored.
COMPUTED_KEY: web.AppKey[Any] = web.AppKey("computed", object)
WATCHES_KEY: web.AppKey[set] = web.AppKey("watches", set)
