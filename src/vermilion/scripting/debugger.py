"""The Lua debugger (LDB): `SCRIPT DEBUG YES|SYNC`, then EVAL, as `redis-cli --ldb` drives it.

A client that asked for debugging runs its next EVAL (or EVAL_RO) as a session:

* The script stops before its first line; every stop sends an array of status lines (the
  debugger's log: "* Stopped at N, stop reason = ...", the source line, `<redis>` /
  `<reply>` / `<error>` / `<debug>` / `<value>` entries) and waits for a command from that
  client: step/next, continue, list, whole, print, break, trace, eval, redis, maxlen, abort,
  help. Stops come from stepping, breakpoints, `redis.breakpoint()` and, while running
  freely past busy-reply-threshold (5 s when 0), a timeout ("infinite loop?").
* The session ends when the script does: a `<endsession>` log, then the EVAL's reply,
  then the connection closes (Redis's signal that the session is over).

Redis's two modes differ in one way here. SYNC blocks the whole server while the session
lasts and keeps the dataset changes: so does Vermilion. YES forks a child in Redis, so the
server goes on serving and the changes are rolled back; Vermilion runs YES as SYNC (the
server blocks, changes are kept; docs/compatibility.md).

While the script is stopped the event loop cannot run (the script runs inside it, as in
Redis): the session reads the client's socket itself, blocking, with Redis's limits (a
command of at most 1024 arguments of 1 to 1024 bytes each, 1 MB of unparsed input), and
writes its logs straight to the socket after whatever replies the client was still owed.
"""
from __future__ import annotations

import logging
import os
import select
import time

from ..server.connection import Connection
from ..server.resp import encode

log = logging.getLogger("vermilion")

MAX_BREAKPOINTS = 64
DEFAULT_MAXLEN = 256
MIN_MAXLEN = 60
MAX_DEPTH = 10                  # nested tables shown by print / redis.debug / eval
MAX_ARGS = 1024
MAX_ARG_LEN = 1024
MAX_BUFFER = 1 << 20
SEND_TIMEOUT = 5.0
LOGGED_ARGS = 10                # of a redis.call, in its <redis> line

HELP = [
    "Redis Lua debugger help:",
    "[h]elp               Show this help.",
    "[s]tep               Run current line and stop again.",
    "[n]ext               Alias for step.",
    "[c]ontinue           Run till next breakpoint.",
    "[l]ist               List source code around current line.",
    "[l]ist [line]        List source code around [line].",
    "                     line = 0 means: current position.",
    "[l]ist [line] [ctx]  In this form [ctx] specifies how many lines",
    "                     to show before/after [line].",
    "[w]hole              List all source code. Alias for 'list 1 1000000'.",
    "[p]rint              Show all the local variables.",
    "[p]rint <var>        Show the value of the specified variable.",
    "                     Can also show global vars KEYS and ARGV.",
    "[b]reak              Show all breakpoints.",
    "[b]reak <line>       Add a breakpoint to the specified line.",
    "[b]reak -<line>      Remove breakpoint from the specified line.",
    "[b]reak 0            Remove all breakpoints.",
    "[t]race              Show a backtrace.",
    "[e]val <code>        Execute some Lua code (in a different callframe).",
    "[r]edis <cmd>        Execute a Redis command.",
    "[m]axlen [len]       Trim logged Redis replies and Lua var dumps to len.",
    "                     Specifying zero as <len> means unlimited.",
    "[a]bort              Stop the execution of the script. In sync",
    "                     mode dataset changes will be retained.",
    "",
    "Debugger functions you can call from Lua scripts:",
    "redis.debug()        Produce logs in the debugger console.",
    "redis.breakpoint()   Stop execution like if there was a breakpoint in the",
    "                     next line of code.",
]

UNKNOWN = b"<error> Unknown Redis Lua debugger command or wrong number of arguments."


class ProtocolFailure(Exception):
    """The client sent something the debugger cannot parse: the script ends with it."""


def c_atoi(text: bytes) -> int:
    """C's atoi: optional blanks and sign, then digits; 0 when there are none."""
    s = text.lstrip(b" \t\n\v\f\r")
    sign = 1
    if s[:1] in (b"+", b"-"):
        sign = -1 if s[:1] == b"-" else 1
        s = s[1:]
    n = 0
    for ch in s:
        if not 48 <= ch <= 57:
            break
        n = n * 10 + ch - 48
    return sign * n


def strict_int(text: bytes) -> int | None:
    """Redis's string2l: the whole argument is a decimal integer, no blanks, no '+'."""
    if not text or text[:1] == b"+" or (text[:1] == b"0" and len(text) > 1):
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    if text[:1] == b"-" and (len(text) == 1 or text[1:2] == b"0"):
        return None
    return value


def _count_line(buf: bytes, at: int, limit: int):
    """The count of a `*N` or `$N` line starting at buf[at] (1 to `limit`, else a protocol
    error) and where the next line starts; None while the line is incomplete."""
    end = buf.find(b"\r\n", at)
    if end < 0:
        return None
    n = c_atoi(buf[at + 1:end])
    if n <= 0 or n > limit:
        raise ProtocolFailure("protocol error")
    return n, end + 2


def c_repr(data: bytes) -> bytes:
    """A quoted, escaped string, as Redis's sdscatrepr writes it."""
    out = bytearray(b'"')
    for ch in data:
        if ch in (0x5C, 0x22):
            out += b"\\" + bytes((ch,))
        elif ch == 0x0A:
            out += b"\\n"
        elif ch == 0x0D:
            out += b"\\r"
        elif ch == 0x09:
            out += b"\\t"
        elif ch == 0x07:
            out += b"\\a"
        elif ch == 0x08:
            out += b"\\b"
        elif 0x20 <= ch < 0x7F:
            out.append(ch)
        else:
            out += b"\\x%02x" % ch
    out += b'"'
    return bytes(out)


def reply_to_human(data: bytes, pos: int = 0) -> tuple[bytes, int]:
    """One encoded reply (RESP2 or RESP3) as the debugger shows it in a <reply> line."""
    kind = data[pos:pos + 1]
    end = data.index(b"\r\n", pos)
    head = data[pos + 1:end]
    nxt = end + 2
    if kind == b":" or kind == b"(":
        return head, nxt
    if kind == b"$" or kind == b"=":
        n = int(head)
        if n < 0:
            return b"NULL", nxt
        return c_repr(data[nxt:nxt + n]), nxt + n + 2
    if kind in (b"+", b"-"):
        return c_repr(data[pos:end]), nxt
    if kind == b"_":
        return b"(null)", nxt
    if kind == b"#":
        return (b"#true" if head == b"t" else b"#false"), nxt
    if kind == b",":
        return b"(double) " + head, nxt
    if kind in (b"*", b"~", b">"):
        n = int(head)
        if n < 0:
            return b"NULL", nxt
        items = []
        for _ in range(n):
            item, nxt = reply_to_human(data, nxt)
            items.append(item)
        body = b",".join(items)
        return (b"[" + body + b"]" if kind != b"~" else b"~(" + body + b")"), nxt
    if kind in (b"%", b"|"):
        pairs = []
        for _ in range(int(head)):
            k, nxt = reply_to_human(data, nxt)
            v, nxt = reply_to_human(data, nxt)
            pairs.append(k + b" => " + v)
        body = b"{" + b",".join(pairs) + b"}"
        if kind == b"|":
            value, nxt = reply_to_human(data, nxt)
            return b"|" + body + b" " + value, nxt
        return body, nxt
    return head, nxt


class Session:
    """One debugging session: the caller's socket, the source, breakpoints and the log."""

    def __init__(self, scripts, conn, body: bytes):
        self.scripts = scripts
        self.conn = conn
        self.fd = conn.fd
        # Trailing line ends are not lines of the script (a file's last newline).
        source = body.rstrip(b"\r\n")
        self.lines = source.split(b"\n") if source else []
        self.logs: list[bytes] = []
        self.breakpoints: list[int] = []
        self.step = True                # stop at the next line
        self.luabp = False              # redis.breakpoint() was called
        self.currentline = -1
        self.maxlen = DEFAULT_MAXLEN
        self.maxlen_hint_sent = False
        self.cbuf = b""
        self.connected = True
        self.abort_text: bytes | None = None    # set by `abort`: the error that ends the script
        self.lua = scripts.eval_lua.ldb

    # -- output ---------------------------------------------------------------------------

    def log(self, entry: bytes) -> None:
        self.logs.append(entry)

    def log_trimmed(self, entry: bytes) -> None:
        trimmed = False
        if self.maxlen and len(entry) > self.maxlen:
            entry = entry[:self.maxlen] + b" ..."
            trimmed = True
        self.log(entry)
        if trimmed and not self.maxlen_hint_sent:
            self.maxlen_hint_sent = True
            self.log(b"<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming.")

    def send_logs(self) -> None:
        out = [b"*%d\r\n" % len(self.logs)]
        for entry in self.logs:
            out.append(b"+" + entry.replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n")
        self.logs = []
        self.write(b"".join(out))

    def flush_owed(self) -> None:
        """Write the replies the client is owed before the session's first words."""
        conn = self.conn
        pieces = list(conn.pending)
        conn.pending = []
        if conn.batch:
            pieces += conn.batch
            del conn.batch[:]
        if pieces:
            self.write(b"".join(pieces))

    def write(self, data: bytes) -> None:
        if not self.connected:
            return
        self.scripts.engine.stats.net_output_bytes += len(data)
        deadline = time.monotonic() + SEND_TIMEOUT
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                _, writable, _ = select.select([], [self.fd], [], left)
                if writable:
                    view = view[os.write(self.fd, view):]
            except BlockingIOError:
                continue
            except OSError:
                self.connected = False
                return

    # -- input ----------------------------------------------------------------------------

    def parse(self) -> list[bytes] | None:
        """One command from the input buffer, None if more input is needed; raises
        ProtocolFailure. Leading bytes before the first '*' are skipped, as Redis does."""
        buf = self.cbuf
        if not buf:
            return None
        star = buf.find(b"*")
        if star < 0:
            raise ProtocolFailure("protocol error")
        head = _count_line(buf, star, MAX_ARGS)
        if head is None:
            return None
        argc, pos = head
        argv = []
        while len(argv) < argc:
            if pos >= len(buf):
                return None
            if buf[pos:pos + 1] != b"$":
                raise ProtocolFailure("protocol error")
            head = _count_line(buf, pos, MAX_ARG_LEN)
            if head is None:
                return None
            n, pos = head
            if pos + n + 2 > len(buf):
                return None
            argv.append(buf[pos:pos + n])
            pos += n
            if buf[pos:pos + 2] != b"\r\n":
                raise ProtocolFailure("protocol error")
            pos += 2
        return argv

    def read_command(self) -> list[bytes] | None:
        """The next command, blocking; None when the client is gone."""
        while True:
            argv = self.parse()
            if argv is not None:
                # Like Redis, whatever followed the command in the same read is dropped.
                self.cbuf = b""
                return argv
            try:
                select.select([self.fd], [], [])
                data = os.read(self.fd, 16384)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                self.connected = False
                return None
            self.scripts.engine.stats.net_input_bytes += len(data)
            self.cbuf += data
            if len(self.cbuf) > MAX_BUFFER:
                self.cbuf = b""
                raise ProtocolFailure("max client buffer reached")

    # -- the hook ---------------------------------------------------------------------------

    def on_line(self, is_line: bool, line: int):
        """Called for each line of the script (and every 100000 instructions); returns the
        text of an error that ends the script, or None to go on."""
        self.currentline = line
        bp = line in self.breakpoints or self.luabp
        timeout = False
        ctx = self.scripts.ctx
        if not is_line and not self.step and not bp:
            limit = self.scripts.threshold or 5.0
            if ctx is None or time.monotonic() - ctx.start < limit:
                return None
            timeout = True
            self.step = True
        if not (self.step or bp):
            return None
        if bp:
            reason = b"redis.breakpoint() called" if self.luabp else b"break point"
        elif timeout:
            reason = b"timeout reached, infinite loop?"
        else:
            reason = b"step over"
        self.step = self.luabp = False
        self.log(b"* Stopped at %d, stop reason = %b" % (line, reason))
        self.log_source_line(line)
        self.send_logs()
        try:
            gone = not self.repl()
        except ProtocolFailure as e:
            return str(e).encode()
        if gone and timeout:
            return b"timeout during Lua debugging with client closing connection"
        if ctx is not None:
            ctx.start = time.monotonic()
        return self.abort_text

    def repl(self) -> bool:
        """Serve debugger commands until one resumes the script; False if the client left."""
        while True:
            argv = self.read_command()
            if argv is None:
                # Nobody is watching: the script runs to its end without stopping.
                self.step = False
                self.breakpoints = []
                return False
            name = argv[0].lower()
            argc = len(argv)
            if name in (b"h", b"help"):
                for text in HELP:
                    self.log(text.encode())
            elif name in (b"s", b"step", b"n", b"next"):
                self.step = True
                return True
            elif name in (b"c", b"continue"):
                return True
            elif name in (b"t", b"trace"):
                self.trace()
            elif name in (b"m", b"maxlen"):
                self.set_maxlen(argv)
            elif name in (b"b", b"break"):
                self.breakpoint_command(argv)
            elif name in (b"e", b"eval"):
                self.eval(argv)
            elif name in (b"a", b"abort"):
                self.abort_text = b"script aborted for user request"
                return True
            elif argc > 1 and name in (b"r", b"redis"):
                self.redis(argv)
            elif name in (b"p", b"print"):
                if argc == 2:
                    self.print_var(argv[1])
                else:
                    self.print_locals()
            elif name in (b"l", b"list"):
                around, ctx = self.currentline, 5
                if argc > 1:
                    num = c_atoi(argv[1])
                    if num > 0:
                        around = num
                if argc > 2:
                    ctx = c_atoi(argv[2])
                self.list_source(around, ctx)
            elif name in (b"w", b"whole"):
                self.list_source(1, 1000000)
            else:
                self.log(UNKNOWN)
            self.send_logs()

    # -- commands ---------------------------------------------------------------------------

    def source_line(self, lnum: int) -> bytes:
        if 1 <= lnum <= len(self.lines):
            return self.lines[lnum - 1]
        return b"<out of range source code line>"

    def log_source_line(self, lnum: int) -> None:
        bp = lnum in self.breakpoints
        current = lnum == self.currentline
        prefix = b"->#" if current and bp else b"-> " if current else b"  #" if bp else b"   "
        self.log(b"%b%-3d %b" % (prefix, lnum, self.source_line(lnum)))

    def list_source(self, around: int, context: int) -> None:
        for lnum in range(1, len(self.lines) + 1):
            if around != 0 and abs(around - lnum) > context:
                continue
            self.log_source_line(lnum)

    def breakpoint_command(self, argv: list[bytes]) -> None:
        if len(argv) == 1:
            if not self.breakpoints:
                self.log(b"No breakpoints set. Use 'b <line>' to add one.")
                return
            self.log(b"%d breakpoints set:" % len(self.breakpoints))
            for lnum in self.breakpoints:
                self.log_source_line(lnum)
            return
        for arg in argv[1:]:
            line = strict_int(arg)
            if line is None:
                self.log(b"Invalid argument:'%b'" % arg)
            elif line == 0:
                self.breakpoints = []
                self.log(b"All breakpoints removed.")
            elif line > 0:
                if len(self.breakpoints) == MAX_BREAKPOINTS:
                    self.log(b"Too many breakpoints set.")
                elif line <= len(self.lines) and line not in self.breakpoints:
                    self.breakpoints.append(line)
                    self.list_source(line, 1)
                else:
                    self.log(b"Wrong line number.")
            elif -line in self.breakpoints:
                self.breakpoints.remove(-line)
                self.log(b"Breakpoint removed.")
            else:
                self.log(b"No breakpoint in the specified line.")

    def set_maxlen(self, argv: list[bytes]) -> None:
        if len(argv) == 2:
            value = c_atoi(argv[1])
            self.maxlen_hint_sent = True
            if value != 0 and value <= MIN_MAXLEN:
                value = MIN_MAXLEN
            self.maxlen = value
        if self.maxlen:
            self.log(b"<value> replies are truncated at %d bytes." % self.maxlen)
        else:
            self.log(b"<value> replies are unlimited.")

    def print_locals(self) -> None:
        pairs, n = self.lua.locals()
        if not n:
            self.log(b"No local variables in the current context.")
            return
        for i in range(1, n + 1, 2):
            self.log_trimmed(b"<value> %b = %b" % (pairs[i], self.value(pairs[i + 1])))

    def print_var(self, name: bytes) -> None:
        found, value = self.lua.getvar(name)
        if found:
            self.log_trimmed(b"<value> " + self.value(value))
        else:
            self.log(b"No such variable.")

    def trace(self) -> None:
        frames, n = self.lua.trace()
        for i in range(1, n + 1, 2):
            name = frames[i]
            self.log(b"%b %b:" % (b"In" if i == 1 else b"From", name or b"top level"))
            self.log_source_line(frames[i + 1])
        if not n:
            self.log(b"Can't retrieve Lua stack.")

    def eval(self, argv: list[bytes]) -> None:
        ok, value = self.lua.eval(b" ".join(argv[1:]))
        if not ok:
            self.log(b"<error> " + (value if type(value) is bytes else str(value).encode()))
        else:
            self.log_trimmed(b"<retval> " + self.value(value))

    def redis(self, argv: list[bytes]) -> None:
        # The call logs itself (<redis>, <reply>, <error>) as a step would; its error, if
        # any, stays in the log and does not reach the script.
        self.step = True
        try:
            self.lua.redis(*argv[1:])
        finally:
            self.step = False

    # -- what the script does ------------------------------------------------------------------

    def debug(self, values: list) -> None:
        """redis.debug(...): one <debug> line, values as print shows them."""
        self.log(b"<debug> line %d: %b" % (self.currentline,
                                           b", ".join(self.value(v) for v in values)))

    def log_command(self, argv: list[bytes]) -> None:
        parts = [b"<redis>"]
        for j, arg in enumerate(argv):
            if j == LOGGED_ARGS:
                # Redis's count here is one short; kept, it is what clients see.
                parts.append(b" ... (%d more)" % (len(argv) - j - 1))
                break
            parts.append(b" " + arg)
        self.log(b"".join(parts))

    def log_reply(self, reply, resp3: bool) -> None:
        out: list = []
        encode(reply, out, resp3)
        self.log_trimmed(b"<reply> " + reply_to_human(b"".join(out))[0])

    def log_error(self, text: bytes) -> None:
        self.log(b"<error> " + text)

    def value(self, v, level: int = 0) -> bytes:
        """A Lua value as the debugger prints it (Redis's ldbCatStackValue)."""
        if level == MAX_DEPTH:
            return b"<max recursion level reached! Nested table?>"
        level += 1
        if v is None:
            return b"nil"
        t = type(v)
        if t is bool:
            return b"true" if v else b"false"
        if t is bytes:
            return c_repr(v)
        if t is int or t is float:
            return b"%g" % v
        kind = self.lua.type(v)
        if kind == b"table":
            as_array, as_map = [], []
            is_array = True
            expected = 1
            for key, item in v.items():
                if is_array and (type(key) not in (int, float) or key != expected):
                    is_array = False
                shown = self.value(item, level)
                as_array.append(shown)
                as_map.append(b"[" + self.value(key, level) + b"]=" + shown)
                expected += 1
            return b"{" + b"; ".join(as_array if is_array else as_map) + b"}"
        address = self.lua.tostring(v).rpartition(b" ")[2]
        name = {b"function": b"function", b"userdata": b"userdata",
                b"thread": b"thread"}.get(kind, b"light-userdata")
        return b'"%b@%b"' % (name, address)


# -- the commands' side -------------------------------------------------------------------------

def owes_replies(client) -> bool:
    """Replies not yet written: SCRIPT DEBUG is then refused, as in Redis (a pipeline, or
    inside EXEC), since the session's logs would overtake them."""
    if client.multi is not None:
        return True
    if not isinstance(client, Connection):
        return False
    t = client.transport
    return bool(client.pending or client.batch or (t is not None and t.get_write_buffer_size()))


def debuggable(client) -> str | None:
    """Why this client cannot debug scripts, or None: the session talks to its socket."""
    if not isinstance(client, Connection) or client.transport is None or client.fd < 0:
        return "ERR SCRIPT DEBUG needs a TCP or Unix socket connection"
    if client.transport.get_extra_info("ssl_object") is not None:
        return "ERR SCRIPT DEBUG is not supported over TLS by this server"
    return None


def debug_eval(scripts, client, args: list, script, numkeys: int, read_only: bool):
    """Run EVAL as a debugging session for `client`. Its reply (or error) is the last
    thing the client gets: the connection closes after it."""
    session = Session(scripts, client, script.body)
    log.warning("Redis synchronous debugging eval session started")
    session.flush_owed()
    scripts.ldb = session
    state = scripts.eval_lua
    state.ldb_arm(True)
    try:
        return scripts.run(client, state, scripts.eval_client, script.fn, script.sha, True,
                           numkeys, args, read_only)
    finally:
        state.ldb_arm(False)
        scripts.ldb = None
        session.log(b"<endsession>")
        session.send_logs()
        log.warning("Redis synchronous debugging eval session ended")
        client.lua_debug = None
        client.close()
