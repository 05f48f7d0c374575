"""Manifests written to hurt: `validate` and `run` refuse them quickly, with FILE:LINE."""

from __future__ import annotations

import time

from tests.e2e.conftest import free_port, run_cli
from tests.objects.test_load import laughs
from tests.objects.test_volume_mounts import DEPLOYMENT, FIELD


def test_validate_refuses_a_billion_laughs_quickly(tmp_path):
    path = tmp_path / "lol.yaml"
    path.write_text("\n".join(laughs(9)) + "\n")  # 577 bytes, billions of strings once expanded
    start = time.monotonic()
    result = run_cli("validate", "-f", str(path), timeout=30)
    assert time.monotonic() - start < 20
    assert result.returncode == 1
    assert result.stdout.startswith(f"{path}:8: YAML -/-: (document): document contains excessive aliasing")


def test_run_refuses_to_start_on_a_billion_laughs(tmp_path):
    path = tmp_path / "lol.yaml"
    path.write_text("\n".join(laughs(9)) + "\n")
    result = run_cli("run", "-f", str(path), "--http-port", str(free_port()), "--https-port", str(free_port()),
                     "--admin-port", str(free_port()), "--state-dir", str(tmp_path / "s"), timeout=30)
    assert result.returncode == 1
    assert "excessive aliasing" in result.stderr and "Traceback" not in result.stderr


def test_validate_refuses_a_sub_path_out_of_the_volume(tmp_path):
    path = tmp_path / "escape.yaml"
    path.write_text(DEPLOYMENT.format(mount="{name: data, mountPath: /data, subPath: ../../x}"))
    result = run_cli("validate", "-f", str(path))
    assert result.returncode == 1
    assert f"{path}:13: Deployment default/web: {FIELD}.subPath: Invalid value: \"../../x\": must not contain '..'" \
        in result.stdout
