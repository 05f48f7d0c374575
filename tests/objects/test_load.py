import os
import textwrap

import pytest

from ingressd.objects.load import Manifest, find_manifest_files, load_file, parse_manifests
from ingressd.objects.manifests import load_paths


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def write(path: str, text: str) -> str:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(textwrap.dedent(text).lstrip("\n"))
    return path


def parse(text: str) -> tuple[list[Manifest], list[str]]:
    manifests, problems = parse_manifests(textwrap.dedent(text).lstrip("\n"), "m.yaml")
    return manifests, [str(p) for p in problems]


CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\n"


# -- files ---------------------------------------------------------------------------------------

def test_find_manifest_files_recurses_sorted_and_skips_other_files():
    for path in ["d/b.yaml", "d/a.yml", "d/sub/c.yaml", "d/sub/deeper/a.yaml", "d/notes.txt", "d/.hidden.yaml",
                 "d/.git/x.yaml", "d/.#lock.yaml", "single.txt"]:
        write(path, "")
    assert find_manifest_files(["d", "single.txt"]) == [
        "d/a.yml", "d/b.yaml", "d/sub/c.yaml", "d/sub/deeper/a.yaml", "single.txt",
    ]


def test_find_manifest_files_keeps_missing_paths_and_drops_repeats():
    write("d/a.yaml", "")
    assert find_manifest_files(["d/a.yaml", "d", "./d/a.yaml", "nope.yaml"]) == ["d/a.yaml", "nope.yaml"]


def test_missing_file_is_a_problem():
    result = load_paths(["nope.yaml"])
    assert [str(p) for p in result.problems] == [
        "nope.yaml:1: File -/-: (file): cannot read: No such file or directory"]
    assert result.manifests == [] and len(result.errors) == 1 and result.warnings == []


def test_empty_directory_is_a_warning():
    os.mkdir("empty")
    result = load_paths(["empty"])
    assert [str(p) for p in result.problems] == [
        "empty:1: File -/-: (file): warning: directory has no *.yaml or *.yml files"
    ]
    assert result.errors == []


def test_file_that_is_not_utf8():
    with open("bin.yaml", "wb") as f:
        f.write(b"a: 1\nb: \xff\xfe\x00\n")
    manifests, problems = load_file("bin.yaml")
    assert manifests == []
    assert [str(p) for p in problems] == ["bin.yaml:2: File -/-: (file): not UTF-8 text: invalid byte at offset 8"]


def test_utf8_bom_and_crlf():
    with open("bom.yaml", "wb") as f:
        f.write(b"\xef\xbb\xbf" + (CONFIG_MAP % "c").replace("\n", "\r\n").encode())
    manifests, problems = load_file("bom.yaml")
    assert problems == [] and manifests[0].name == "c" and manifests[0].field_lines[("metadata",)] == 3


def test_load_paths_orders_files_and_problems():
    write("d/b.yaml", """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: b}
        data: {k: 1}
    """)
    write("d/a.yaml", "apiVersion: v1\nkind: Widget\nmetadata: {name: a}\n---\n" + CONFIG_MAP % "a2")
    result = load_paths(["d"])
    assert [(m.file, m.kind, m.name) for m in result.manifests] == [
        ("d/a.yaml", "Widget", "a"), ("d/a.yaml", "ConfigMap", "a2"), ("d/b.yaml", "ConfigMap", "b")]
    assert [str(p) for p in result.problems] == [
        "d/a.yaml:2: Widget default/a: kind: warning: kind Widget is not served by ingressd; ignored",
        'd/b.yaml:4: ConfigMap default/b: data[k]: Invalid value: 1: must be a string (quote it: "1")',
    ]
    assert len(result.errors) == 1 and len(result.warnings) == 1


# -- documents -----------------------------------------------------------------------------------

def test_multi_document_lines_and_empty_documents():
    manifests, problems = parse("""
        ---
        ---
        # only a comment
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: one
        ---

        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: two
        ...
        ---
    """)
    assert problems == []
    assert [(m.name, m.line) for m in manifests] == [("one", 5), ("two", 11)]
    assert manifests[1].field_lines[("metadata", "name")] == 14


def test_field_lines_point_at_keys_and_items():
    manifests, _ = parse("""
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: web
        spec:
          rules:
          - host: a.example.com
            http:
              paths:
              - path: /
                pathType: Prefix
                backend:
                  service: {name: web, port: {number: 80}}
              -
                path: /b
                pathType: Exact
    """)
    m = manifests[0]
    assert m.field_lines[("spec",)] == 5
    assert m.field_lines[("spec", "rules", 0)] == 7
    assert m.field_lines[("spec", "rules", 0, "http", "paths", 0, "pathType")] == 11
    assert m.field_lines[("spec", "rules", 0, "http", "paths", 0, "backend", "service", "port", "number")] == 13
    assert m.field_lines[("spec", "rules", 0, "http", "paths", 1)] == 15
    assert m.field_lines[("spec", "rules", 0, "http", "paths", 1, "pathType")] == 16
    # A field that is not written points at its closest written parent.
    assert m.line_of(("spec", "rules", 0, "http", "paths", 1, "backend", "service")) == 15
    assert m.line_of(("status", "loadBalancer")) == 1
    problem = m.problem(("spec", "rules", 0, "http", "paths", 1, "pathType"), "bad", "warning")
    assert str(problem) == "m.yaml:16: Ingress default/web: spec.rules[0].http.paths[1].pathType: warning: bad"


def test_namespace_defaults_and_cluster_scoped_kinds():
    manifests, _ = parse("""
        apiVersion: v1
        kind: Service
        metadata: {name: a}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: b, namespace: shop}
        ---
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: nginx, namespace: ignored}
        ---
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w, namespace: ""}
    """)
    assert [(m.kind, m.namespace, m.name) for m in manifests] == [
        ("Service", "default", "a"), ("Service", "shop", "b"), ("IngressClass", "", "nginx"),
        ("Widget", "default", "w")]
    assert manifests[0].obj["metadata"] == {"name": "a", "namespace": "default"}
    assert manifests[2].obj["metadata"] == {"name": "nginx"}


def test_kind_list_items_are_objects_with_their_own_lines():
    manifests, problems = parse("""
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: ConfigMap
          metadata:
            name: first
        - 42
        - apiVersion: v1
          kind: Service
          metadata:
            name: second
            namespace: shop
          spec:
            ports: [{port: 80}]
    """)
    assert problems == ["m.yaml:8: List -: items[1]: Invalid value: 42: must be an object (a mapping)"]
    assert [(m.kind, m.namespace, m.name, m.line) for m in manifests] == [
        ("ConfigMap", "default", "first", 4), ("Service", "shop", "second", 9)]
    assert manifests[1].field_lines[("spec", "ports", 0, "port")] == 15
    assert manifests[1].line_of(("metadata", "name")) == 12


def test_typed_list_kinds_expand_too():
    item = (CONFIG_MAP % "x").replace("\n", "\n  ")
    manifests, problems = parse("apiVersion: v1\nkind: ServiceList\nitems:\n- " + item)
    assert problems == [] and [(m.kind, m.line) for m in manifests] == [("ConfigMap", 4)]


def test_values_stay_json_shaped():
    manifests, _ = parse("""
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: c, creationTimestamp: 2024-01-02T03:04:05Z}
        data: {a: =, b: 2024-01-02}
    """)
    obj = manifests[0].obj
    assert obj["metadata"]["creationTimestamp"] == "2024-01-02T03:04:05Z"
    assert obj["data"] == {"a": "=", "b": "2024-01-02"}


def test_anchors_aliases_and_merge_keys():
    manifests, problems = parse("""
        apiVersion: v1
        kind: ConfigMap
        metadata: &meta
          name: c
          labels: {app: x}
        data:
          <<: {a: "1", b: "2"}
          b: "3"
        binaryData: *meta
    """)
    assert problems == []
    assert manifests[0].obj["data"] == {"a": "1", "b": "3"}
    assert manifests[0].field_lines[("data", "b")] == 8


# -- YAML problems -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: a: b\n",
            "m.yaml:5: YAML -/-: (document): mapping values are not allowed here",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: c\n",
            "m.yaml:4: YAML -/-: (document): found character '\\t' that cannot start any token "
            "(indent with spaces, not tabs) (while scanning for the next token)",
        ),
        (
            "apiVersion: v1\ndata: [a,\n  b\nkind: x\n",
            "m.yaml:4: YAML -/-: (document): expected ',' or ']', but got ':' "
            "(while parsing a flow sequence at line 2)",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\ndata: {a: !secret x}\n",
            "m.yaml:3: YAML -/-: (document): could not determine a constructor for the tag '!secret'",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\ndata: {a: \x01}\n",
            "m.yaml:3: YAML -/-: (document): unacceptable character #x0001: special characters are not allowed",
        ),
        (
            "- apiVersion: v1\n",
            "m.yaml:1: YAML -/-: (document): document is a list, not a mapping: expected a Kubernetes object",
        ),
        (
            "# a comment\n\njust text\n",
            "m.yaml:3: YAML -/-: (document): document is a string, not a mapping: expected a Kubernetes object",
        ),
    ],
)
def test_yaml_problems(text, expected):
    _, problems = parse(text)
    assert problems == [expected]


def test_syntax_error_keeps_earlier_documents_and_stops_the_file():
    broken = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [broken\n---\n"
    text = CONFIG_MAP % "ok" + broken + CONFIG_MAP % "after"
    manifests, problems = parse(text)
    assert [m.name for m in manifests] == ["ok"]
    assert problems == ["m.yaml:9: YAML -/-: (document): expected ',' or ']', but got '<document start>' "
                        "(while parsing a flow sequence at line 8)"]


def test_syntax_error_line_through_load_paths():
    write("bad.yaml", """
        apiVersion: v1
        kind: Service
        metadata:
          name: web
        spec:
          ports:
          - port: 80
           targetPort: 8080
    """)
    result = load_paths(["bad.yaml"])
    assert [str(p) for p in result.problems] == [
        "bad.yaml:8: YAML -/-: (document): expected <block end>, but found '<block mapping start>' "
        "(while parsing a block mapping at line 6)"
    ]


def test_duplicate_keys_are_errors():
    _, problems = parse("""
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: c
        data:
          a: "1"
          a: "2"
    """)
    assert problems == ['m.yaml:7: ConfigMap default/c: data.a: duplicate key "a" (first at line 6)']


def test_recursive_alias_is_refused_as_go_yaml_does():
    manifests, problems = parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nx: &a [*a]\n")
    assert manifests == []
    assert problems == ["m.yaml:4: YAML -/-: (document): anchor 'a' value contains itself (at alias *a)"]


def laughs(levels: int, fanout: int = 9, prefix: str = "") -> list[str]:
    """A billion-laughs ConfigMap: each level an anchored list of `fanout` aliases of the one before."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}", "data:",
             f'  {prefix}a0: &a0 [' + ",".join(['"lol"'] * fanout) + "]"]
    lines += [f"  {prefix}a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * fanout) + "]" for i in range(1, levels + 1)]
    return lines


def test_billion_laughs_is_refused_at_the_alias_that_tips_it_without_being_expanded(monkeypatch):
    import time

    import yaml

    text = "\n".join(laughs(9)) + "\n"  # ~ 9**10 = 3.5 billion strings once expanded, 577 bytes written
    assert len(text) < 600
    constructed = []
    real = yaml.constructor.BaseConstructor.construct_document
    monkeypatch.setattr(yaml.constructor.BaseConstructor, "construct_document",
                        lambda self, node: constructed.append(node) or real(self, node))
    start = time.perf_counter()
    manifests, problems = parse(text)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0  # bounded by what is written, not by the expansion
    loaded, constructed_documents = len(manifests), len(constructed)  # never repr them: that would expand
    assert (loaded, constructed_documents) == (0, 0)
    assert len(problems) == 1
    assert problems[0].startswith("m.yaml:8: YAML -/-: (document): document contains excessive aliasing: by alias *a2 ")
    assert "CVE-2019-11253" in problems[0]


@pytest.mark.parametrize(("levels", "fanout", "refused"), [
    (1, 9, False), (2, 9, False), (3, 9, True),  # copies: 90 of ~120 (too few to judge), 96 %, 99.4 %
    (2, 10, False), (3, 10, True),  # 96 %, 99.5 % (over 99 % of fewer than 400,000 decodes)
])
def test_alias_expansion_limit_is_go_yamls(levels, fanout, refused):
    manifests, problems = parse("\n".join(laughs(levels, fanout)) + "\n")
    assert bool(problems) is refused, problems
    loaded = len(manifests)  # never repr them: a refused document would expand
    assert loaded == (0 if refused else 1)


def test_aliasing_is_judged_per_document_and_the_line_is_in_its_own_document():
    text = CONFIG_MAP % "ok" + "---\n" + "\n".join(laughs(5)) + "\n---\n" + CONFIG_MAP % "after"
    manifests, problems = parse(text)
    assert [m.name for m in manifests] == ["ok", "after"]
    assert len(problems) == 1 and problems[0].startswith("m.yaml:12: YAML -/-: (document): document contains excessive")


def test_a_few_aliases_and_merge_keys_still_load():
    manifests, problems = parse("""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, labels: &labels {app: web, tier: front}}
        spec:
          replicas: 1
          selector: {matchLabels: *labels}
          template:
            metadata: {labels: *labels}
            spec:
              containers:
              - &c {name: a, image: ingressd/echo:1.0, env: &env [{name: A, value: "1"}, {name: B, value: "2"}]}
              - <<: *c
                name: b
                env: *env
    """)
    assert problems == []
    spec = manifests[0].obj["spec"]
    assert spec["selector"]["matchLabels"] == spec["template"]["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert [c["name"] for c in spec["template"]["spec"]["containers"]] == ["a", "b"]


def test_a_large_document_may_use_many_aliases():
    # 300 ConfigMaps, each labelled through an alias: 300 aliases, but a small share of the document.
    lines = ["apiVersion: v1", "kind: List", "items:"]
    lines += [f"- {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c{i}, labels: {'&l {a: b}' if i == 0 else '*l'}}}}}"
              for i in range(300)]
    manifests, problems = parse("\n".join(lines) + "\n")
    assert problems == [] and len(manifests) == 300
