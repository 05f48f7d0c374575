import pytest

from ingressd.objects.problems import Key, Problem, format_field, show_value


@pytest.mark.parametrize(
    ("problem", "expected"),
    [
        (
            Problem("a.yaml", 12, "Ingress", "default", "web", "spec.rules[0].http.paths[1].pathType",
                    "Required value"),
            "a.yaml:12: Ingress default/web: spec.rules[0].http.paths[1].pathType: Required value",
        ),
        (
            Problem("a.yaml", 3, "Ingress", "shop", "web", "spec", "unused", severity="warning"),
            "a.yaml:3: Ingress shop/web: spec: warning: unused",
        ),
        (
            Problem("c.yaml", 4, "IngressClass", "", "nginx", "spec.controller", "Required value"),
            "c.yaml:4: IngressClass nginx: spec.controller: Required value",
        ),
        (
            Problem("b.yaml", 7, "YAML", "-", "-", "(document)", "mapping values are not allowed here"),
            "b.yaml:7: YAML -/-: (document): mapping values are not allowed here",
        ),
    ],
)
def test_problem_str(problem, expected):
    assert str(problem) == expected


def test_problem_severity():
    assert Problem("f", 1, "K", "n", "x", "f", "m").is_error
    assert not Problem("f", 1, "K", "n", "x", "f", "m", "warning").is_error


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ((), ""),
        (("spec",), "spec"),
        (("spec", "rules", 0, "http", "paths", 1, "pathType"), "spec.rules[0].http.paths[1].pathType"),
        (("metadata", "annotations", Key("nginx.ingress.kubernetes.io/use-regex")),
         "metadata.annotations[nginx.ingress.kubernetes.io/use-regex]"),
        (("data", Key("app")), "data[app]"),
        (("data", "tls.crt"), "data[tls.crt]"),
        (("items", 2), "items[2]"),
    ],
)
def test_format_field(path, expected):
    assert format_field(path) == expected


def test_key_finds_plain_string_entries():
    assert {("data", "a"): 3}[("data", Key("a"))] == 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("80", '"80"'),
        (80, "80"),
        (True, "true"),
        ({"b": "2", "a": "1"}, '{"a":"1","b":"2"}'),
        ("x" * 100, '"' + "x" * 76 + "..."),
    ],
)
def test_show_value(value, expected):
    assert show_value(value) == expected
