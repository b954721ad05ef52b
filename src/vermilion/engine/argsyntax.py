"""The arguments a command declares, in a compact notation close to Redis's syntax.

COMMAND DOCS reports each command's arguments as Redis's command metadata has
them (name, type, key_spec_index, token, since, deprecated_since, flags, nested
arguments), and redis-cli's hints and client generators read them. A command
declares them once, as one string, parsed at import:

    "key:k0 value [condition(NX|XX)@2.6.12] [GET@6.2.0] [expiration(EX=seconds:i@2.6.12|...)]"

    name:T[n]       an argument of type T (n: the index of its key spec): k key, s string
                    (the default: a bare lowercase name), i integer, d double,
                    p pattern, t unix-time, - pure-token (needs a TOKEN=)
    WORD            a pure token named after itself in lowercase (NX -> nx)
    TOKEN=item      the item is introduced by TOKEN
    'x'             quotes a token or name with other characters ('*', 'ip:port')
    name(a b c)     a block: its items follow one another
    name(a|b|c)     a oneof: one of the items
    [item]          an optional item
    suffixes        ... multiple; & multiple_token; @V since; ~V deprecated since

`parse` turns the notation into the argument maps COMMAND DOCS replies with,
keys in Redis's order; `render` is its inverse (the tests use it to check that
every declared string reads back to itself).
"""
from __future__ import annotations

TYPES = {"k": "key", "s": "string", "i": "integer", "d": "double", "p": "pattern",
         "t": "unix-time", "-": "pure-token"}
_CODES = {v: k for k, v in TYPES.items()}
_SPECIAL = set(" =:[]()|'.&@~")


class _Reader:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def error(self, what: str) -> ValueError:
        return ValueError(f"argument notation {self.text!r} at {self.pos}: {what}")

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos:self.pos + n]

    def skip_spaces(self) -> None:
        while self.peek() == " ":
            self.pos += 1

    def word(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _SPECIAL:
            self.pos += 1
        return self.text[start:self.pos]

    def version(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isdigit() or self.text[self.pos] == "."):
            if self.text.startswith("...", self.pos):
                break
            self.pos += 1
        return self.text[start:self.pos]

    def quoted(self) -> str:
        end = self.text.index("'", self.pos + 1)
        value = self.text[self.pos + 1:end]
        self.pos = end + 1
        return value


def _item(r: _Reader) -> dict:
    optional = r.peek() == "["
    if optional:
        r.pos += 1
    token = None
    start = r.pos
    first = r.quoted() if r.peek() == "'" else r.word()
    if r.peek() == "=":
        token = first
        r.pos += 1
        start = r.pos
        first = r.quoted() if r.peek() == "'" else r.word()
    if not first:
        raise r.error("a name expected")
    arg: dict = {"name": first}
    if r.peek() == "(":
        r.pos += 1
        children, kind = _items(r, ")")
        arg["type"] = kind
        arg["arguments"] = children
    elif r.peek() == ":":
        r.pos += 1
        code = r.peek()
        r.pos += 1
        if code not in TYPES:
            raise r.error(f"unknown type {code!r}")
        arg["type"] = TYPES[code]
        spec = r.version()
        if spec:
            arg["key_spec_index"] = int(spec)
        elif code == "k":
            raise r.error("a key without its key spec index")
    elif token is None and not any(c.islower() for c in first) and r.text[start] != "'":
        token = first
        arg["name"] = first.lower()
        arg["type"] = "pure-token"
    else:
        arg["type"] = "string"
    if arg["type"] == "pure-token" and token is None:
        raise r.error(f"pure token {r.text[start:r.pos]!r} without a token")
    flags = []
    while True:
        c = r.peek()
        if r.peek(3) == "...":
            r.pos += 3
            flags.append("multiple")
        elif c == "&":
            r.pos += 1
            flags.append("multiple_token")
        elif c == "@":
            r.pos += 1
            arg["since"] = r.version()
        elif c == "~":
            r.pos += 1
            arg["deprecated_since"] = r.version()
        else:
            break
    if optional:
        if r.peek() != "]":
            raise r.error("']' expected")
        r.pos += 1
        flags.insert(0, "optional")
    out = {"name": arg["name"], "type": arg["type"]}
    if "key_spec_index" in arg:
        out["key_spec_index"] = arg["key_spec_index"]
    if token is not None:
        out["token"] = token
    for field in ("since", "deprecated_since"):
        if field in arg:
            out[field] = arg[field]
    if flags:
        out["flags"] = sorted(flags, key=("optional", "multiple", "multiple_token").index)
    if "arguments" in arg:
        out["arguments"] = arg["arguments"]
    return out


def _items(r: _Reader, end: str | None) -> tuple[list, str]:
    items = []
    separator = None
    while True:
        r.skip_spaces()
        if end is not None and r.peek() == end:
            r.pos += 1
            break
        if end is None and r.pos >= len(r.text):
            break
        if items:
            sep = "|" if r.peek() == "|" else " "
            if separator is None:
                separator = sep
            elif sep != separator:
                raise r.error("a group mixes ' ' and '|'")
            if sep == "|":
                r.pos += 1
                r.skip_spaces()
        items.append(_item(r))
    return items, "oneof" if separator == "|" else "block"


def parse(text: str) -> list[dict]:
    """The argument maps of a notation (see the module's docstring)."""
    if not text:
        return []
    r = _Reader(text)
    return _items(r, None)[0]


def _quote(word: str) -> str:
    if word and not set(word) & _SPECIAL:
        return word
    return "'" + word + "'"


def _render_item(arg: dict) -> str:
    kind, name, token = arg["type"], arg["name"], arg.get("token")
    if kind in ("block", "oneof"):
        sep = "|" if kind == "oneof" else " "
        core = _quote(name) + "(" + sep.join(_render_item(a) for a in arg["arguments"]) + ")"
        if len(arg["arguments"]) < (2 if kind == "oneof" else 1):
            raise ValueError(f"a {kind} of {len(arg['arguments'])} argument(s) cannot be written")
    elif kind == "pure-token" and token is not None and token == name.upper() \
            and not any(c.islower() for c in token) and token and not set(token) & _SPECIAL:
        core, token = token, None
    elif kind == "string" and any(c.islower() for c in name) and not set(name) & _SPECIAL \
            and "key_spec_index" not in arg:
        core = name
    else:
        core = _quote(name) + ":" + _CODES[kind] + str(arg.get("key_spec_index", ""))
    text = (_quote(token) + "=" if token is not None else "") + core
    flags = arg.get("flags", ())
    if "multiple" in flags:
        text += "..."
    if "multiple_token" in flags:
        text += "&"
    if "since" in arg:
        text += "@" + arg["since"]
    if "deprecated_since" in arg:
        text += "~" + arg["deprecated_since"]
    return "[" + text + "]" if "optional" in flags else text


def render(args: list[dict]) -> str:
    return " ".join(_render_item(a) for a in args)
