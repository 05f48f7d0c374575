"""Name and value rules of k8s.io/apimachinery/pkg/util/validation, with its exact messages.

Each function returns the list of messages (empty = valid), so callers print one problem per
message, as kube-apiserver does.
"""

from __future__ import annotations

import ipaddress
import re

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _LABEL + r"(\." + _LABEL + ")*"
_DNS1035 = "[a-z]([-a-z0-9]*[a-z0-9])?"
_WILDCARD = r"\*\." + _SUBDOMAIN
_QNAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _QNAME + ")?"
_CONFIG_KEY = "[-._a-zA-Z0-9]+"

_label_re = re.compile(_LABEL + r"\Z")
_subdomain_re = re.compile(_SUBDOMAIN + r"\Z")
_dns1035_re = re.compile(_DNS1035 + r"\Z")
_wildcard_re = re.compile(_WILDCARD + r"\Z")
_qname_re = re.compile(_QNAME + r"\Z")
_label_value_re = re.compile(_LABEL_VALUE + r"\Z")
_config_key_re = re.compile(_CONFIG_KEY + r"\Z")
_port_name_re = re.compile(r"[-a-z0-9]+\Z")


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    # Same text as apimachinery's RegexError (including its double space before "or").
    return msg + " (e.g. " + " or ".join(f"'{e}', " for e in examples) + f"regex used for validation is '{fmt}')"


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


def dns1123_label(value: str) -> list[str]:
    errs = [_max_len(63)] if len(value) > 63 else []
    if not _label_re.match(value):
        if _subdomain_re.match(value):
            errs.append("must not contain dots")
        else:
            errs.append(_regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                "and must start and end with an alphanumeric character", _LABEL, "my-name", "123-abc"))
    return errs


def dns1123_subdomain(value: str) -> list[str]:
    errs = [_max_len(253)] if len(value) > 253 else []
    if not _subdomain_re.match(value):
        errs.append(_regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character", _SUBDOMAIN, "example.com"))
    return errs


def dns1035_label(value: str) -> list[str]:
    errs = [_max_len(63)] if len(value) > 63 else []
    if not _dns1035_re.match(value):
        errs.append(_regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
            "alphabetic character, and end with an alphanumeric character", _DNS1035, "my-name", "abc-123"))
    return errs


def wildcard_dns1123_subdomain(value: str) -> list[str]:
    errs = [_max_len(253)] if len(value) > 253 else []
    if not _wildcard_re.match(value):
        errs.append(_regex_error(
            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which "
            "must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric "
            "character", _WILDCARD, "*.example.com"))
    return errs


def host_name(value: str) -> list[str]:
    """An Ingress rule or TLS host: a DNS name, `*.` only as the whole first label, never an IP."""
    errs = ["must be a DNS name, not an IP address"] if is_ip(value) else []
    return errs + (wildcard_dns1123_subdomain(value) if "*" in value else dns1123_subdomain(value))


def port_name(value: str) -> list[str]:
    """An IANA service name, as used for container ports, targetPort and Ingress backend ports."""
    errs = [_max_len(15)] if len(value) > 15 else []
    if not _port_name_re.match(value):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", value):
        errs.append("must contain at least one letter (a-z)")
    if "--" in value:
        errs.append("must not contain consecutive hyphens")
    if value.startswith("-") or value.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def port_number(value: int) -> list[str]:
    return [] if 1 <= value <= 65535 else ["must be between 1 and 65535, inclusive"]


def qualified_name(value: str) -> list[str]:
    """A label or annotation key: optional DNS subdomain prefix and '/', then a 63-char name."""
    name_msg = _regex_error(
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character", _QNAME, "MyName", "my.name", "123-abc")
    parts = value.split("/")
    errs: list[str] = []
    if len(parts) > 2:
        return ["a qualified name " + name_msg + " with an optional DNS subdomain prefix and '/' "
                "(e.g. 'example.com/MyName')"]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in dns1123_subdomain(prefix))
    name = parts[-1]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + _max_len(63))
    if not _qname_re.match(name):
        errs.append("name part " + name_msg)
    return errs


def label_value(value: str) -> list[str]:
    errs = [_max_len(63)] if len(value) > 63 else []
    if not _label_value_re.match(value):
        errs.append(_regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character", _LABEL_VALUE,
            "MyValue", "my_value", "12345"))
    return errs


def config_key(value: str) -> list[str]:
    """A ConfigMap or Secret data key."""
    errs = [_max_len(253)] if len(value) > 253 else []
    if not _config_key_re.match(value):
        errs.append(_regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'", _CONFIG_KEY,
            "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def env_var_name(value: str) -> list[str]:
    if value and all(" " <= c <= "~" and c != "=" for c in value):
        return []
    return ["a valid environment variable name must consist only of printable ASCII characters other than '='"]


def is_ip(value: str, version: int | None = None) -> bool:
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    return version is None or ip.version == version
