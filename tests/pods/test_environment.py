"""A container's environment and argv, as the kubelet computes them (pure)."""

import base64

import pytest

from ingressd.pods.environment import ConfigError, argv, container_env, expand, volume_env_name

POD = {"metadata": {"name": "web-0", "namespace": "shop", "uid": "u-1", "labels": {"app": "web"},
                    "annotations": {"team": "a"}},
       "spec": {"nodeName": "ingressd"}}
OBJECTS = {
    ("ConfigMap", "shop", "cfg"): {"data": {"A": "1", "B": "2"}},
    ("Secret", "shop", "sec"): {"data": {"TOKEN": base64.b64encode(b"s3cret").decode()}},
    ("Secret", "shop", "bad"): {"data": {"X": "not base64!"}},
}


def lookup(kind, namespace, name):
    return OBJECTS.get((kind, namespace, name))


def env_of(container):
    return container_env(POD, container, "127.1.0.5", "127.0.0.1", {"data": "/tmp/pv/data"}, lookup)


@pytest.mark.parametrize("text, want", [
    ("$(A)", "1"),
    ("x$(A)y$(B)", "x1y2"),
    ("$$(A)", "$(A)"),
    ("$(MISSING)", "$(MISSING)"),
    ("$A", "$A"),
    ("$$", "$"),
    ("$(A", "$(A"),
])
def test_expand(text, want):
    assert expand(text, {"A": "1", "B": "2"}) == want


@pytest.mark.parametrize("volume, name", [("data", "DATA_DIR"), ("my-cache.v1", "MY_CACHE_V1_DIR")])
def test_volume_env_name(volume, name):
    assert volume_env_name(volume) == name


def test_builtin_variables_and_precedence():
    env = env_of({"ports": [{"containerPort": 9000}, {"containerPort": 9001}],
                  "envFrom": [{"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "sec"}, "prefix": "S_"}],
                  "env": [{"name": "A", "value": "override"}, {"name": "C", "value": "$(A)-$(S_TOKEN)"}]})
    assert env == {"POD_NAME": "web-0", "POD_NAMESPACE": "shop", "POD_IP": "127.1.0.5", "PORT": "9000",
                   "DATA_DIR": "/tmp/pv/data", "A": "override", "B": "2", "S_TOKEN": "s3cret", "C": "override-s3cret"}


@pytest.mark.parametrize("value_from, want", [
    ({"fieldRef": {"fieldPath": "metadata.name"}}, "web-0"),
    ({"fieldRef": {"fieldPath": "metadata.namespace"}}, "shop"),
    ({"fieldRef": {"fieldPath": "metadata.uid"}}, "u-1"),
    ({"fieldRef": {"fieldPath": "metadata.labels['app']"}}, "web"),
    ({"fieldRef": {"fieldPath": "metadata.annotations['team']"}}, "a"),
    ({"fieldRef": {"fieldPath": "spec.nodeName"}}, "ingressd"),
    ({"fieldRef": {"fieldPath": "status.podIP"}}, "127.1.0.5"),
    ({"fieldRef": {"fieldPath": "status.hostIP"}}, "127.0.0.1"),
    ({"configMapKeyRef": {"name": "cfg", "key": "B"}}, "2"),
    ({"secretKeyRef": {"name": "sec", "key": "TOKEN"}}, "s3cret"),
    ({"configMapKeyRef": {"name": "cfg", "key": "nope", "optional": True}}, None),
    ({"configMapKeyRef": {"name": "absent", "key": "x", "optional": True}}, None),
    ({"resourceFieldRef": {"resource": "limits.cpu"}}, "1"),  # no limit: the node's allocatable, 1 here
    ({"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}, "250"),
    ({"resourceFieldRef": {"resource": "requests.memory", "divisor": "1Mi"}}, "64"),
    ({"resourceFieldRef": {"resource": "limits.memory"}}, "0"),
])
def test_value_from(value_from, want):
    container = {"resources": {"requests": {"cpu": "250m", "memory": "64Mi"}},
                 "env": [{"name": "V", "valueFrom": value_from}]}
    assert env_of(container).get("V") == want


@pytest.mark.parametrize("container, message", [
    ({"envFrom": [{"configMapRef": {"name": "absent"}}]}, 'configmap "absent" not found'),
    ({"envFrom": [{"secretRef": {"name": "absent"}}]}, 'secret "absent" not found'),
    ({"env": [{"name": "V", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "Z"}}}]},
     "couldn't find key Z in ConfigMap shop/cfg"),
    ({"env": [{"name": "V", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}}]}, "unsupported fieldRef"),
    ({"envFrom": [{"secretRef": {"name": "bad"}}]}, 'secret "bad": data[X] is not valid base64'),
])
def test_config_errors(container, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        env_of(container)


def test_optional_env_from_is_skipped():
    assert "A" not in env_of({"envFrom": [{"configMapRef": {"name": "absent", "optional": True}}]})


@pytest.mark.parametrize("container, want", [
    ({"command": ["app", "$(POD_NAME)"], "args": ["--ip=$(POD_IP)"]}, ["app", "web-0", "--ip=127.1.0.5"]),
    ({"args": ["only-args"]}, []),
    ({}, []),
])
def test_argv(container, want):
    assert argv(container, {"POD_NAME": "web-0", "POD_IP": "127.1.0.5"}) == want
