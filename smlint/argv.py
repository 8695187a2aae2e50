"""Facts about a container's argv, shared by the Dockerfile, image and run sides:
which programs are shells, inits and wrappers, and Docker's defaults for PATH and SHELL.

(Facts of the Processing contract, such as /opt/ml/processing, are in
contract.py.)
"""
from __future__ import annotations

# Programs that read a script (`busybox sh` is one too; callers look past busybox).
SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh"})
# What a script can be handed to as the program itself (busybox is its own sh).
SCRIPT_SHELLS = SHELLS | {"busybox"}
# Inits that run the job as their child and forward signals to it
# (`docker run --init` is tini; s6-svscan supervises its services).
INITS = frozenset({"tini", "tini-static", "dumb-init", "catatonit", "docker-init", "s6-svscan"})
# Programs that switch user and run the rest of the argv (their first argument is the user).
USER_SWITCHERS = frozenset({"gosu", "su-exec", "setpriv", "chpst"})
# Commands that run the rest of their words as the real command (`sudo apt-get ...`).
RUNNERS = frozenset({"sudo", "nohup", "time", "command", "exec", "builtin", "nice", "stdbuf"})
# What starts a container's real program: inits and user switchers (and `env`).
LAUNCHERS = INITS | USER_SWITCHERS
# Commands only a shell runs: no program by these names exists to exec.
SHELL_BUILTINS = frozenset(
    "source . cd export set unset alias unalias trap shift local declare typeset readonly umask ulimit exit "
    "return wait eval read shopt let getopts hash pushd popd enable".split()
)
# Docker's PATH when the image sets none.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Docker's SHELL for shell-form instructions.
DEFAULT_SHELL = ("/bin/sh", "-c")


def program_name(word: str) -> str:
    """`/usr/bin/apt-get` -> `apt-get`: os.path.basename without its overhead,
    which matters when it runs for every command of every RUN."""
    return word[word.rfind("/") + 1 :]


def skip_wrappers(argv: list[str], wrappers: frozenset[str] = LAUNCHERS) -> int:
    """Index of the real program after the `wrappers` in front of it (`env A=1`
    always): their options (up to `--`), and a user switcher's user."""
    position = 0
    while position < len(argv):
        name = program_name(argv[position])
        if name == "env":
            position += 1
            while position < len(argv) and ("=" in argv[position] or argv[position].startswith("-")):
                position += 1
        elif name not in wrappers:
            break
        elif name in USER_SWITCHERS:
            if position + 1 >= len(argv):
                break
            position += 2
        else:
            position += 1
            while position < len(argv) and argv[position].startswith("-"):
                position += 1
                if argv[position - 1] == "--":
                    break
    return position
