"""The grammar of POSIX shell (with bash's `function`, `[[ ]]`, `(( ))`,
`|&`, `&>`, `;&`): a script becomes a tree of lists, and-or lists,
pipelines, simple commands and compound commands, so the rules can ask what
runs last on each path (shell_flow.py).

    script      := list
    list        := and_or ((';' | '&' | newline) and_or)*
    and_or      := pipeline (('&&' | '||') newline* pipeline)*
    pipeline    := ['!'] command (('|' | '|&') newline* command)*
    command     := simple | compound redirect* | function
    compound    := '{' list '}' | '(' list ')' | if | case | while | until | for

Recursive descent, bounded to MAX_DEPTH nested constructs; anything else is
a ShellSyntaxError (the PID-1 rules then judge nothing; the RUN rules read
such a script between its operators, shell.py). The same pass lists every
simple command with its scope (parse_with_commands): the RUN rules' view.
"""
from __future__ import annotations

from .shell_lexer import END, NEWLINE, OPERATOR, WORD, ShellSyntaxError, Token, tokenize
from .shell_nodes import AndOr, Case, Function, Group, If, Loop, Pipeline, Redirect, Sequence, Simple, children, simple_commands

__all__ = ["parse", "parse_with_commands", "is_assignment", "AndOr", "Case", "Function", "Group", "If", "Loop",
           "Pipeline", "Redirect", "Sequence", "Simple", "children", "simple_commands", "MAX_DEPTH", "RESERVED"]

MAX_DEPTH = 64
RESERVED = frozenset("if then else elif fi case esac for select while until do done { } ! in function [[ ]]".split())
_NOT_SIMPLE = RESERVED - {"[[", "]]"}  # words that start no simple command
_NOT_AFTER_RUN = frozenset(("|", "|&", "<<<", "<<-", "<<", "<>", "<&", ">>", ">&", ">|", "<", ">", "&>", "&>>"))
_LIST_END = frozenset({")", ";;", ";&", ";;&"})
_REDIRECT_OPERATORS = frozenset(("<<<", "<<-", "<<", "<>", "<&", ">>", ">&", ">|", "<", ">", "&>", "&>>"))


def is_assignment(token: str) -> bool:
    """NAME=value (or bash's NAME+=value)."""
    name, sep, _ = token.partition("=")
    name = name.removesuffix("+")
    return bool(sep) and bool(name) and name.replace("_", "a").isalnum() and not name[0].isdigit() and name.isascii()


def parse(text: str) -> Sequence:
    """The tree of `text`; raises ShellSyntaxError."""
    return parse_with_commands(text)[0]


def parse_with_commands(text: str, scope: tuple = (), depth: int = 0, counter: list[int] | None = None,
                        ) -> tuple[Sequence, list[Simple]]:
    """The tree of `text` and, read in the same pass, every simple command in it
    in text order, those of its command substitutions too (just before the
    command they are in, which they run before), each with its `scope`: () in
    the script's own shell, else the subshell it runs in (`( )`, `$( )`, a
    pipeline's commands, `&`). Raises ShellSyntaxError."""
    parser = _Parser(tokenize(text), scope, depth, counter or [0])
    tree = parser.sequence(frozenset())
    if parser.peek().kind != END:
        token = parser.peek()
        raise ShellSyntaxError(f"unexpected `{token.value}` on line {token.line}")
    return tree, parser.found


class _Parser:
    def __init__(self, tokens: list[Token], scope: tuple = (), depth: int = 0, counter: list[int] | None = None):
        self.tokens, self.index, self.depth = tokens + [tokens[-1]] * 3, 0, depth  # END padding: peek(2) never fails
        self.found: list[Simple] = []  # the simple commands, as read
        self.scope, self.counter = scope, counter if counter is not None else [0]

    def new_scope(self) -> tuple:
        self.counter[0] += 1
        return self.scope + (self.counter[0],)

    def subshell(self, start: int, end: int | None = None) -> None:
        """The commands found[start:end] run in a new subshell."""
        new, cut = self.new_scope(), len(self.scope)
        for command in self.found[start:end]:
            command.scope = new + command.scope[cut:]

    def add(self, node: Simple) -> None:
        """A simple command read: found after those of its substitutions."""
        if self.scope:
            node.scope = self.scope
        bodies = node.substitutions
        if bodies and self.depth < MAX_DEPTH:
            for body in bodies:
                scope = self.new_scope()
                try:
                    self.found += parse_with_commands(body, scope, self.depth + 1, self.counter)[1]
                except (ShellSyntaxError, RecursionError):
                    from .shell import between_operators  # a substitution the grammar rejects

                    self.found += between_operators(body, scope)
        self.found.append(node)

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[self.index + ahead]

    def take(self) -> Token:
        token = self.tokens[self.index]
        if token.words is not None and token.start + 1 < len(token.words):
            return token.take_first()  # one word of a run
        if token.kind != END:
            self.index += 1
        return token

    def reserved(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == WORD and not token.quoted and token.value in words

    def expect(self, word: str) -> None:
        token = self.take()
        if token.value != word or token.kind == NEWLINE or token.quoted:
            found = "the end" if token.kind == END else f"`{token.value.strip() or 'newline'}`"
            raise ShellSyntaxError(f"expected `{word}` on line {token.line}, found {found}")

    def newlines(self) -> None:
        while self.peek().kind == NEWLINE:
            self.index += 1

    def sequence(self, closers: frozenset[str]) -> Sequence:
        """A list up to one of the reserved words in `closers` (or `)`, `;;`, the end)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ShellSyntaxError("nested too deeply")
        result = Sequence()
        items, terminators, tokens = result.items, result.terminators, self.tokens
        while True:
            token = tokens[self.index]
            while token.kind == NEWLINE:
                self.index += 1
                token = tokens[self.index]
            kind = token.kind
            if kind == END or (kind == OPERATOR and token.value in _LIST_END):
                break
            if kind == WORD and token.value in closers and not token.quoted:
                break
            start = len(self.found)
            items.append(self.and_or())
            token = tokens[self.index]
            if token.kind == OPERATOR and token.value in (";", "&"):
                self.index += 1
                terminators.append(token.value)
                if token.value == "&":
                    self.subshell(start)
            else:
                terminators.append("\n" if token.kind == NEWLINE else "")
        self.depth -= 1
        return result

    def and_or(self) -> AndOr:
        node = AndOr([self.pipeline()])
        token = self.tokens[self.index]
        while token.kind == OPERATOR and token.value in ("&&", "||"):
            self.index += 1
            node.operators.append(token.value)
            self.newlines()
            node.pipelines.append(self.pipeline())
            token = self.tokens[self.index]
        return node

    def pipeline(self) -> Pipeline:
        tokens, index = self.tokens, self.index
        token = tokens[index]
        if (token.words is not None and not token.start and token.value not in _NOT_SIMPLE and token.value != "[["
                and "=" not in token.value):
            following = tokens[index + 1]
            if following.kind != WORD and following.value not in _NOT_AFTER_RUN:
                # the usual case: a run of words with no assignment is the whole command and the whole pipeline
                self.index = index + 1
                node = Simple(token.words, [], [], token.line, list(token.raws), None, self.scope)
                self.found.append(node)
                return Pipeline([node])
        negated = False
        while self.tokens[self.index].value == "!" and self.reserved("!"):
            self.take()
            negated = not negated
        start = len(self.found)
        node = Pipeline([self.command()], negated)
        token = self.tokens[self.index]
        if not (token.kind == OPERATOR and token.value in ("|", "|&")):
            return node
        marks = [start]
        while token.kind == OPERATOR and token.value in ("|", "|&"):
            self.index += 1
            self.newlines()
            marks.append(len(self.found))
            node.commands.append(self.command())
            token = self.tokens[self.index]
        marks.append(len(self.found))
        for start, end in zip(marks, marks[1:]):  # each command runs in a subshell of its own
            self.subshell(start, end)
        return node

    def command(self):
        token = self.tokens[self.index]
        if token.words is not None and token.value not in _NOT_SIMPLE and token.value != "[[":
            following = self.tokens[self.index + 1]
            if following.kind != WORD and following.value not in _REDIRECT_OPERATORS:  # a run is the whole command
                self.index += 1
                start, values, raws = token.start, token.words, token.raws
                if not start and "=" not in values[0]:  # the usual case: no assignments
                    node = Simple(values, [], [], token.line, list(raws), None, self.scope)
                    self.found.append(node)
                    return node
                node = Simple([], line=token.line)
                _add_run(node, token, False)
                self.add(node)
                return node
        if token.kind == WORD and (token.quoted or token.value not in _NOT_SIMPLE) and (
                token.words is not None or self.tokens[self.index + 1].value != "(" or not _is_function(self)):
            return self.simple()  # the usual case
        if token.kind == OPERATOR and token.value == "(":
            self.take()
            outer, self.scope = self.scope, self.new_scope()
            node = Group(self.sequence(frozenset()), True, line=token.line)
            self.scope = outer
            self.expect(")")
            return self.redirected(node)
        if token.kind == OPERATOR and token.value in _REDIRECT_OPERATORS:
            return self.simple()  # `>&2 echo x`: redirections may come first
        if token.kind != WORD:
            raise ShellSyntaxError(f"unexpected `{token.value.strip() or 'newline'}` on line {token.line}")
        if not token.quoted:
            compound = _COMPOUNDS.get(token.value)
            if compound is not None:
                return self.redirected(compound(self))
            if token.value == "function" or _is_function(self):
                return self.function()
            if token.value in RESERVED and token.value not in ("[[", "]]"):
                raise ShellSyntaxError(f"unexpected `{token.value}` on line {token.line}")
        return self.simple()

    def redirected(self, node):
        while self.peek().kind == OPERATOR and self.peek().value in _REDIRECT_OPERATORS:
            node.redirects.append(self.redirect())
        if node.redirects:  # `done < /etc/hosts`, `{ ...; } > log`: the body's input and output
            bodies = [body for redirect in node.redirects for body in redirect.substitutions or ()]
            self.add(Simple([], redirects=node.redirects, line=node.line, substitutions=bodies or None))
        return node

    def redirect(self) -> Redirect:
        operator = self.take()
        if operator.heredoc is not None:
            return Redirect(operator.value, operator.heredoc.delimiter, operator.descriptor, operator.heredoc)
        target = self.take()
        if target.kind != WORD:
            raise ShellSyntaxError(f"`{operator.value}` without a target on line {operator.line}")
        return Redirect(operator.value, target.value, operator.descriptor, substitutions=target.substitutions)

    def simple(self) -> Simple:
        tokens = self.tokens
        node = Simple([], line=tokens[self.index].line)
        in_test = False  # inside [[ ]], operators are words
        while True:
            token = tokens[self.index]
            if token.words is not None:  # a run of plain words: all of them at once
                self.index += 1
                in_test = _add_run(node, token, in_test)
            elif token.kind == WORD:
                self.take()
                node.raw.append(token.raw or token.value)
                if token.substitutions:
                    node.substitutions = (node.substitutions or []) + token.substitutions
                if not node.words and is_assignment(token.value):
                    node.assignments.append(token.value)
                else:
                    node.words.append(token.value)
                    in_test = (in_test or (node.words == ["[["] and not token.quoted)) and token.value != "]]"
            elif token.kind == OPERATOR and token.value in _REDIRECT_OPERATORS and not (in_test and token.value in "<>"):
                redirect = self.redirect()
                node.redirects.append(redirect)
                if redirect.substitutions:
                    node.substitutions = (node.substitutions or []) + redirect.substitutions
            elif in_test and token.kind == OPERATOR and token.value in ("&&", "||", "(", ")", "<", ">", "|"):
                node.words.append(self.take().value)
                node.raw.append(token.value)
            else:
                self.add(node)
                return node

    def function(self) -> Function:
        line = self.peek().line
        if self.reserved("function"):
            self.take()
        name = self.take().value
        if self.peek().kind == OPERATOR and self.peek().value == "(":
            self.take()
            self.expect(")")
        self.newlines()
        body = self.command()
        if isinstance(body, Simple):
            raise ShellSyntaxError(f"function `{name}` on line {line} has no compound body")
        return Function(name, body, line)

    def if_clause(self) -> If:
        line = self.take().line
        branches = []
        otherwise = None
        while True:
            condition = self.sequence(frozenset({"then"}))
            self.expect("then")
            branches.append((condition, self.sequence(frozenset({"elif", "else", "fi"}))))
            keyword = self.take()
            if keyword.value == "elif":
                continue
            if keyword.value == "else":
                otherwise = self.sequence(frozenset({"fi"}))
                self.expect("fi")
            elif keyword.value != "fi":
                raise ShellSyntaxError(f"`if` on line {line} has no `fi`")
            return If(branches, otherwise, line=line)

    def loop(self) -> Loop:
        keyword = self.take()
        condition = None
        if keyword.value in ("for", "select"):
            self.for_header(keyword)
        else:
            condition = self.sequence(frozenset({"do"}))
        self.newlines()
        self.expect("do")
        body = self.sequence(frozenset({"done"}))
        self.expect("done")
        return Loop(keyword.value, condition, body, line=keyword.line)

    def for_header(self, keyword: Token) -> None:
        name = self.take()
        if name.kind == WORD and name.value.startswith("((") and not name.quoted:  # for ((i = 0; ...))
            if self.peek().kind == OPERATOR and self.peek().value == ";":
                self.take()
            return
        if name.kind != WORD:
            raise ShellSyntaxError(f"`{keyword.value}` on line {keyword.line} has no variable")
        self.newlines()
        if self.reserved("in"):
            self.take()
            while self.peek().kind == WORD:
                self.take()
        if self.peek().kind == OPERATOR and self.peek().value == ";":
            self.take()

    def case_clause(self) -> Case:
        line = self.take().line
        subject = self.take().value
        self.newlines()
        self.expect("in")
        arms = []
        while True:
            self.newlines()
            if self.reserved("esac"):
                self.take()
                return Case(subject, arms, line=line)
            if self.peek().kind == OPERATOR and self.peek().value == "(":
                self.take()
            patterns = [self.take().value]
            while self.peek().kind == OPERATOR and self.peek().value == "|":
                self.take()
                patterns.append(self.take().value)
            self.expect(")")
            body = self.sequence(frozenset({"esac"}))
            arms.append((patterns, body))
            if self.peek().kind == OPERATOR and self.peek().value in (";;", ";&", ";;&"):
                self.take()
            elif not self.reserved("esac"):
                raise ShellSyntaxError(f"`case` on line {line}: expected `;;` or `esac`")

    def brace_group(self) -> Group:
        line = self.take().line
        body = self.sequence(frozenset({"}"}))
        self.expect("}")
        return Group(body, False, line=line)


_COMPOUNDS = {
    "if": _Parser.if_clause,
    "while": _Parser.loop,
    "until": _Parser.loop,
    "for": _Parser.loop,
    "select": _Parser.loop,
    "case": _Parser.case_clause,
    "{": _Parser.brace_group,
}


def _add_run(node: Simple, token: Token, in_test: bool) -> bool:
    """Add a run's words to a simple command; returns whether a `[[ ]]` test is open after them."""
    values, raws = token.words, token.raws
    if token.start:
        values, raws = values[token.start :], raws[token.start :]
    node.raw += raws
    index = 0
    if not node.words:
        while index < len(values) and "=" in values[index] and is_assignment(values[index]):
            index += 1
        if index:
            node.assignments += values[:index]
            values = values[index:]
    if in_test or (not node.words and values[:1] == ["[["] and raws[index] == "[["):
        for value in values:
            in_test = (in_test or (not node.words and value == "[[")) and value != "]]"
            node.words.append(value)
        return in_test
    node.words += values
    return False


def _is_function(parser: _Parser) -> bool:
    token = parser.peek()
    if token.words is not None and token.start + 1 < len(token.words):
        return False  # `name (` has no word between
    following = parser.peek(1)
    if following.kind != OPERATOR:
        return False
    closing = parser.peek(2)
    return (following.kind == OPERATOR and following.value == "(" and closing.kind == OPERATOR
            and closing.value == ")")
