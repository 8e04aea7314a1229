"""The exec shell's syntax: tokens and a small AST for POSIX ``sh`` (see :mod:`kubesim.runtime.shell`).

``parse(src)`` returns a :class:`Seq`; input that ends inside a construct
(an open quote, ``if`` without ``fi``) raises :class:`Incomplete`, so an
interactive shell knows to read another line. ``case``/``esac`` and
here-documents are refused with a clear message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class ShellSyntaxError(Exception):
    pass


class Incomplete(ShellSyntaxError):
    """The input ends inside a construct (more lines are needed)."""

# ------------------------------------------------------------------------------------------
# Lexer
# ------------------------------------------------------------------------------------------

_OPS = ["&&", "||", ";;", ">>", ">&", "<&", "&>", ">|", "<<", ";", "&", "|", "(", ")", "<", ">"]
_META = set(" \t\n;&|()<>")
_RESERVED = {"if", "then", "elif", "else", "fi", "while", "until", "do", "done", "for", "in", "{", "}", "!",
             "case", "esac"}


@dataclass
class Tok:
    kind: str  # WORD | OP | NL | IONUM | EOF
    value: str = ""


def _scan_dollar(src: str, i: int) -> int:
    """Index just past a ``$...`` construct starting at ``src[i] == '$'``."""
    n = len(src)
    if i + 1 >= n:
        return i + 1
    c = src[i + 1]
    if c == "(":
        depth = 0
        j = i + 1
        while j < n:
            ch = src[j]
            if ch == "\\":
                j += 2
                continue
            if ch == "'":
                k = src.find("'", j + 1)
                if k < 0:
                    raise Incomplete("unterminated quoted string")
                j = k + 1
                continue
            if ch == '"':
                j = _scan_dquote(src, j) + 1
                continue
            if ch == "$" and j + 1 < n and src[j + 1] == "(":
                j = _scan_dollar(src, j)
                continue
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        raise Incomplete("unterminated $(")
    if c == "{":
        k = src.find("}", i + 2)
        if k < 0:
            raise Incomplete("unterminated ${")
        return k + 1
    if c.isalpha() or c == "_":
        j = i + 1
        while j < n and (src[j].isalnum() or src[j] == "_"):
            j += 1
        return j
    if c.isdigit() or c in "?$#@*!-":
        return i + 2
    return i + 1


def _scan_dquote(src: str, i: int) -> int:
    """Index of the closing quote of a double-quoted string opened at ``i``."""
    n = len(src)
    j = i + 1
    while j < n:
        ch = src[j]
        if ch == "\\":
            j += 2
            continue
        if ch == '"':
            return j
        if ch == "$":
            j = _scan_dollar(src, j)
            continue
        if ch == "`":
            k = src.find("`", j + 1)
            if k < 0:
                raise Incomplete("unterminated `")
            j = k + 1
            continue
        j += 1
    raise Incomplete("unterminated quoted string")


def tokenize(src: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c in " \t":
            i += 1
            continue
        if c == "\\" and i + 1 < n and src[i + 1] == "\n":
            i += 2
            continue
        if c == "#":
            while i < n and src[i] != "\n":
                i += 1
            continue
        if c == "\n":
            toks.append(Tok("NL"))
            i += 1
            continue
        if c in _META:
            for op in _OPS:
                if src.startswith(op, i):
                    toks.append(Tok("OP", op))
                    i += len(op)
                    break
            continue
        # a word
        start = i
        while i < n and src[i] not in _META:
            ch = src[i]
            if ch == "\\":
                if i + 1 >= n:
                    i += 1
                    break
                i += 2
                continue
            if ch == "'":
                k = src.find("'", i + 1)
                if k < 0:
                    raise Incomplete("unterminated quoted string")
                i = k + 1
                continue
            if ch == '"':
                i = _scan_dquote(src, i) + 1
                continue
            if ch == "$":
                i = _scan_dollar(src, i)
                continue
            if ch == "`":
                k = src.find("`", i + 1)
                if k < 0:
                    raise Incomplete("unterminated `")
                i = k + 1
                continue
            i += 1
        word = src[start:i]
        if word.isdigit() and i < n and src[i] in "<>":
            toks.append(Tok("IONUM", word))
        else:
            toks.append(Tok("WORD", word))
    toks.append(Tok("EOF"))
    return toks


# ------------------------------------------------------------------------------------------
# Parser (AST as small dataclasses)
# ------------------------------------------------------------------------------------------


@dataclass
class Redir:
    fd: int
    op: str
    target: str


@dataclass
class Simple:
    assigns: list[tuple[str, str]]
    words: list[str]
    redirs: list[Redir]


@dataclass
class Pipeline:
    cmds: list
    negate: bool = False


@dataclass
class AndOr:
    first: Pipeline
    rest: list[tuple[str, Pipeline]]


@dataclass
class Seq:
    items: list


@dataclass
class If:
    clauses: list[tuple[Seq, Seq]]
    else_: Seq | None


@dataclass
class Loop:
    cond: Seq
    body: Seq
    until: bool = False


@dataclass
class For:
    var: str
    words: list[str] | None
    body: Seq


@dataclass
class Group:
    body: Seq
    subshell: bool = False


@dataclass
class Redirected:
    node: object
    redirs: list[Redir] = field(default_factory=list)


_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


class Parser:
    def __init__(self, src: str) -> None:
        self.toks = tokenize(src)
        self.i = 0

    def peek(self) -> Tok:
        return self.toks[self.i]

    def next(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def at_word(self, *words: str) -> bool:
        t = self.peek()
        return t.kind == "WORD" and t.value in words

    def at_op(self, *ops: str) -> bool:
        t = self.peek()
        return t.kind == "OP" and t.value in ops

    def skip_newlines(self) -> None:
        while self.peek().kind == "NL":
            self.next()

    def expect_word(self, word: str) -> None:
        self.skip_newlines()
        t = self.peek()
        if t.kind == "EOF":
            raise Incomplete(f"expected {word}")
        if not (t.kind == "WORD" and t.value == word):
            raise ShellSyntaxError(f"syntax error: unexpected {t.value or 'newline'!r} (expecting \"{word}\")")
        self.next()

    def parse(self) -> Seq:
        seq = self.list_(stop=())
        if self.peek().kind != "EOF":
            raise ShellSyntaxError(f"syntax error: unexpected \"{self.peek().value}\"")
        return seq

    def list_(self, stop: tuple[str, ...]) -> Seq:
        items = []
        while True:
            self.skip_newlines()
            t = self.peek()
            if t.kind == "EOF":
                break
            if t.kind == "WORD" and t.value in stop:
                break
            if t.kind == "OP" and t.value == ")" and ")" in stop:
                break
            if t.kind == "OP" and t.value in (";", "&"):
                raise ShellSyntaxError(f"syntax error: unexpected \"{t.value}\"")
            items.append(self.and_or())
            t = self.peek()
            if t.kind == "OP" and t.value in (";", "&"):
                self.next()
            elif t.kind == "NL":
                self.next()
            else:
                continue
        return Seq(items)

    def and_or(self) -> AndOr:
        first = self.pipeline()
        rest = []
        while self.at_op("&&", "||"):
            op = self.next().value
            self.skip_newlines()
            if self.peek().kind == "EOF":
                raise Incomplete("expected a command")
            rest.append((op, self.pipeline()))
        return AndOr(first, rest)

    def pipeline(self) -> Pipeline:
        negate = False
        if self.at_word("!"):
            self.next()
            negate = True
        cmds = [self.command()]
        while self.at_op("|"):
            self.next()
            self.skip_newlines()
            if self.peek().kind == "EOF":
                raise Incomplete("expected a command")
            cmds.append(self.command())
        return Pipeline(cmds, negate)

    def command(self):  # noqa: ANN201
        t = self.peek()
        node = None
        if t.kind == "WORD":
            if t.value == "if":
                node = self.if_()
            elif t.value in ("while", "until"):
                node = self.loop()
            elif t.value == "for":
                node = self.for_()
            elif t.value == "{":
                self.next()
                body = self.list_(stop=("}",))
                self.expect_word("}")
                node = Group(body)
            elif t.value == "case":
                raise ShellSyntaxError("case/esac is not supported by the kubesim shell")
            elif t.value in _RESERVED - {"!"}:
                raise ShellSyntaxError(f"syntax error: unexpected \"{t.value}\"")
        elif t.kind == "OP" and t.value == "(":
            self.next()
            body = self.list_(stop=(")",))
            self.skip_newlines()
            if self.peek().kind == "EOF":
                raise Incomplete("expected )")
            if not self.at_op(")"):
                raise ShellSyntaxError("syntax error: expected \")\"")
            self.next()
            node = Group(body, subshell=True)
        if node is not None:
            redirs = []
            while self._at_redir():
                redirs.append(self.redir())
            return Redirected(node, redirs) if redirs else node
        return self.simple()

    def _at_redir(self) -> bool:
        t = self.peek()
        return t.kind == "IONUM" or (t.kind == "OP" and t.value in (">", ">>", "<", ">&", "<&", "&>", ">|", "<<"))

    def redir(self) -> Redir:
        fd = None
        if self.peek().kind == "IONUM":
            fd = int(self.next().value)
        op = self.next().value
        if op == "<<":
            raise ShellSyntaxError("here-documents (<<) are not supported by the kubesim shell")
        t = self.next()
        if t.kind != "WORD":
            if t.kind == "EOF":
                raise ShellSyntaxError("syntax error: unexpected newline")
            raise ShellSyntaxError(f"syntax error: unexpected \"{t.value or 'newline'}\"")
        if fd is None:
            fd = 0 if op in ("<", "<&") else 1
        return Redir(fd, op, t.value)

    def simple(self) -> Simple:
        assigns: list[tuple[str, str]] = []
        words: list[str] = []
        redirs: list[Redir] = []
        while True:
            t = self.peek()
            if self._at_redir():
                redirs.append(self.redir())
                continue
            if t.kind != "WORD":
                break
            if not words and _ASSIGN.match(t.value):
                name, value = t.value.split("=", 1)
                assigns.append((name, value))
                self.next()
                continue
            if not words and t.value in ("}", "then", "do", "done", "fi", "else", "elif", "esac"):
                break
            words.append(self.next().value)
        if not assigns and not words and not redirs:
            t = self.peek()
            if t.kind == "EOF":
                raise Incomplete("expected a command")
            raise ShellSyntaxError(f"syntax error: unexpected \"{t.value or 'newline'}\"")
        return Simple(assigns, words, redirs)

    def if_(self) -> If:
        self.next()
        clauses = []
        cond = self.list_(stop=("then",))
        self.expect_word("then")
        body = self.list_(stop=("elif", "else", "fi"))
        clauses.append((cond, body))
        else_ = None
        while True:
            self.skip_newlines()
            if self.peek().kind == "EOF":
                raise Incomplete("expected fi")
            if self.at_word("elif"):
                self.next()
                cond = self.list_(stop=("then",))
                self.expect_word("then")
                body = self.list_(stop=("elif", "else", "fi"))
                clauses.append((cond, body))
                continue
            if self.at_word("else"):
                self.next()
                else_ = self.list_(stop=("fi",))
            self.expect_word("fi")
            return If(clauses, else_)

    def loop(self) -> Loop:
        until = self.next().value == "until"
        cond = self.list_(stop=("do",))
        self.expect_word("do")
        body = self.list_(stop=("done",))
        self.expect_word("done")
        return Loop(cond, body, until)

    def for_(self) -> For:
        self.next()
        t = self.next()
        if t.kind != "WORD" or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", t.value):
            if t.kind == "EOF":
                raise Incomplete("expected a name")
            raise ShellSyntaxError(f"syntax error: bad for loop variable")
        words = None
        self.skip_newlines()
        if self.at_word("in"):
            self.next()
            words = []
            while self.peek().kind == "WORD":
                words.append(self.next().value)
        if self.at_op(";"):
            self.next()
        self.expect_word("do")
        body = self.list_(stop=("done",))
        self.expect_word("done")
        return For(t.value, words, body)


def parse(src: str) -> Seq:
    return Parser(src).parse()
