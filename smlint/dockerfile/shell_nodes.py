"""The nodes of the shell grammar's tree (shell_tree.py builds them) and the
walks over them."""
from __future__ import annotations

from dataclasses import dataclass, field

from .shell_lexer import Heredoc


@dataclass(slots=True)
class Redirect:
    operator: str
    target: str
    descriptor: str = ""
    heredoc: Heredoc | None = None
    substitutions: list[str] | None = None  # of its target (`> log-$(hostname)`)


@dataclass(slots=True)
class Simple:
    words: list[str]
    assignments: list[str] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    line: int = 1
    raw: list[str] = field(default_factory=list)  # assignments and words as written
    substitutions: list[str] | None = None  # bodies of its $( ), ` `, <( ) and >( ), as written
    scope: tuple = ()  # set by shell.script_commands: () in the script's own shell, else its subshell's
    # Words with build-time variables substituted, filled once by the first check that asks (facts.py).
    expanded: list[str] | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.words[0][self.words[0].rfind("/") + 1 :] if self.words else ""

    @property
    def nested(self) -> bool:
        """Runs in a subshell or a command substitution: what it changes does not last."""
        return bool(self.scope)

    @property
    def text(self) -> str:
        """The command as written (quotes kept), without its redirections."""
        return " ".join(self.raw)


@dataclass(slots=True)
class Sequence:
    """A list: and-or lists, each with its terminator (`;`, `&`, newline or "")."""

    items: list["AndOr"] = field(default_factory=list)
    terminators: list[str] = field(default_factory=list)
    memo: dict = field(default_factory=dict, repr=False, compare=False)  # answers computed on this tree


@dataclass(slots=True)
class Pipeline:
    commands: list  # Simple or compound nodes
    negated: bool = False


@dataclass(slots=True)
class AndOr:
    pipelines: list[Pipeline]
    operators: list[str] = field(default_factory=list)  # "&&" or "||" between pipelines


@dataclass(slots=True)
class Group:
    body: Sequence
    subshell: bool
    redirects: list[Redirect] = field(default_factory=list)
    line: int = 1


@dataclass(slots=True)
class If:
    branches: list[tuple[Sequence, Sequence]]  # (condition, body): the `if` and each `elif`
    otherwise: Sequence | None
    redirects: list[Redirect] = field(default_factory=list)
    line: int = 1


@dataclass(slots=True)
class Case:
    subject: str
    arms: list[tuple[list[str], Sequence]]
    redirects: list[Redirect] = field(default_factory=list)
    line: int = 1


@dataclass(slots=True)
class Loop:
    keyword: str  # while, until, for, select
    condition: Sequence | None  # while/until
    body: Sequence
    redirects: list[Redirect] = field(default_factory=list)
    line: int = 1


@dataclass(slots=True)
class Function:
    name: str
    body: object
    line: int = 1


def simple_commands(node) -> list[Simple]:
    """Every simple command in the tree, in text order (function bodies too)."""
    found: list[Simple] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Simple):
            found.append(current)
        else:
            stack.extend(reversed(children(current)))
    return found


def children(node) -> list:
    if isinstance(node, Sequence):
        return list(node.items)
    if isinstance(node, AndOr):
        return list(node.pipelines)
    if isinstance(node, Pipeline):
        return list(node.commands)
    if isinstance(node, Group):
        return [node.body]
    if isinstance(node, If):
        parts = [part for branch in node.branches for part in branch]
        return parts + ([node.otherwise] if node.otherwise else [])
    if isinstance(node, Case):
        return [body for _, body in node.arms]
    if isinstance(node, Loop):
        return ([node.condition] if node.condition else []) + [node.body]
    if isinstance(node, Function):
        return [node.body]
    return []
