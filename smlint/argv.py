"""Facts about a container's argv, shared by the Dockerfile, image and run sides:
which programs are shells and inits, and Docker's defaults for PATH and SHELL.

(Facts of the Processing contract, such as /opt/ml/processing, are in
contract.py.)
"""
from __future__ import annotations

# Programs that read a script (`busybox sh` is one too; callers look past busybox).
SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh"})
# Inits that run the job as their child and forward signals to it
# (`docker run --init` is tini; s6-svscan supervises its services).
INITS = frozenset({"tini", "tini-static", "dumb-init", "catatonit", "docker-init", "s6-svscan"})
# Commands only a shell runs: no program by these names exists to exec.
SHELL_BUILTINS = frozenset(
    "source . cd export set unset alias unalias trap shift local declare typeset readonly umask ulimit exit "
    "return wait eval read shopt let getopts hash pushd popd enable".split()
)
# Docker's PATH when the image sets none.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Docker's SHELL for shell-form instructions.
DEFAULT_SHELL = ("/bin/sh", "-c")
