"""Manifest files -> Kubernetes objects that remember the file and line of every field.

Loading never raises on bad input: whatever is wrong becomes a Problem. It is cheap enough to
re-run on every hot reload (libyaml when available; a document's lines are one walk of its nodes).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from ingressd.kinds import is_cluster_scoped
from ingressd.objects.problems import ERROR, WARNING, Problem, format_field, show_value

__all__ = ["LoadResult", "Manifest", "file_problem", "find_manifest_files", "load_file", "parse_manifests"]


@dataclass
class Manifest:
    obj: dict
    file: str
    line: int  # 1-based line where the document (or List item) starts
    field_lines: dict[tuple, int] = field(default_factory=dict, repr=False)

    @property
    def kind(self) -> str:
        kind = self.obj.get("kind")
        return kind if isinstance(kind, str) else ""

    @property
    def namespace(self) -> str:
        if is_cluster_scoped(self.kind):
            return ""
        namespace = _metadata(self.obj).get("namespace")
        return namespace if isinstance(namespace, str) and namespace else "default"

    @property
    def name(self) -> str:
        name = _metadata(self.obj).get("name")
        return name if isinstance(name, str) else ""

    def line_of(self, path: tuple) -> int:
        """Line of the longest prefix of `path` written in the file (a missing field points at its parent)."""
        lines = self.field_lines
        for end in range(len(path), 0, -1):
            line = lines.get(path[:end])
            if line is not None:
                return line
        return self.line

    def problem(self, path: tuple, message: str, severity: str = ERROR) -> Problem:
        return Problem(self.file, self.line_of(path), self.kind or "-", self.namespace, self.name or "-",
                       format_field(path), message, severity)


@dataclass
class LoadResult:
    manifests: list[Manifest]
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]


def _metadata(obj: dict) -> dict:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _is_hidden(name: str) -> bool:
    # Editor lock and swap files (.#a.yaml, .a.yaml.swp); a shell glob skips them too.
    return name.startswith(".")


def find_manifest_files(paths: list[str]) -> list[str]:
    """Files as given; directories searched recursively for *.yaml / *.yml, sorted, hidden names skipped.

    A path given twice (or a file inside a directory also given) is returned once.
    """
    found: list[str] = []
    seen: set[str] = set()

    def add(path: str) -> None:
        key = os.path.abspath(path)
        if key not in seen:
            seen.add(key)
            found.append(path)

    for path in paths:
        if not os.path.isdir(path):
            add(path)  # missing or unreadable: load_paths reports it
            continue
        in_dir: list[str] = []
        visited: set[str] = set()
        for root, dirs, files in os.walk(path, followlinks=True):
            real = os.path.realpath(root)
            if real in visited:  # a symlink loop
                dirs[:] = []
                continue
            visited.add(real)
            dirs[:] = [d for d in dirs if not _is_hidden(d)]
            in_dir.extend(os.path.normpath(os.path.join(root, f)) for f in files
                          if f.endswith((".yaml", ".yml")) and not _is_hidden(f))
        for file in sorted(in_dir):
            add(file)
    return found


def load_file(path: str) -> tuple[list[Manifest], list[Problem]]:
    """One file's objects and its read/parse problems (no validation)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return [], [file_problem(path, f"cannot read: {e.strerror or e}")]
    try:
        text = data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        message = f"not UTF-8 text: invalid byte at offset {e.start}"
        return [], [Problem(path, line, "File", "-", "-", "(file)", message)]
    return parse_manifests(text, path)


def file_problem(path: str, message: str, severity: str = ERROR) -> Problem:
    return Problem(path, 1, "File", "-", "-", "(file)", message, severity)


def _yaml_problem(file: str, line: int, message: str) -> Problem:
    return Problem(file, line, "YAML", "-", "-", "(document)", message)


# Kubernetes objects are JSON: a timestamp stays a string (creationTimestamp: 2024-01-01T00:00:00Z)
# and "=" is a plain string, as sigs.k8s.io/yaml reads them.
def _json_resolvers(base: type) -> dict:
    drop = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"}
    return {first: [(tag, regexp) for tag, regexp in resolvers if tag not in drop]
            for first, resolvers in base.yaml_implicit_resolvers.items()}


class _PureLoader(yaml.SafeLoader):
    yaml_implicit_resolvers = _json_resolvers(yaml.SafeLoader)


if getattr(yaml, "__with_libyaml__", False):
    class _FastLoader(yaml.CSafeLoader):
        yaml_implicit_resolvers = _json_resolvers(yaml.CSafeLoader)
else:  # pragma: no cover - depends on how PyYAML was built
    _FastLoader = _PureLoader

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"


class _ParseError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def parse_manifests(text: str, file: str) -> tuple[list[Manifest], list[Problem]]:
    """Objects of a multi-document YAML text (List kinds expanded) and the problems found parsing it.

    Documents before a syntax error are kept; the error stops the file, as it stops YAML parsers.
    """
    manifests, problems, error = _parse(text, file, _FastLoader)
    if error is not None and _FastLoader is not _PureLoader:
        # libyaml and PyYAML word errors differently: report PyYAML's (it names the bad character),
        # so messages do not depend on how PyYAML was installed.
        manifests, problems, error = _parse(text, file, _PureLoader)
    if error is not None:
        problems.append(_yaml_problem(file, error.line, error.message))
    return manifests, problems


def _parse(text: str, file: str, loader_class: type) -> tuple[list[Manifest], list[Problem], _ParseError | None]:
    manifests: list[Manifest] = []
    problems: list[Problem] = []
    try:
        loader = loader_class(text)  # the pure-Python reader already rejects control characters here
    except yaml.YAMLError as e:
        return manifests, problems, _syntax_error(e, text)
    may_alias = "*" in text
    try:
        for document in itertools.count():
            try:
                if not loader.check_node():
                    break
                node = loader.get_node()
            except yaml.YAMLError as e:
                return manifests, problems, _syntax_error(e, text)
            except RecursionError:
                return manifests, problems, _ParseError(1, "document nested too deeply")
            if node is None or (isinstance(node, ScalarNode) and node.tag == _NULL_TAG):
                continue  # an empty document
            aliasing = excessive_aliasing(node) if may_alias else None
            if aliasing is not None:
                # Rejected before it is constructed: a billion laughs is never expanded.
                problems.append(_aliasing_problem(text, file, document, aliasing))
                continue
            _add_document(loader, node, file, manifests, problems)
    except Exception as e:  # noqa: BLE001 - a loader bug must not take hot reload down
        return manifests, problems, _ParseError(1, f"cannot parse: {e}")
    finally:
        loader.dispose()
    return manifests, problems, None


# -- alias expansion ("billion laughs", CVE-2019-11253) -----------------------------------------
#
# PyYAML builds an alias as a reference to the anchored object, so loading a billion laughs is
# cheap; but anything that walks the objects afterwards (validation, JSON for the API, the store's
# copies) expands every reference. kube-apiserver and kubectl read YAML with go-yaml, which since
# CVE-2019-11253 counts every node it decodes, aliases expanded, and fails a document with
# "document contains excessive aliasing" once more than 100 decodes came from aliases, more than
# 1000 were made, and the share from aliases exceeds allowedAliasRatio(decodes): 99 % up to
# 400,000 decodes, falling linearly to 10 % at 4,000,000 (yaml.v2 decode.go; yaml.v3 the same).
# The same counts are computed here on the composed node graph without expanding anything: each
# node's expanded size is memoised, and an alias adds its target's size at once (within one
# expansion the share from aliases only grows and the allowed ratio only falls, so checking after
# the whole expansion decides as go-yaml's per-node check does).

_ALIAS_RATIO_LOW, _ALIAS_RATIO_HIGH = 400_000, 4_000_000


def allowed_alias_ratio(decodes: int) -> float:
    """go-yaml's allowedAliasRatio: the share of decodes that may come from alias expansion."""
    if decodes <= _ALIAS_RATIO_LOW:
        return 0.99
    if decodes >= _ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decodes - _ALIAS_RATIO_LOW) / (_ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW)


def _too_much_aliasing(decodes: int, from_aliases: int) -> bool:
    return from_aliases > 100 and decodes > 1000 and from_aliases / decodes > allowed_alias_ratio(decodes)


@dataclass(frozen=True)
class Aliasing:
    """Why a document was refused: the alias (its ordinal among the document's aliases, 0-based)
    at which go-yaml would stop, and the counts there; `recursive` for an anchor inside itself."""

    alias: int
    decodes: int
    from_aliases: int
    recursive: bool = False


def excessive_aliasing(root) -> Aliasing | None:
    """None when go-yaml would decode the document `root` (a composed node), else where it stops.

    Linear in the nodes as written: no alias is expanded.
    """
    size: dict[int, int] = {}  # id(node) -> nodes decoded for it, the aliases inside it expanded
    open_nodes: set[int] = set()  # nodes being walked: an alias to one of them is an anchor inside itself
    decodes = 2  # the document node and the root
    from_aliases = aliases = 0
    if isinstance(root, ScalarNode):
        return None
    frames: list[list] = [[root, iter(_children(root)), 1]]  # node, its children left, its size so far
    open_nodes.add(id(root))
    while frames:
        frame = frames[-1]
        child = next(frame[1], None)
        if child is None:  # every child walked: the node's size is known
            frames.pop()
            open_nodes.discard(id(frame[0]))
            size[id(frame[0])] = frame[2]
            if frames:
                frames[-1][2] += frame[2]
            continue
        key = id(child)
        if key in open_nodes:
            return Aliasing(aliases, decodes, from_aliases, recursive=True)
        if key in size:  # written before: this is an alias, decoded again in full
            decodes += 1 + size[key]
            from_aliases += size[key]
            aliases += 1
            frame[2] += 1 + size[key]
            if _too_much_aliasing(decodes, from_aliases):
                return Aliasing(aliases - 1, decodes, from_aliases)
            continue
        decodes += 1
        if _too_much_aliasing(decodes, from_aliases):  # the aliases so far weigh too much, the last named
            return Aliasing(aliases - 1, decodes, from_aliases)
        if isinstance(child, ScalarNode):
            size[key] = 1
            frame[2] += 1
        else:
            open_nodes.add(key)
            frames.append([child, iter(_children(child)), 1])
    return None


def _children(node) -> list:
    """A collection's nodes in document order (keys and values); merge keys (<<) are not decoded."""
    if isinstance(node, MappingNode):
        return [n for key_node, value_node in node.value
                for n in ((value_node,) if key_node.tag == _MERGE_TAG else (key_node, value_node))]
    if isinstance(node, SequenceNode):
        return node.value
    return []


def _aliasing_problem(text: str, file: str, document: int, aliasing: Aliasing) -> Problem:
    """The problem naming the alias where go-yaml gives up, at its line."""
    name, line = _alias_event(text, document, aliasing.alias)
    if aliasing.recursive:
        return _yaml_problem(file, line, f"anchor '{name}' value contains itself (at alias *{name})")
    return _yaml_problem(
        file, line,
        f"document contains excessive aliasing: by alias *{name} it already expands to {aliasing.decodes} nodes, "
        f"{aliasing.from_aliases} of them copies made through aliases; kube-apiserver and kubectl refuse it "
        "too (go-yaml's limit since CVE-2019-11253)")


def _alias_event(text: str, document: int, ordinal: int) -> tuple[str, int]:
    """Anchor name and 1-based line of the `ordinal`-th alias of the `document`-th document.

    The composed graph no longer knows where an alias was written, so the events are read again
    (only for a refused document; parsing events expands nothing).
    """
    documents = aliases = -1
    last = ("?", 1)
    for event in yaml.parse(text, Loader=_PureLoader):
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            aliases = -1
        elif isinstance(event, yaml.AliasEvent) and documents == document:
            aliases += 1
            last = (event.anchor, event.start_mark.line + 1)
            if aliases == ordinal:
                break
        elif documents > document:
            break
    return last


def _add_document(loader, node, file: str, manifests: list[Manifest], problems: list[Problem]) -> None:
    line = node.start_mark.line + 1
    field_lines, duplicates = _field_lines(loader, node)
    try:
        obj = loader.construct_document(node)
    except (yaml.YAMLError, RecursionError, TypeError, ValueError) as e:
        # Unknown tag (!foo), unhashable key, bad !!binary...: this document only.
        loader.constructed_objects, loader.recursive_objects, loader.state_generators = {}, {}, []
        mark = getattr(e, "problem_mark", None)
        problems.append(_yaml_problem(file, mark.line + 1 if mark else line,
                                      getattr(e, "problem", None) or str(e) or type(e).__name__))
        return
    if not isinstance(obj, dict):
        problems.append(_yaml_problem(
            file, line, f"document is a {_yaml_type(obj)}, not a mapping: expected a Kubernetes object"))
        return
    document = Manifest(obj, file, line, field_lines)
    for path, key, first_line in duplicates:
        problems.append(document.problem(path, f'duplicate key "{key}" (first at line {first_line})'))
    items = obj.get("items")
    if obj.get("kind") == "List" or (isinstance(obj.get("kind"), str) and obj["kind"].endswith("List")
                                     and isinstance(items, list)):
        _add_list_items(document, manifests, problems)
        return
    _default_namespace(obj)
    manifests.append(document)


def _add_list_items(document: Manifest, manifests: list[Manifest], problems: list[Problem]) -> None:
    """`kind: List` (kubectl get -o yaml): every item is an object with its own lines."""
    items = document.obj.get("items")
    if items is None:
        return
    if not isinstance(items, list):
        problems.append(document.problem(("items",), f"Invalid value: {show_value(items)}: must be a list of objects"))
        return
    item_lines: dict[int, dict[tuple, int]] = {}
    for path, line in document.field_lines.items():
        if len(path) >= 2 and path[0] == "items" and isinstance(path[1], int):
            item_lines.setdefault(path[1], {})[path[2:]] = line
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(document.problem(
                ("items", i), f"Invalid value: {show_value(item)}: must be an object (a mapping)"))
            continue
        lines = item_lines.get(i, {})
        _default_namespace(item)
        manifests.append(Manifest(item, document.file, lines.get((), document.line_of(("items", i))), lines))


def _default_namespace(obj: dict) -> None:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return
    kind = obj.get("kind")
    if isinstance(kind, str) and is_cluster_scoped(kind):
        metadata.pop("namespace", None)  # kube-apiserver ignores it too
    elif metadata.get("namespace") in (None, ""):
        metadata["namespace"] = "default"


def _field_lines(loader, root) -> tuple[dict[tuple, int], list[tuple[tuple, object, int]]]:
    """Path -> 1-based line for every key and list item, and the duplicate keys.

    A key's line is where the key is written (for `spec:` that is the line of `spec:`). Walked before
    construction because constructing rewrites merge keys (<<) in place. Nodes reached again through
    an alias are not walked twice, which keeps "billion laughs" documents linear.
    """
    lines: dict[tuple, int] = {(): root.start_mark.line + 1}
    duplicates: list[tuple[tuple, object, int]] = []
    seen: set[int] = set()
    stack: list[tuple[tuple, object]] = [((), root)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, ScalarNode) or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            first: dict = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                if isinstance(key_node, ScalarNode) and key_node.tag == _STR_TAG:
                    key = key_node.value
                else:
                    try:
                        key = loader.construct_object(key_node, deep=True)
                        hash(key)
                    except Exception:  # noqa: BLE001 - construction reports it
                        continue
                child = path + (key,)
                line = key_node.start_mark.line + 1
                if key in first:
                    duplicates.append((child, key, first[key]))
                else:
                    first[key] = line
                lines[child] = line
                stack.append((child, value_node))
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                child = path + (i,)
                lines[child] = item.start_mark.line + 1
                stack.append((child, item))
    return lines, duplicates


def _syntax_error(e: yaml.YAMLError, text: str) -> _ParseError:
    if isinstance(e, yaml.reader.ReaderError):
        line = text.count("\n", 0, max(e.position, 0)) + 1
        char = f"#x{e.character:04x}" if isinstance(e.character, int) else repr(e.character)
        return _ParseError(line, f"unacceptable character {char}: {e.reason}")
    problem_mark = getattr(e, "problem_mark", None)
    context_mark = getattr(e, "context_mark", None)
    mark = problem_mark or context_mark
    line = mark.line + 1 if mark else 1
    message = getattr(e, "problem", None) or str(e)
    context = getattr(e, "context", None)
    if "'\\t'" in message:
        message += " (indent with spaces, not tabs)"
    if context:
        where = f" at line {context_mark.line + 1}" if context_mark and context_mark.line + 1 != line else ""
        message += f" ({context}{where})"
    return _ParseError(line, message)


def _yaml_type(value: object) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__
