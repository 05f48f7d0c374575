"""`ingressd completion bash|zsh|fish`: the shell's completion script, from argcomplete.

argcomplete (not a hand-written script): the script the shell loads asks `ingressd` itself for the
candidates (it runs with `_ARGCOMPLETE` set; `main` hands the parser to `autocomplete` before
parsing), so subcommands, flags and choices always match the parser of the installed version.

    ingressd completion bash > ~/.local/share/bash-completion/completions/ingressd
    ingressd completion zsh > "${fpath[1]}/_ingressd"
    ingressd completion fish > ~/.config/fish/completions/ingressd.fish
"""

from __future__ import annotations

import argparse
import os
import sys

SHELLS = ("bash", "zsh", "fish")
PROG = "ingressd"


def add_completion_parser(sub) -> None:
    parser = sub.add_parser(
        "completion", help="print the shell completion script (bash, zsh, fish)",
        description="Print the completion script for SHELL. Install it once, e.g. "
                    "`ingressd completion bash > ~/.local/share/bash-completion/completions/ingressd`, "
                    "`ingressd completion zsh > \"${fpath[1]}/_ingressd\"` or "
                    "`ingressd completion fish > ~/.config/fish/completions/ingressd.fish`.")
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")


def script(shell: str) -> str:
    import argcomplete

    text = argcomplete.shellcode([PROG], shell=shell)
    return text if text.endswith("\n") else text + "\n"


def run_completion(args: argparse.Namespace) -> int:
    sys.stdout.write(script(args.shell))
    return 0


def autocomplete(parser: argparse.ArgumentParser) -> None:
    """When a completion script runs ingressd (`_ARGCOMPLETE` set), print the candidates and exit;
    otherwise return at once without importing argcomplete."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    import argcomplete

    argcomplete.autocomplete(parser)
