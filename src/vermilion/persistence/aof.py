"""The append-only file: Redis 7.0's multi-part layout, the writer, the loader
and the command rewriter.

Layout (inside ``dir/appenddirname``)::

    appendonly.aof.1.base.rdb      the state at the last rewrite (RDB, or RESP
                                   commands when aof-use-rdb-preamble is no)
    appendonly.aof.1.incr.aof      every write since, as RESP commands
    appendonly.aof.2.incr.aof      (a rewrite in progress opened this one)
    appendonly.aof.manifest        which files, in which order:
        file appendonly.aof.1.base.rdb seq 1 type b
        file appendonly.aof.1.incr.aof seq 1 type i

``redis-check-aof <manifest>`` reads this layout, and so does redis-server 7.0.
The manifest is only ever replaced whole (write temp, fsync, rename, fsync the
directory), so after a crash it names either the old set of files or the new
one, never a mix.

Writing: every effect the engine propagates (``engine.sinks``) is encoded as
RESP into an in-memory buffer, preceded by SELECT when the database changes.
The buffer is written once per event-loop iteration. What happens then depends
on ``appendfsync``:

* ``always``: the buffer goes to a background thread that writes and
  fdatasyncs it. Every reply produced while some appended bytes are not yet
  synced is held back (``ReplyBarrier``) and released when the sync covering
  them completes, so no client ever sees -- in a reply to a write or to a read
  -- state that a crash could lose. All writes of an iteration share one
  fsync (group commit), and the loop keeps executing commands while the disk
  works, whose replies wait for the next sync.
* ``everysec``: the buffer is written on the loop (a page-cache copy); the
  background thread fsyncs at most once a second. If a fsync is still running,
  the write is postponed, for up to 2 seconds, then done anyway (Redis's
  "Asynchronous AOF fsync is taking too long" and aof_delayed_fsync).
* ``no``: written on the loop, fsync left to the OS.

Loading replays the base then each incr file. A file that ends in the middle
of a command is *truncated*: with aof-load-truncated yes (and only for the
last file) it is cut back to the last complete command and loading goes on;
otherwise the server refuses to start, naming the file and offset. Anything
that is not a well-formed command is a format error, also reported with its
file and offset.
"""
from __future__ import annotations

import collections
import logging
import os
import re
import threading
import time

import hiredis

from .._native import native_module
from ..engine.errors import CommandError
from .rdb import debug_delay, fsync_dir

log = logging.getLogger("vermilion")

AOF_REWRITE_ITEMS_PER_CMD = 64


# -- RESP encoding ---------------------------------------------------------------------------

_FORMATS: dict[int, bytes] = {}
_F2, _F3, _F4, _F5 = ((b"*%d\r\n" % n) + b"$%d\r\n%b\r\n" * n for n in (2, 3, 4, 5))


def encode_command(argv) -> bytes:
    """RESP multibulk of `argv` (bytes-like elements; ints are written in decimal)."""
    n = len(argv)
    fmt = _FORMATS.get(n)
    if fmt is None:
        fmt = (b"*%d\r\n" % n) + b"$%d\r\n%b\r\n" * n
        if n <= 64:
            _FORMATS[n] = fmt
    values = []
    for a in argv:
        if a.__class__ is not bytes:
            a = b"%d" % a if isinstance(a, int) else bytes(a)
        values.append(len(a))
        values.append(a)
    return fmt % tuple(values)


def _encode_unrolled(argv) -> bytes:
    """encode_command with the common sizes unrolled (SET k v, XADD k id f v ...)."""
    n = len(argv)
    try:
        if n == 3:
            a, b, c = argv
            return _F3 % (len(a), a, len(b), b, len(c), c)
        if n == 5:
            a, b, c, d, e = argv
            return _F5 % (len(a), a, len(b), b, len(c), c, len(d), d, len(e), e)
        if n == 2:
            a, b = argv
            return _F2 % (len(a), a, len(b), b)
        if n == 4:
            a, b, c, d = argv
            return _F4 % (len(a), a, len(b), b, len(c), c, len(d), d)
    except TypeError:                   # an int among the arguments
        pass
    return encode_command(argv)


# The AOF's hot encoder: the C one when vermilion._resp is built (same bytes).
_resp = native_module("_resp")
c_encode_command = _resp.encode_command if _resp is not None else None
# What every propagation sink encodes with (the AOF writer, the replication stream).
fast_encode_command = c_encode_command or _encode_unrolled


def select_command(index: int) -> bytes:
    s = b"%d" % index
    return b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%b\r\n" % (len(s), s)


# -- manifest ------------------------------------------------------------------------------------

_NEEDS_QUOTES = re.compile(rb"[^\x21-\x7e]|[\"'\\]")


class AofInfo:
    __slots__ = ("name", "seq", "type")

    def __init__(self, name: str, seq: int, type_: str):
        self.name, self.seq, self.type = name, seq, type_

    def line(self) -> str:
        raw = self.name.encode("utf-8", "surrogateescape")
        if _NEEDS_QUOTES.search(raw):
            name = '"' + "".join(_repr_char(c) for c in raw) + '"'
        else:
            name = self.name
        return f"file {name} seq {self.seq} type {self.type}\n"

    def __repr__(self):
        return f"AofInfo({self.name!r}, {self.seq}, {self.type!r})"


def _repr_char(c: int) -> str:
    if c in (0x22, 0x5C):
        return "\\" + chr(c)
    if c == 10:
        return "\\n"
    if c == 13:
        return "\\r"
    if c == 9:
        return "\\t"
    if 0x20 <= c < 0x7F:
        return chr(c)
    return "\\x%02x" % c


class ManifestError(Exception):
    pass


class Manifest:
    """appendonly.aof.manifest: the base file, history files, incr files in order."""

    def __init__(self):
        self.base: AofInfo | None = None
        self.incrs: list[AofInfo] = []
        self.history: list[AofInfo] = []
        self.base_seq = 0
        self.incr_seq = 0

    def copy(self) -> "Manifest":
        m = Manifest()
        m.base = self.base
        m.incrs = list(self.incrs)
        m.history = list(self.history)
        m.base_seq, m.incr_seq = self.base_seq, self.incr_seq
        return m

    def text(self) -> str:
        lines = []
        if self.base is not None:
            lines.append(self.base.line())
        lines += [h.line() for h in self.history]
        lines += [i.line() for i in self.incrs]
        return "".join(lines)

    @classmethod
    def parse(cls, text: bytes) -> "Manifest":
        from ..server.parser import split_inline
        m = cls()
        for raw in text.split(b"\n"):
            line = raw.strip()
            if not line or line.startswith(b"#"):
                continue
            if len(raw) > 1024:
                raise ManifestError("The AOF manifest file contains too long line")
            try:
                words = split_inline(line)
            except Exception:
                raise ManifestError("Invalid AOF manifest file format") from None
            if len(words) % 2:
                raise ManifestError("Invalid AOF manifest file format")
            fields = {words[i].decode(): words[i + 1] for i in range(0, len(words), 2)}
            try:
                name = fields["file"].decode("utf-8", "surrogateescape")
                seq = int(fields["seq"])
                kind = fields["type"].decode()
            except (KeyError, ValueError):
                raise ManifestError("Invalid AOF manifest file format") from None
            if "/" in name:
                raise ManifestError("File can't be a path, just a filename")
            info = AofInfo(name, seq, kind)
            if kind == "b":
                if m.base is not None:
                    raise ManifestError("Found duplicate base file information")
                m.base = info
                m.base_seq = seq
            elif kind == "h":
                m.history.append(info)
            elif kind == "i":
                if seq <= m.incr_seq:
                    raise ManifestError("Found a non-monotonic sequence number")
                m.incrs.append(info)
                m.incr_seq = seq
            else:
                raise ManifestError("Unknown AOF file type")
        if m.base is None and not m.incrs:
            raise ManifestError("Found an empty AOF manifest")
        return m


def write_atomically(path: str, data: bytes) -> None:
    """Write temp, fsync, rename over `path`, fsync the directory."""
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, "temp-" + os.path.basename(path))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(directory)


# -- the I/O thread --------------------------------------------------------------------------------

class AofIO:
    """One background thread doing the AOF's slow I/O in order: write+fsync
    batches (always), fsyncs (everysec), and closing old files."""

    def __init__(self, loop, name: str = "aof-io"):
        self.loop = loop
        self.jobs: collections.deque = collections.deque()
        self.cond = threading.Condition()
        self.stopping = False
        self.pending_fsync = 0          # fsync jobs queued or running (INFO, everysec)
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def submit(self, job: tuple) -> None:
        with self.cond:
            if job[0] == "fsync":
                self.pending_fsync += 1
            self.jobs.append(job)
            self.cond.notify()

    def _run(self) -> None:
        sync = getattr(os, "fdatasync", os.fsync)
        while True:
            with self.cond:
                while not self.jobs and not self.stopping:
                    self.cond.wait()
                if not self.jobs:
                    return
                job = self.jobs.popleft()
            kind = job[0]
            err = None
            try:
                if kind == "write":
                    _, fd, data, done, timing = job
                    started = time.perf_counter()
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    written = time.perf_counter()
                    sync(fd)
                    timing[:] = (written - started, time.perf_counter() - written)
                elif kind == "fsync":
                    _, fd, done = job
                    sync(fd)
                elif kind == "close":
                    _, fd, done = job
                    try:
                        sync(fd)
                    finally:
                        os.close(fd)
                else:                                   # "call": run a function here
                    _, fn, done = job
                    fn()
            except OSError as e:
                err = e
            except Exception as e:          # never let the thread die: replies wait on it
                log.exception("AOF I/O thread error")
                err = OSError(str(e))
            finally:
                if kind == "fsync":
                    with self.cond:
                        self.pending_fsync -= 1
            if done is not None:
                try:
                    self.loop.call_soon_threadsafe(done, err)
                except RuntimeError:                    # loop closed
                    pass

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queued job ran (called from the loop at shutdown)."""
        event = threading.Event()
        self.submit(("call", event.set, None))
        event.wait(timeout)

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify()
        self.thread.join(30)


class ReplyBarrier:
    """appendfsync always: replies wait until the AOF bytes before them are synced.

    ``appended`` counts bytes given to the AOF, ``synced`` bytes known to be on
    disk. A reply produced while appended > synced is held with the current
    ``appended`` as its mark, and released (in order, one write per
    connection) once ``synced`` reaches the mark. While nothing is pending the
    check is one comparison.
    """

    def __init__(self):
        self.appended = 0
        self.synced = 0
        self.held: collections.deque = collections.deque()
        self.holding: dict = {}          # connection -> number of held writes

    def hold(self, conn, data: bytes) -> bool:
        if self.appended == self.synced and not self.holding:
            return False
        self.held.append((conn, data, self.appended))
        self.holding[conn] = self.holding.get(conn, 0) + 1
        return True

    def holds(self, conn) -> bool:
        return conn in self.holding

    def release(self, upto: int) -> None:
        if upto > self.synced:
            self.synced = upto
        held = self.held
        if not held:
            return
        out: dict = {}
        holding = self.holding
        while held and held[0][2] <= self.synced:
            conn, data, _ = held.popleft()
            out.setdefault(conn, []).append(data)
            n = holding[conn] - 1
            if n:
                holding[conn] = n
            else:
                del holding[conn]
        for conn, chunks in out.items():
            conn.released(b"".join(chunks) if len(chunks) > 1 else chunks[0],
                          conn not in holding)

    def drop_all(self) -> None:
        """The AOF cannot be written: held replies are never sent (clients are closed)."""
        held, self.held = self.held, collections.deque()
        self.holding = {}
        for conn, _, _ in held:
            conn.abort()


# -- the writer ----------------------------------------------------------------------------------------

class AofWriter:
    """Feeds effects into the current incr file under the fsync policy."""

    def __init__(self, loop, fd: int, policy: str, io: AofIO, barrier: ReplyBarrier | None):
        self.loop = loop
        self.fd = fd
        self.policy = policy
        self.io = io
        self.barrier = barrier
        self.buf: list[bytes] = []
        self.selected = -1
        self.scheduled = False
        self.in_flight = False          # always: a write+fsync batch is running
        self.written = 0                # bytes handed to write()/the thread (total)
        self.fsynced_mark = 0           # written when the last fsync started
        self.last_fsync = time.monotonic()
        self.postponed_since = 0.0
        self.retry_scheduled = False
        self.delayed_fsync = 0
        self.last_write_error: str | None = None
        self.on_error = None            # callback(error) when a write fails
        self.on_latency = None          # callback(event, ms): the latency monitor's AOF events
        self.file_bytes = 0             # bytes written to the current incr file
        self.total_appended = 0         # bytes appended since the writer started (INFO)

    # The sink: called by the engine for every propagated effect.
    def feed(self, db_index: int, argv) -> None:
        buf = self.buf
        if db_index != self.selected:
            s = select_command(db_index)
            buf.append(s)
            if self.barrier is not None:
                self.barrier.appended += len(s)
            self.selected = db_index
        if c_encode_command is not None:
            s = c_encode_command(argv)
        else:
            s = _encode_unrolled(argv)
        buf.append(s)
        barrier = self.barrier
        if barrier is not None:
            barrier.appended += len(s)
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.flush)

    @property
    def buf_bytes(self) -> int:
        """Bytes waiting in the buffer (INFO aof_buffer_length)."""
        return sum(map(len, self.buf))

    def take(self) -> bytes:
        data = b"".join(self.buf)
        self.buf = []
        return data

    def flush(self, force: bool = False) -> None:
        """End of an event-loop iteration: hand the buffer to the disk."""
        self.scheduled = False
        if not self.buf:
            return
        if self.policy == "always":
            if self.in_flight and not force:
                return                      # _synced starts the next batch
            data = self.take()
            mark = self.barrier.appended if self.barrier is not None else 0
            self.written += len(data)
            self.file_bytes += len(data)
            self.total_appended += len(data)
            self.in_flight = True
            timing = [0.0, 0.0]         # seconds: the write, the fsync (set by the I/O thread)
            self.io.submit(("write", self.fd, data,
                            lambda err, m=mark, t=timing: self._synced(m, err, t), timing))
            return
        if self.policy == "everysec" and self.io.pending_fsync and not force:
            now = time.monotonic()
            if not self.postponed_since:
                self.postponed_since = now
            if now - self.postponed_since < 2.0:
                if not self.retry_scheduled:
                    self.retry_scheduled = True
                    self.loop.call_later(0.05, self._retry)
                return
            self.delayed_fsync += 1
            log.warning("Asynchronous AOF fsync is taking too long (disk is busy?). Writing the "
                        "AOF buffer without waiting for fsync to complete, this may slow down "
                        "Vermilion.")
        self.postponed_since = 0.0
        data = self.take()
        started = time.perf_counter()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view):]
        except OSError as err:
            self._failed(err, data)
            return
        self._sample("aof-write", time.perf_counter() - started)
        self.written += len(data)
        self.file_bytes += len(data)
        self.total_appended += len(data)
        if self.last_write_error is not None:
            log.warning("AOF write error looks solved, Vermilion can write again.")
            self.last_write_error = None
        if self.policy == "everysec":
            self.maybe_fsync()

    def _retry(self) -> None:
        self.retry_scheduled = False
        if self.buf and not self.scheduled:
            self.flush()

    def maybe_fsync(self) -> None:
        """everysec: start a background fsync if a second passed and data is unsynced."""
        now = time.monotonic()
        if self.written > self.fsynced_mark and now - self.last_fsync >= 1.0 \
                and not self.io.pending_fsync:
            self.fsynced_mark = self.written
            self.last_fsync = now
            self.io.submit(("fsync", self.fd, None))

    def _sample(self, event: str, seconds: float) -> None:
        if self.on_latency is not None:
            self.on_latency(event, int(seconds * 1000))

    def _synced(self, mark: int, err, timing=None) -> None:
        self.in_flight = False
        if timing is not None and err is None:
            self._sample("aof-write", timing[0])
            self._sample("aof-fsync-always", timing[1])
        if err is not None:
            self._failed(err, b"")
            return
        if self.last_write_error is not None:
            self.last_write_error = None
        if self.barrier is not None:
            self.barrier.release(mark)
        if self.buf and not self.scheduled:
            self.flush()

    def _failed(self, err: OSError, data: bytes) -> None:
        self.last_write_error = err.strerror or str(err)
        log.warning("Error writing to the AOF file: %s", self.last_write_error)
        if data:
            # Keep what could not be written; it is retried on the next flush.
            self.buf.insert(0, data)
        if self.on_error is not None:
            self.on_error(err)

    def switch(self, fd: int) -> int:
        """Start appending to a new file (rewrite start); returns the old fd.

        The buffer must have been flushed to the old file first. The next
        command written starts with SELECT, as the new file is replayed from a
        fresh client.
        """
        old, self.fd = self.fd, fd
        self.selected = -1
        self.file_bytes = 0
        return old

    def sync_now(self) -> None:
        """Write and fsync everything now, waiting (shutdown, rewrite start)."""
        if self.buf:
            if self.policy == "always":
                self.flush(force=True)
            else:
                self.flush(force=True)
        self.io.drain()
        try:
            os.fsync(self.fd)
        except OSError:
            pass


# -- loading ----------------------------------------------------------------------------------------

class AofLoadError(Exception):
    """Loading must stop; `message` says why, with file and offset."""

    def __init__(self, message: str, truncated: bool = False, offset: int = -1):
        super().__init__(message)
        self.truncated = truncated
        self.offset = offset


class _Truncated(Exception):
    pass


class _BadFormat(Exception):
    pass


def parse_command_at(data: bytes, p: int):
    """Redis's AOF reading rules from position p: (argv, next p), or None at a
    clean end of file (annotations ``#...`` are skipped). Raises _Truncated
    when the file ends inside a command, _BadFormat otherwise."""
    n = len(data)
    while True:
        if p >= n:
            return None
        if data[p] == 35:                                   # '#': annotation line
            e = data.find(b"\n", p)
            if e < 0:
                return None
            p = e + 1
            continue
        break
    if data[p] != 42:                                       # '*'
        raise _BadFormat("expected '*'")
    e = data.find(b"\n", p)
    if e < 0:
        if p + 1 >= n:
            raise _Truncated()
        if not _is_num_prefix(data[p + 1:]):
            raise _BadFormat("bad multibulk length")
        raise _Truncated()
    try:
        argc = int(data[p + 1:e].rstrip(b"\r"))
    except ValueError:
        raise _BadFormat("bad multibulk length") from None
    if argc < 1:
        raise _BadFormat("bad multibulk length")
    p = e + 1
    argv = []
    for _ in range(argc):
        if p >= n:
            raise _Truncated()
        if data[p] != 36:                                   # '$'
            raise _BadFormat("expected '$'")
        e = data.find(b"\n", p)
        if e < 0:
            raise _Truncated()
        try:
            ln = int(data[p + 1:e].rstrip(b"\r"))
        except ValueError:
            raise _BadFormat("bad bulk length") from None
        if ln < 0:
            raise _BadFormat("bad bulk length")
        p = e + 1
        if p + ln + 2 > n:
            raise _Truncated()
        argv.append(data[p:p + ln])
        if data[p + ln:p + ln + 2] != b"\r\n":
            raise _BadFormat("bulk not terminated by CRLF")
        p += ln + 2
    return argv, p


def _is_num_prefix(s: bytes) -> bool:
    s = s.rstrip(b"\r")
    return s == b"" or s == b"-" or s.lstrip(b"-").isdigit()


def command_offsets(data: bytes, count: int) -> int:
    """Offset after the first `count` commands (annotations skipped)."""
    p = 0
    for _ in range(count):
        parsed = parse_command_at(data, p)
        if parsed is None:
            break
        p = parsed[1]
    return p


class CommandReplayer:
    """Runs AOF commands against the engine with a fake client (no stats, no
    propagation, errors ignored as Redis does), handling MULTI/EXEC itself."""

    def __init__(self, engine):
        from ..engine.client import Client
        self.engine = engine
        self.client = Client(engine)
        self.client.kind = "aof"
        self.multi: list | None = None
        self.lookup = engine.lookup
        self.multi_cmd = engine.commands.get("multi")
        self.exec_cmd = engine.commands.get("exec")

    def run(self, argv: list) -> str | None:
        """Execute one command; returns an error text when it is not a command."""
        cmd = self.lookup.get(argv[0])
        if cmd is not None and cmd.subcommands is None and self.multi is None \
                and cmd is not self.multi_cmd and cmd is not self.exec_cmd:
            arity = cmd.arity
            if arity == len(argv) or (arity < 0 and len(argv) >= -arity):
                # The common case, inlined: a plain command outside MULTI.
                try:
                    cmd.handler(self.client, argv)
                except CommandError:
                    pass
                except Exception:
                    log.exception("Error replaying %s from the AOF", cmd.fullname)
                if cmd.measure_key:
                    self.engine.measure_later(self.client, cmd, argv)
                self.engine.effects = None
                return None
        return self._run_slow(argv)

    def _run_slow(self, argv: list) -> str | None:
        engine = self.engine
        cmd = self.lookup.get(argv[0])
        if cmd is None:
            cmd = engine.find_command(argv[0])
            if cmd is None:
                return "Unknown command '%s'" % argv[0].decode("utf-8", "replace")
        name = cmd.name
        if name == "multi":
            self.multi = []
            return None
        if name == "exec":
            queued, self.multi = self.multi or [], None
            for c, a in queued:
                self._call(c, a)
            return None
        arity = cmd.arity
        if (arity > 0 and len(argv) != arity) or len(argv) < -arity:
            return "Wrong number of arguments for '%s'" % cmd.fullname
        if cmd.subcommands is not None:
            if len(argv) < 2:
                return "Wrong number of arguments for '%s'" % cmd.fullname
            sub = cmd.subcommands.get(argv[1].lower())
            if sub is None:
                return "Unknown subcommand '%s'" % argv[1].decode("utf-8", "replace")
            cmd = sub
            arity = cmd.arity
            if (arity > 0 and len(argv) != arity) or len(argv) < -arity:
                return "Wrong number of arguments for '%s'" % cmd.fullname
        if self.multi is not None:
            self.multi.append((cmd, argv))
            return None
        self._call(cmd, argv)
        return None

    def _call(self, cmd, argv) -> None:
        engine = self.engine
        try:
            cmd.handler(self.client, argv)
        except CommandError:
            pass
        except Exception:
            log.exception("Error replaying %s from the AOF", cmd.fullname)
        if cmd.measure_key:
            engine.measure_later(self.client, cmd, argv)
        engine.effects = None


def replay_aof(engine, data: bytes, filename: str, replayer: CommandReplayer,
               truncate_ok: bool, last_file: bool, start: int = 0, progress_every: int = 0):
    """Replay the RESP commands of one AOF file. A generator yielding the offset
    reached every `progress_every` commands; returns (commands, valid_up_to,
    truncated) -- valid_up_to < len(data) when the end was cut off and
    tolerated. Raises AofLoadError with file and offset otherwise."""
    reader = hiredis.Reader()
    n = len(data)
    count = 0
    every = progress_every or (1 << 62)
    tick = every
    run = replayer.run
    join = b"".join
    # Small feeds: hiredis moves its unread bytes to the front after each reply
    # past the first KB, so a big buffer makes every reply cost a big memmove.
    step = 1 << 16
    fed = start
    slow_from = None
    last = None
    try:
        while fed < n and slow_from is None:
            reader.feed(data, fed, min(step, n - fed))
            fed += min(step, n - fed)
            while True:
                argv = reader.gets()
                if argv is False:
                    break
                if argv.__class__ is not list or not argv:
                    slow_from = count
                    break
                try:
                    join(argv)
                except TypeError:
                    slow_from = count
                    break
                last = argv
                err = run(argv)
                if err is not None:
                    off = command_offsets(data[start:], count) + start
                    raise AofLoadError("%s reading the append only file %s at offset %d"
                                       % (err, filename, off), offset=off)
                count += 1
                if count == tick:
                    tick += every
                    yield fed
        # hiredis cannot say where it stopped: a file that ends exactly with the
        # last command it returned (in the canonical encoding every writer uses)
        # was read completely; anything else is checked by the Python parser.
        if slow_from is None and (n == start or (last is not None and
                                                 data.endswith(encode_command(last)))):
            if replayer.multi is not None:
                slow_from = count           # let the slow path find the MULTI
            else:
                return count, n, False
        if slow_from is None:
            slow_from = count
    except hiredis.ProtocolError:
        slow_from = count
    # Something unusual: annotations, a cut-off end, garbage, an open MULTI. The
    # Python parser takes over where hiredis's last good command ended.
    p = command_offsets(data[start:], slow_from) + start if slow_from else start
    multi_start = None
    if replayer.multi is not None:
        # Commands of the open MULTI were queued but not run; find where it began.
        multi_start = _find_multi_start(data, start, slow_from, len(replayer.multi))
    while True:
        try:
            parsed = parse_command_at(data, p)
        except _Truncated:
            return _truncated(data, filename, p if multi_start is None else multi_start,
                              truncate_ok, last_file, count, replayer)
        except _BadFormat:
            raise AofLoadError("Bad file format reading the append only file %s at offset %d: "
                               "make a backup of your AOF file, then use ./redis-check-aof "
                               "--fix <filename.manifest>" % (filename, p), offset=p) from None
        if parsed is None:
            break
        argv, q = parsed
        if argv[0].lower() == b"multi" and replayer.multi is None:
            multi_start = p
        err = run(argv)
        if err is not None:
            raise AofLoadError("%s reading the append only file %s at offset %d"
                               % (err, filename, p), offset=p)
        if replayer.multi is None:
            multi_start = None
        count += 1
        p = q
    if replayer.multi is not None:
        log.warning("Revert incomplete MULTI/EXEC transaction in AOF file %s", filename)
        return _truncated(data, filename, multi_start, truncate_ok, last_file, count, replayer)
    return count, p, False


def _find_multi_start(data: bytes, start: int, ncommands: int, queued: int) -> int:
    """Offset of the MULTI that opened a transaction with `queued` commands,
    the last of the first `ncommands` commands."""
    return command_offsets(data[start:], ncommands - queued - 1) + start


def _truncated(data, filename, valid_up_to, truncate_ok, last_file, count, replayer):
    replayer.multi = None
    if not last_file:
        raise AofLoadError("Unexpected end of file reading the append only file %s at offset "
                           "%d: it is not the last file of the AOF, so it cannot be truncated "
                           "(fix it with redis-check-aof)" % (filename, valid_up_to),
                           truncated=True, offset=valid_up_to)
    if not truncate_ok:
        raise AofLoadError(
            "Unexpected end of file reading the append only file %s at offset %d (the last "
            "complete command ends there). You can: 1) Make a backup of your AOF file, then use "
            "./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the "
            "'aof-load-truncated' configuration option to yes and restart the server."
            % (filename, valid_up_to), truncated=True, offset=valid_up_to)
    return count, valid_up_to, True


# -- rewriting: the state as commands ------------------------------------------------------------------

def _fmt_score(score: float) -> bytes:
    if score == float("inf"):
        return b"inf"
    if score == float("-inf"):
        return b"-inf"
    return b"%.17g" % score


def _id(sid) -> bytes:
    return b"%d-%d" % (sid[0], sid[1])


def rewrite_commands(dbs, functions=(), save_delay: int = 0):
    """Yield RESP chunks of the minimal commands rebuilding `dbs` (Redis's
    rewriteAppendOnlyFileRio): SET, RPUSH/SADD/ZADD/HMSET in batches of 64,
    streams as XADD + XSETID + XGROUP CREATE ... ENTRIESREAD + XCLAIM ...
    FORCE JUSTID per pending entry (with its owner, delivery time and count)
    + XGROUP CREATECONSUMER for consumers without pending entries, and
    PEXPIREAT for every key with a TTL. `save_delay` is rdb-key-save-delay, the
    testing pause per key that Redis's rewrite honours too (see rdb.debug_delay)."""
    from ..types.collections import Hash, List, Set
    from ..types.sortedset import SortedSet
    from ..types.stream import Stream, StreamID
    enc = encode_command
    out: list[bytes] = []
    size = 0
    for code in functions:
        out.append(enc([b"FUNCTION", b"LOAD", code]))
    for db in dbs:
        if not db.data:
            continue
        out.append(select_command(db.index))
        expires = db.expires
        for key, value in db.data.items():
            if save_delay:
                debug_delay(save_delay)
            cls = value.__class__
            if cls is bytes or cls is bytearray:
                out.append(enc([b"SET", key, value]))
            elif cls is List:
                items = list(value)
                for i in range(0, len(items), AOF_REWRITE_ITEMS_PER_CMD):
                    out.append(enc([b"RPUSH", key] + items[i:i + AOF_REWRITE_ITEMS_PER_CMD]))
            elif cls is Set:
                items = value.members_in_order()
                for i in range(0, len(items), AOF_REWRITE_ITEMS_PER_CMD):
                    out.append(enc([b"SADD", key] + items[i:i + AOF_REWRITE_ITEMS_PER_CMD]))
            elif cls is SortedSet:
                items = value.by_rank(0, len(value) - 1)
                for i in range(0, len(items), AOF_REWRITE_ITEMS_PER_CMD):
                    argv = [b"ZADD", key]
                    for score, member in items[i:i + AOF_REWRITE_ITEMS_PER_CMD]:
                        argv.append(_fmt_score(score))
                        argv.append(member)
                    out.append(enc(argv))
            elif cls is Hash:
                items = list(value.items())
                for i in range(0, len(items), AOF_REWRITE_ITEMS_PER_CMD):
                    argv = [b"HMSET", key]
                    for f, v in items[i:i + AOF_REWRITE_ITEMS_PER_CMD]:
                        argv.append(f)
                        argv.append(v)
                    out.append(enc(argv))
            elif cls is Stream:
                out.extend(_rewrite_stream(key, value, StreamID))
            when = expires.get(key) if expires else None
            if when is not None:
                out.append(enc([b"PEXPIREAT", key, b"%d" % when]))
            if len(out) >= 1024:
                block = b"".join(out)
                out = []
                size += len(block)
                yield block
    yield b"".join(out)


def _rewrite_stream(key: bytes, s, StreamID) -> list[bytes]:
    enc = encode_command
    out = []
    if s.length:
        for sid, fields in s.range():
            out.append(enc([b"XADD", key, _id(sid)] + list(fields)))
    else:
        out.append(enc([b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]))
    out.append(enc([b"XSETID", key, _id(s.last_id), b"ENTRIESADDED", b"%d" % s.entries_added,
                    b"MAXDELETEDID", _id(s.max_deleted_id)]))
    for gname, g in s.groups.items():
        out.append(enc([b"XGROUP", b"CREATE", key, gname, _id(g.last_id), b"ENTRIESREAD",
                        b"%d" % g.entries_read]))
        for cname, c in g.consumers.items():
            if not c.pel:
                out.append(enc([b"XGROUP", b"CREATECONSUMER", key, gname, cname]))
                continue
            for k in c.pel.keys_from():
                nack = c.pel[k]
                out.append(enc([b"XCLAIM", key, gname, cname, b"0", _id(StreamID.from_key(k)),
                                b"TIME", b"%d" % nack.delivery_time,
                                b"RETRYCOUNT", b"%d" % nack.delivery_count,
                                b"JUSTID", b"FORCE"]))
    return out
