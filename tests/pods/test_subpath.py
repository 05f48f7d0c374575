"""A volumeMount's subPath stays inside its volume, at the kubelet too (the second line of defence
behind validation)."""

from __future__ import annotations

import os

import pytest

from ingressd.pods.subpath import SubPathError, sub_path_directory, sub_path_problems
from tests.pods.test_kubelet import Cluster, claim_pod


@pytest.mark.parametrize(("sub_path", "problems"), [
    ("data", []),
    ("a/b/c", []),
    ("a/./b", []),
    ("..data", []),  # a name starting with dots is not a step up
    ("a..b/c..", []),
    ("./x", []),
    ("../x", ["must not contain '..'"]),
    ("../../x", ["must not contain '..'"]),
    ("a/../../x", ["must not contain '..'"]),
    ("a/..", ["must not contain '..'"]),
    ("..", ["must not contain '..'"]),
    ("/etc", ["must be a relative path"]),
    ("/../x", ["must be a relative path", "must not contain '..'"]),
])
def test_sub_path_problems(sub_path, problems):
    assert sub_path_problems(sub_path) == problems


def test_sub_path_directory_inside_the_volume(tmp_path):
    assert sub_path_directory(str(tmp_path), "a/b") == os.path.join(str(tmp_path), "a/b")


@pytest.mark.parametrize("sub_path", ["../x", "../../x", "/tmp/x", "a/../../x"])
def test_sub_path_directory_refuses_leaving_the_volume(tmp_path, sub_path):
    with pytest.raises(SubPathError, match="unable to provision SubPath"):
        sub_path_directory(str(tmp_path / "vol"), sub_path)


def test_sub_path_directory_refuses_a_symlink_out_of_the_volume(tmp_path):
    volume = tmp_path / "vol"
    volume.mkdir()
    (volume / "out").symlink_to(tmp_path)
    (volume / "in").symlink_to(volume / "real")
    with pytest.raises(SubPathError, match="symbolic link"):
        sub_path_directory(str(volume), "out/x")
    assert sub_path_directory(str(volume), "in/x") == str(volume / "in/x")


async def test_a_pod_whose_sub_path_escapes_is_not_started_and_writes_nothing(tmp_path):
    cluster = Cluster(backoff=(0.05, 0.2))
    try:
        volume = tmp_path / "state" / "pv" / "data"
        cluster.store.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                             "metadata": {"name": "data", "annotations": {"ingressd.io/volume-path": str(volume)}}})
        pod = claim_pod("web-0", "data")
        pod["spec"]["containers"][0]["volumeMounts"][0]["subPath"] = "../../../escaped"
        cluster.store.apply(pod)
        await cluster.wait_until(lambda: "containerStatuses" in (cluster.store.get("Pod", "default", "web-0").get("status") or {}))
        (status,) = cluster.store.get("Pod", "default", "web-0")["status"]["containerStatuses"]
        assert status["state"]["waiting"]["reason"] == "CreateContainerConfigError"
        assert "unable to provision SubPath `../../../escaped`: must not contain '..'" in status["state"]["waiting"]["message"]
        assert not (tmp_path / "escaped").exists() and not status["ready"]
    finally:
        await cluster.kubelet.close()
