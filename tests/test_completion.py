"""`ingressd completion bash|zsh|fish` (argcomplete): the scripts load in the real shells and
complete subcommands, flags and choices from ingressd's own parser."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def shell_env(tmp_path_factory) -> dict[str, str]:
    """An environment whose PATH finds `ingressd` first: a wrapper running this checkout's code with
    this interpreter (what the completion scripts call to ask for candidates)."""
    bin_dir = tmp_path_factory.mktemp("bin")
    wrapper = bin_dir / "ingressd"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m ingressd "$@"\n')
    wrapper.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(REPO)}


def script(shell: str, tmp_path: Path, env: dict[str, str]) -> Path:
    result = subprocess.run(["ingressd", "completion", shell], env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "ingressd" in result.stdout
    path = tmp_path / f"ingressd.{shell}"
    path.write_text(result.stdout)
    return path


def test_unknown_shell_is_a_usage_error(shell_env):
    result = subprocess.run(["ingressd", "completion", "tcsh"], env=shell_env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 2
    assert "invalid choice: 'tcsh'" in result.stderr


# Completing the line (cursor at its end) in bash: the words bash would pass, then COMPREPLY.
BASH_COMPLETE = r'''
source "$1"
complete -p ingressd
shift
for line in "$@"; do
    COMP_LINE="$line"; COMP_POINT=${#line}; COMP_TYPE=9
    read -ra COMP_WORDS <<< "$line"
    [[ "$line" == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _python_argcomplete ingressd "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    echo "$line|$(printf '%s,' "${COMPREPLY[@]}")"
done
'''

BASH_ROWS = [
    # line typed, candidates offered (a trailing space: the word is complete)
    ("ingressd ce", ["certs "]),
    ("ingressd comp", ["completion "]),
    ("ingressd certs ", ["-h", "--help", "init", "issue", "trust", "caroot"]),
    ("ingressd certs trust --st", ["--store "]),
    ("ingressd certs trust --store ", ["system", "nss"]),
    ("ingressd completion ", ["-h", "--help", "bash", "zsh", "fish"]),
    ("ingressd run --cert", ["--certs-dir "]),
    ("ingressd run --log-format ", ["nginx", "json"]),
]


def test_bash_script_loads_and_completes_subcommands_flags_and_choices(tmp_path, shell_env):
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    path = script("bash", tmp_path, shell_env)
    result = subprocess.run([bash, "--norc", "--noprofile", "-c", BASH_COMPLETE, "bash", str(path),
                             *(line for line, _ in BASH_ROWS)],
                            env=shell_env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "complete -o bashdefault -o default -o nospace -F _python_argcomplete ingressd"
    got = {line: offered.split(",")[:-1] for line, offered in (row.split("|", 1) for row in lines[1:])}
    assert got == dict(BASH_ROWS)
    top = subprocess.run([bash, "--norc", "--noprofile", "-c", BASH_COMPLETE, "bash", str(path), "ingressd "],
                         env=shell_env, capture_output=True, text=True, timeout=60, check=False)
    offered = top.stdout.splitlines()[1].split("|", 1)[1].split(",")
    for command in ("run", "explain", "get", "describe", "logs", "certs", "completion", "bench", "convert"):
        assert command in offered


def test_zsh_script_is_valid_and_registers_with_compinit(tmp_path, shell_env):
    zsh = shutil.which("zsh")
    if zsh is None:
        pytest.skip("zsh is not installed: the zsh script is produced but not syntax-checked")
    path = script("zsh", tmp_path, shell_env)
    assert path.read_text().startswith("#compdef ingressd")  # also loads from $fpath as _ingressd
    check = subprocess.run([zsh, "-n", str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert check.returncode == 0, check.stderr
    command = f'autoload -U compinit && compinit -u -D && source "{path}" && print -r -- $_comps[ingressd]'
    loaded = subprocess.run([zsh, "-f", "-c", command],
                            env=shell_env, capture_output=True, text=True, timeout=60, check=False)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "_python_argcomplete"


def test_fish_script_is_valid_and_completes(tmp_path, shell_env):
    fish = shutil.which("fish")
    if fish is None:
        pytest.skip("fish is not installed: the fish script is produced but not syntax-checked")
    path = script("fish", tmp_path, shell_env)
    check = subprocess.run([fish, "--no-execute", str(path)], capture_output=True, text=True, timeout=60,
                           check=False)
    assert check.returncode == 0, check.stderr
    env = {**shell_env, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data")}
    command = f'source "{path}"; complete -C "ingressd certs "; echo ---; complete -C "ingressd completion "'
    done = subprocess.run([fish, "--no-config", "-c", command],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    certs, shells = done.stdout.split("---\n")
    assert [line.split("\t")[0] for line in certs.splitlines() if not line.startswith("-")] == \
        ["caroot", "init", "issue", "trust"]  # fish sorts them
    assert {line.split("\t")[0] for line in shells.splitlines()} >= {"bash", "zsh", "fish"}
