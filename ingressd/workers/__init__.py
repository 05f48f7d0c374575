"""`ingressd run --workers N`: N data-plane processes fed by the one control process.

The control process (`ingressd run` itself) keeps the store, the controllers, the kubelet, the
admin API and the routing snapshots; it binds every proxy listener once per worker with
SO_REUSEPORT (so the kernel spreads connections across the workers and a port 0 resolves once)
and hands each worker its sockets. Workers run the unchanged proxy (`ingressd.proxy.server`) on
the snapshots the control process ships them, and report back access-log lines (written by the
control process, one whole batch of lines at a time) and metric deltas (summed into the one
/metrics). `--workers 1`, the default, starts none of this.

- `merge`: the pure parts (worker count, per-worker seeds, metric drain/merge, traffic totals);
- `channel`: the framing of the control <-> worker sockets;
- `pool`: the control side (`WorkerPool`, a ProxyServer that serves nothing itself);
- `worker`: the worker process (`python -m ingressd.workers.worker`).
"""
