"""Generate ingressd/apimachinery/proto_schema.py: the field tables ingressd.apimachinery.protobuf
reads Kubernetes' protobuf request bodies with (what kubectl's typed clients send).

    python tools/gen_proto_schema.py API_GIT_DIR APIMACHINERY_GIT_DIR [REF]

API_GIT_DIR and APIMACHINERY_GIT_DIR: git directories (bare or not) of github.com/kubernetes/api
and github.com/kubernetes/apimachinery; REF: the tag read in both (default v0.32.9, Kubernetes 1.32).
Not shipped; run by hand when the served kinds or the emulated Kubernetes version change, then
commit the regenerated module.

Two upstream sources per package, both read for facts only:
- generated.proto gives each message's fields: number, proto type (scalar, message, map) and
  whether it is repeated;
- the Go types (types.go and the package's other .go files) give what protobuf cannot: the JSON
  name from the `json` tag (which differs from the proto name for inlined structs such as
  Volume.volumeSource, json ",inline"), `omitempty`, and whether the Go field is a pointer (Go
  writes a non-pointer scalar to protobuf always and to JSON unless omitempty; a pointer one only
  when set, zero included: Deployment spec.replicas 0 stays 0).
Field numbers and kinds are cross-checked between the two (a disagreement stops the generator).
"""

from __future__ import annotations

import pprint
import re
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "ingressd" / "apimachinery" / "proto_schema.py"
REF = "v0.32.9"

# (repository, package directory, API version its kinds are served as, or None for helper packages)
PACKAGES = [
    ("api", "core/v1", "v1"),
    ("api", "apps/v1", "apps/v1"),
    ("api", "autoscaling/v1", "autoscaling/v1"),
    ("api", "autoscaling/v2", "autoscaling/v2"),
    ("api", "networking/v1", "networking.k8s.io/v1"),
    ("api", "discovery/v1", "discovery.k8s.io/v1"),
    ("api", "policy/v1", "policy/v1"),
    ("api", "authorization/v1", "authorization.k8s.io/v1"),
    ("api", "authentication/v1", "authentication.k8s.io/v1"),
    ("apimachinery", "pkg/apis/meta/v1", "meta.k8s.io/v1"),  # DeleteOptions, Status: in every group too
    ("apimachinery", "pkg/api/resource", None),
    ("apimachinery", "pkg/util/intstr", None),
    ("apimachinery", "pkg/runtime", None),
    ("apimachinery", "pkg/runtime/schema", None),
]
SCALARS = {"string", "bool", "int32", "int64", "uint32", "uint64", "bytes", "double", "float"}
# Messages the decoder gives their own JSON form (RFC 3339 times, quantity strings, int-or-string, ...).
SPECIAL = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time", "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Duration", "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "k8s.io.apimachinery.pkg.api.resource.Quantity", "k8s.io.apimachinery.pkg.util.intstr.IntOrString",
    "k8s.io.apimachinery.pkg.runtime.RawExtension",
    "k8s.io.apimachinery.pkg.api.resource.QuantityValue",  # no field has this type
}

MESSAGE_RE = re.compile(r"^message (\w+) \{$")
FIELD_RE = re.compile(r"^\s+(optional|repeated|required) ([\w.]+) (\w+) = (\d+)(?: \[[^]]*\])?;$")
MAP_RE = re.compile(r"^\s+map<(\w+), ([\w.]+)> (\w+) = (\d+);$")
STRUCT_RE = re.compile(r"^type (\w+) struct \{$")
NAMED_RE = re.compile(r"^type (\w+) (\[\]|map\[)")
GO_FIELD_RE = re.compile(r"^\t([\w.*]+)(?:\s+([^`\s]+))?\s+`(.*)`$")


def git(git_dir: str, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, *args], check=True, capture_output=True, text=True).stdout


def parse_proto(text: str) -> tuple[str, dict[str, list[tuple]]]:
    package = re.search(r"^package ([\w.]+);", text, re.MULTILINE).group(1)
    messages: dict[str, list[tuple]] = {}
    current = None
    for line in text.splitlines():
        if m := MESSAGE_RE.match(line):
            current = messages.setdefault(m.group(1), [])
        elif line == "}":
            current = None
        elif current is not None and (m := FIELD_RE.match(line)):
            label, type_, name, number = m.groups()
            current.append((int(number), name, qualify(type_, package), label == "repeated", None))
        elif current is not None and (m := MAP_RE.match(line)):
            key, value, name, number = m.groups()
            current.append((int(number), name, qualify(value, package), False, key))
        elif current is not None and line.strip().startswith(("optional", "repeated", "map<", "required")):
            sys.exit(f"{package}: unparsed field line {line!r}")
    return package, messages


def qualify(type_: str, package: str) -> str:
    if type_ in SCALARS:
        return type_
    return type_[1:] if type_.startswith(".") else f"{package}.{type_}"


def parse_go(texts: list[str]) -> tuple[dict[str, dict[int, tuple]], dict[str, str]]:
    """{struct: {proto number: (json name, omitempty, pointer, inline)}} and {named slice/map type: '[]'|'map['}."""
    structs: dict[str, dict[int, tuple]] = {}
    named: dict[str, str] = {}
    for text in texts:
        current = None
        for line in text.splitlines():
            if m := STRUCT_RE.match(line):
                current = structs.setdefault(m.group(1), {})
            elif m := NAMED_RE.match(line):
                named[m.group(1)] = m.group(2)
            elif line == "}":
                current = None
            elif current is not None and (m := GO_FIELD_RE.match(line)):
                name, go_type, tag = m.groups()
                proto = re.search(r'protobuf:"(\w+),(\d+),', tag)
                if not proto:
                    continue
                json_tag = re.search(r'json:"([^"]*)"', tag)
                parts = (json_tag.group(1) if json_tag else name).split(",")
                inline = "inline" in parts[1:] or (go_type is None and parts[0] == "")
                embedded_pointer = go_type is None and name.startswith("*")
                current[int(proto.group(2))] = (parts[0] or name.split(".")[-1], "omitempty" in parts[1:],
                                                bool(go_type and go_type.startswith("*")) or embedded_pointer, inline)
    return structs, named


def main() -> None:
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    dirs = {"api": sys.argv[1], "apimachinery": sys.argv[2]}
    ref = sys.argv[3] if len(sys.argv) == 4 else REF
    messages: dict[str, dict[int, tuple]] = {}
    kinds: dict[tuple[str, str], str] = {}
    skipped: list[str] = []
    for repo, directory, api_version in PACKAGES:
        git_dir = dirs[repo]
        package, protos = parse_proto(git(git_dir, "show", f"{ref}:{directory}/generated.proto"))
        go_files = [f for f in git(git_dir, "ls-tree", "--name-only", f"{ref}:{directory}").split()
                    if f.endswith(".go") and not f.endswith("_test.go") and not f.startswith(("generated.", "zz_"))]
        go_texts = [git(git_dir, "show", f"{ref}:{directory}/{f}") for f in go_files]
        structs, named = parse_go(go_texts)
        for name, fields in protos.items():
            full = f"{package}.{name}"
            if full in SPECIAL:
                continue
            if name not in structs:
                # A named slice (ExtraValue []string): the message wraps it as `repeated items = 1`.
                if named.get(name) == "[]" and len(fields) == 1 and fields[0][1] == "items" and fields[0][3]:
                    messages[full] = {0: ("[]", fields[0][2], "")}
                    continue
                skipped.append(full)  # core/v1 List (type List metav1.List): never a request body
                continue
            go = structs[name]
            table: dict[int, tuple] = {}
            for number, proto_name, type_, repeated, map_key in fields:
                if number not in go:
                    sys.exit(f"{full}.{proto_name} = {number}: no Go field with that protobuf number")
                json_name, omitempty, pointer, inline = go[number]
                if map_key is not None and map_key != "string":
                    sys.exit(f"{full}.{proto_name}: map key {map_key}")
                flags = ("r" if repeated else "") + ("m" if map_key else "") + ("o" if omitempty else "") \
                    + ("p" if pointer else "") + ("i" if inline else "")
                table[number] = (json_name if not inline else "", type_, flags)
            if set(go) - set(table):
                sys.exit(f"{full}: Go fields {sorted(set(go) - set(table))} missing from generated.proto")
            messages[full] = table
            if api_version and any(re.search(
                    rf"^type {name} struct \{{\n(?:\t//.*\n|\n)*\t(?:metav1\.)?TypeMeta ", t, re.MULTILINE) for t in go_texts):
                kinds[(api_version, name)] = full
    for full, table in messages.items():
        for number, (_, type_, _) in table.items():
            if type_ not in SCALARS and type_ not in messages and type_ not in SPECIAL:
                sys.exit(f"{full} field {number}: unknown type {type_}")
    print("skipped (no Go struct, referenced by no field):", ", ".join(skipped))
    OUT.write_text(
        '"""Field tables of the Kubernetes protobuf messages ingressd reads (k8s.io/api and\n'
        f"k8s.io/apimachinery {ref}). GENERATED by tools/gen_proto_schema.py from upstream's generated.proto\n"
        "and Go types: do not edit by hand.\n\n"
        "MESSAGES: full proto name -> {field number: (JSON name, type, flags)}; type is a scalar (string,\n"
        "bool, int32, int64, bytes, ...) or a message's full name; flags: r repeated, m map<string, type>,\n"
        "o json omitempty, p Go pointer, i inlined into the parent's JSON (json \",inline\"). A named Go\n"
        "slice (ExtraValue) is {0: ('[]', item type, '')}.\n"
        'KINDS: (apiVersion, kind) -> message of every kind (a Go struct embedding TypeMeta).\n"""\n\n'
        "# fmt: off\n"
        f"MESSAGES = {pprint.pformat(messages, width=120, sort_dicts=True)}\n\n"
        f"KINDS = {pprint.pformat(kinds, width=120, sort_dicts=True)}\n")
    print(f"{OUT}: {len(messages)} messages, {len(kinds)} kinds")


if __name__ == "__main__":
    main()
