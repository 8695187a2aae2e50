"""Where the commands that write files put them (`mkdir`, `cp`, `wget -O`,
`tar -C`, `git clone` ...): what SM112 reads of a RUN command's words."""
from __future__ import annotations

from typing import Iterator


def _option_value(args: list[str], short: tuple[str, ...], long: tuple[str, ...]) -> Iterator[str]:
    for index, arg in enumerate(args):
        for option in long:
            if arg.startswith(option + "="):
                yield arg[len(option) + 1 :]
            elif arg == option and index + 1 < len(args):
                yield args[index + 1]
        if arg.startswith("--") or not arg.startswith("-"):
            continue
        for option in short:  # -O FILE, -OFILE, and clusters such as -qO FILE
            letter = option[1]
            cluster = arg[1:]
            if letter not in cluster:
                continue
            rest = cluster[cluster.index(letter) + 1 :]
            if rest:
                yield rest
            elif index + 1 < len(args):
                yield args[index + 1]


# Every command destinations reads (keep the two in step): the rest write nothing
# it can know, so written_paths skips them before splitting their options.
WRITERS = frozenset({"mkdir", "touch", "tee", "truncate", "cp", "mv", "rsync", "install", "ln", "wget", "curl",
                      "tar", "bsdtar", "unzip", "git"})


def destinations(name: str, args: list[str], positional: list[str]) -> list[str]:
    if name in ("mkdir", "touch", "tee", "truncate"):
        values = set(_option_value(args, ("-m", "-s", "-r", "-d"), ("--mode", "--size", "--reference", "--date")))
        return [p for p in positional if p not in values]
    if name in ("cp", "mv", "rsync", "install", "ln"):
        target = list(_option_value(args, ("-t",), ("--target-directory",)))
        if target:
            return target
        if name == "install" and ("-d" in args or "--directory" in args):
            return positional
        if name == "ln" and len(positional) == 1:
            return ["."]  # `ln -s /x` links into the working directory
        return positional[-1:] if len(positional) >= 2 else []
    if name == "wget":
        return list(_option_value(args, ("-O", "-P"), ("--output-document", "--directory-prefix")))
    if name == "curl":
        return list(_option_value(args, ("-o",), ("--output", "--output-dir")))
    if name in ("tar", "bsdtar"):
        found = list(_option_value(args, ("-C",), ("--directory",)))
        if not found and args and not args[0].startswith("-") and "C" in args[0]:
            # old-style `tar xzfC archive dir` is rare; `tar -xzf a -C dir` handled above
            return []
        return found
    if name == "unzip":
        return list(_option_value(args, ("-d",), ()))
    if name == "git" and positional[:1] == ["clone"] and len(positional) >= 3:
        return [positional[-1]]
    return []
