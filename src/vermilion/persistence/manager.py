"""Persistence for one engine: loading at startup, the AOF, RDB snapshots, child
processes, save rules, automatic rewrites, INFO persistence, shutdown.

Background work (BGSAVE, BGREWRITEAOF, automatic saves and rewrites) runs in a
forked child, as in Redis: on Linux, fork() gives the child a copy-on-write
snapshot of the whole Python heap at that instant, so the child serializes a
consistent dataset while the parent keeps serving. The price is memory: pages
the parent writes afterwards, and pages the child touches (CPython writes
reference counts when it reads an object), get copied -- in the worst case the
process's memory doubles for the duration. The alternative, iterating in slices
across loop iterations with copy-on-write bookkeeping in every write path, would
slow every command; fork costs nothing until it is used.

Only one child at a time (Redis's rule): a BGREWRITEAOF asked while a BGSAVE
runs is scheduled for when it ends; a BGSAVE during a rewrite is refused unless
SCHEDULE is given.

An AOF rewrite opens a new incr file and records it in the manifest *before*
forking. The child writes the new base from its snapshot; everything written
meanwhile goes to the new incr file. When the child succeeds, the new base is
renamed into place and a manifest naming only the new base and the incr files
opened since is installed atomically; the old files are deleted. A crash at
any moment leaves a manifest that names a complete, consistent set of files.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time

from ..engine.engine import BUSY_LOADING, BUSY_MISCONF
from ..engine.errors import CommandError
from ..engine.replies import ErrorReply
from ..server import oom_score, proctitle
from .aof import (
    AofInfo, AofIO, AofLoadError, AofWriter, CommandReplayer, Manifest, ManifestError,
    ReplyBarrier, replay_aof, rewrite_commands, write_atomically,
)
from .rdb import NEED_MORE, AtomicFile, RdbError, fsync_dir, iter_rdb, load_rdb, write_rdb_file

log = logging.getLogger("vermilion")
NOTICE = 25
# A forked child's {title} in the process title, Redis's names for the same work.
_CHILD_TITLES = {"rdb": "redis-rdb-bgsave", "aof": "redis-aof-rewrite",
                 "repl": "redis-rdb-to-slaves"}

LOADING_ERROR = ErrorReply(b"LOADING Redis is loading the dataset in memory")
# The flag of the commands refused even while a replica serves its old data (async loading).
NO_ASYNC_LOADING = "no_async_loading"
MISCONF_RDB = (b"MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "
               b"persist to disk. Commands that may modify the data set are disabled, because this "
               b"instance is configured to report errors during writes if RDB snapshotting fails "
               b"(stop-writes-on-bgsave-error option). Please check the Redis logs for details "
               b"about the RDB error.")
BGSAVE_RETRY_DELAY = 5          # seconds before retrying a failed automatic BGSAVE
PROGRESS_EVERY = 20000          # keys/commands between two turns of the event loop while loading
# An RDB file (at startup, or a replica's disk-based sync) is loaded in reads of this
# size: the file is never held whole in memory.
FILE_READ = 1 << 16


class StartupError(OSError):
    """Loading failed: the server must not start (runtime.run logs it and exits 1)."""


class Child:
    __slots__ = ("pid", "kind", "start", "rfd", "info", "done", "tmp", "dirty_before",
                 "incr_from", "on_done")

    def __init__(self, pid, kind, rfd):
        self.pid, self.kind, self.rfd = pid, kind, rfd
        self.start = time.time()
        self.info = b""
        self.done = False
        self.tmp = None
        self.dirty_before = 0
        self.incr_from = 0
        # on_done(ok, info): told after the kind's own bookkeeping (replication
        # waits for the RDB it asked for).
        self.on_done = None


class Persistence:
    def __init__(self, engine):
        self.engine = engine
        self.config = engine.config
        engine.persistence = self
        engine.reply_barrier = None
        engine.persistence_info = self.info
        engine.startup_hooks.append(self.startup)
        engine.shutdown_hooks.append(self.shutdown)
        engine.add_cron_task(self.cron)
        # -LOADING and -MISCONF refuse a command before MULTI queues it, as Redis's
        # processCommand does (a refused command aborts the EXEC).
        engine.add_gate_hook(self.gate, first=True)
        hooks = getattr(engine, "flushall_hooks", None)
        if hooks is None:
            hooks = engine.flushall_hooks = []
        hooks.append(self.after_flushall)
        engine.config.listeners.append(self.config_changed)
        # Loading.
        self.loading = False
        # A replica's swapdb load that keeps serving the old data (Redis's async_loading):
        # `loading` is set too, but no -LOADING but for no_async_loading commands.
        self.async_loading = False
        self.loading_start = 0.0
        self.loading_total = 0
        self.loading_loaded = 0
        self.load_keys_loaded = 0
        self.load_keys_expired = 0
        # RDB.
        self.dirty_at_save = 0
        self.rdb_saves = 0
        self.lastbgsave_ok = True
        self.lastbgsave_try = 0.0
        self.last_bgsave_secs = -1
        self.bgsave_scheduled = False
        # AOF.
        self.aof_on = False              # appendonly in force (files open)
        self.aof_wait_rewrite = False    # turned on at runtime: waiting for the first base
        self.manifest: Manifest | None = None
        self.io: AofIO | None = None
        self.writer: AofWriter | None = None
        self.base_size = 0               # size of the base file at the last rewrite/load
        self.incr_sizes = 0              # bytes in incr files other than the current one
        self.aof_rewrites = 0
        self.total_forks = 0             # INFO stats total_forks / latest_fork_usec
        self.fork_usec = 0
        self.aof_rewrite_scheduled = False
        self.aof_last_rewrite_secs = -1
        self.aof_last_rewrite_ok = True
        self.aof_rewrite_failures = 0
        self.aof_rewrite_base_size = 0
        self.aof_write_error: str | None = None
        self.child: Child | None = None
        self.shutdown_saved = False

    # ======================================================================
    # paths
    # ======================================================================

    @property
    def dir(self) -> str:
        return self.config["dir"] or "."

    def rdb_path(self) -> str:
        return os.path.join(self.dir, self.config["dbfilename"])

    def aof_dir(self) -> str:
        return os.path.join(self.dir, self.config["appenddirname"])

    def manifest_path(self) -> str:
        return os.path.join(self.aof_dir(), self.config["appendfilename"] + ".manifest")

    # ======================================================================
    # the gate: LOADING and MISCONF
    # ======================================================================

    def gate(self, client, cmd, args):
        busy = self.engine.busy
        if busy & BUSY_LOADING and not cmd.loading_ok and client.kind not in ("aof", "script"):
            return LOADING_ERROR
        if self.async_loading and (NO_ASYNC_LOADING in cmd.flags or (
                cmd.name == "exec" and client.multi and
                any(NO_ASYNC_LOADING in queued.flags for queued, _ in client.multi))):
            return LOADING_ERROR
        # The master's stream is applied whatever the disk does (Redis obeys its master:
        # replica-ignore-disk-write-errors yes; with no, Redis aborts instead).
        if busy & BUSY_MISCONF and (cmd.is_write or cmd.name == "ping") and \
                client.kind not in ("aof", "master"):
            return ErrorReply(self.misconf_message())
        return None

    def misconf_message(self) -> bytes:
        if self.rdb_write_blocked():
            return MISCONF_RDB
        return b"MISCONF Errors writing to the AOF file: " + \
            (self.aof_write_error or "unknown error").encode()

    def rdb_write_blocked(self) -> bool:
        return bool(self.config["stop-writes-on-bgsave-error"] and self.config["save"]
                    and not self.lastbgsave_ok)

    def update_misconf(self) -> None:
        engine = self.engine
        if self.rdb_write_blocked() or (self.aof_on and self.aof_write_error is not None):
            engine.busy |= BUSY_MISCONF
        else:
            engine.busy &= ~BUSY_MISCONF

    # ======================================================================
    # startup
    # ======================================================================

    async def startup(self, engine) -> None:
        self.loading = True
        self.loading_start = time.time()
        engine.busy |= BUSY_LOADING
        try:
            if self.config["appendonly"]:
                await self._startup_aof()
            else:
                await self._startup_rdb()
        finally:
            engine.busy &= ~BUSY_LOADING
            self.loading = False
        self.dirty_at_save = engine.dirty

    async def _startup_rdb(self) -> bool:
        path = self.rdb_path()
        if not os.path.exists(path):
            return False
        start = time.time()
        try:
            fh = open(path, "rb")
        except OSError as err:
            raise StartupError(f"Fatal error loading the DB: {err.strerror}. Exiting.") from None

        async def source() -> bytes:
            return fh.read(FILE_READ)

        # A replica keeps keys whose time has passed: only its primary deletes them.
        as_replica = bool(self.config["replicaof"])
        try:
            with fh:
                total = os.fstat(fh.fileno()).st_size
                data = fh.read(FILE_READ)
                log.log(NOTICE, "Loading RDB produced by version %s", self._rdb_version_of(data))
                result = await self._drive(load_rdb(data, config_values=self.config.values,
                                                    now_ms=self.engine.clock.ms(),
                                                    check_crc=self.config["rdbchecksum"],
                                                    keep_expired=as_replica,
                                                    progress_every=PROGRESS_EVERY,
                                                    streaming=True), total, source)
        except OSError as err:
            raise StartupError(f"Fatal error loading the DB: {err.strerror}. Exiting.") from None
        except RdbError as err:
            raise StartupError(f"Fatal error loading the DB ({path}, offset {err.offset}): {err}. "
                               "Exiting.") from None
        self.install(result)
        self.engine.replication.restore(result.aux, result.expired_keys, as_replica,
                                        self.engine.clock.ms())
        log.log(NOTICE, "Done loading RDB, keys loaded: %d, keys expired: %d.",
                result.keys_loaded, result.keys_expired)
        log.log(NOTICE, "DB loaded from disk: %.3f seconds", time.time() - start)
        return True

    @staticmethod
    def _rdb_version_of(data: bytes) -> str:
        i = data.find(b"redis-ver", 0, 200)
        if i < 0:
            return "unknown"
        n = data[i + 9]
        return data[i + 10:i + 10 + n].decode("ascii", "replace") if n < 64 else "unknown"

    async def _drive(self, gen, total: int, source=None):
        """Run a loading generator, letting the event loop answer -LOADING between steps.
        A streaming loader's requests for more bytes are awaited from `source`."""
        self.loading_total = total
        self.loading_loaded = 0
        sent = None
        while True:
            try:
                step = gen.send(sent)
            except StopIteration as stop:
                self.loading_loaded = total
                return stop.value
            if step == NEED_MORE:
                sent = await source()
                continue
            sent = None
            self.loading_loaded = step
            await asyncio.sleep(0)

    def install(self, result) -> None:
        """Put a loaded RDB dataset (rdb.Loaded) into the engine's databases."""
        engine = self.engine
        for index, (data, expires) in result.dbs.items():
            if index >= len(engine.dbs):
                if data:
                    raise RdbError("FATAL: Data file was created with a Redis server configured "
                                   "to handle more than %d databases. Exiting" % len(engine.dbs))
                continue
            db = engine.dbs[index]
            db.load(data, expires)
            access = result.access.get(index)
            if access and db.track:
                now = engine.clock.ms()
                for key, (kind, v) in access.items():
                    if kind == "idle":
                        db.access[key] = now - v * 1000
                    else:
                        db.access[key] = ((now // 60000) & 0xFFFF) << 8 | v
        self.load_functions(result.functions)
        self.load_keys_loaded = result.keys_loaded
        self.load_keys_expired = result.keys_expired

    async def load_replica_payload(self, payload: bytes, swap: bool = False, source=None,
                                   total: int = 0, serve_old: bool = False):
        """A master's full synchronisation: the old dataset (functions too) is
        replaced by the master's RDB, loaded while other clients get -LOADING.
        Keys already expired stay: the master's DELs remove them. Returns the
        `rdb.Loaded` (its aux fields name the database the stream has selected).
        With `swap` (repl-diskless-load swapdb) the old dataset is dropped only once
        the new one has been read: a payload that fails to load leaves it as it was,
        as Redis restores its backup of the databases. With `serve_old` too (the
        master continues the history our data belongs to) clients go on reading the
        old dataset meanwhile, as Redis 7.0's async loading: only `no_async_loading`
        commands get -LOADING.

        With `source` (disk-less load from the socket) `payload` is only the start of
        the RDB and ``await source()`` returns the next bytes, b"" after the last:
        the file is parsed as it arrives (`total` bytes, 0 if unknown, as Redis shows a
        load from the socket)."""
        engine = self.engine
        serve_old = serve_old and swap
        self.loading = True
        self.async_loading = serve_old
        self.loading_start = time.time()
        if not serve_old:
            engine.busy |= BUSY_LOADING
        try:
            if not swap:
                self._drop_dataset()
            # With key-load-delay (a debugging aid) every key is slow: serve between keys.
            every = 1 if self.config["key-load-delay"] else PROGRESS_EVERY
            result = await self._drive(load_rdb(payload, config_values=self.config.values,
                                                now_ms=engine.clock.ms(), keep_expired=True,
                                                check_crc=self.config["rdbchecksum"],
                                                progress_every=every,
                                                streaming=source is not None),
                                       len(payload) if source is None else total, source)
            if swap:
                self._drop_dataset()
            self.install(result)
        finally:
            engine.busy &= ~BUSY_LOADING
            self.loading = self.async_loading = False
        log.log(NOTICE, "Done loading RDB, keys loaded: %d, keys expired: %d.",
                result.keys_loaded, result.keys_expired)
        if self.aof_on:
            # The AOF must describe the new dataset: rewrite it (Redis restarts the AOF).
            self.start_rewrite()
        return result

    def _drop_dataset(self) -> None:
        engine = self.engine
        with engine.tracking.flush():
            for db in engine.dbs:
                db.clear()
        scripts = getattr(engine, "scripts", None)
        if scripts is not None:
            scripts.libraries.clear()
            scripts.functions.clear()

    def open_sync_file(self) -> AtomicFile:
        """A replica's disk-based load (repl-diskless-load disabled, or on-empty-db with
        keys): the master's RDB is written as it arrives to temp-<time>.<pid>.rdb in
        `dir` (Redis's name), so only one read of it is ever held in memory; then
        `install_sync_file` makes it `dbfilename` and the load reads it from there."""
        return AtomicFile(self.rdb_path(), os.path.join(
            self.dir, "temp-%d.%d.rdb" % (int(time.time()), os.getpid())))

    def install_sync_file(self, received: AtomicFile) -> None:
        """The transfer is complete: the file becomes `dbfilename` before it is loaded,
        as in Redis, so the file on disk is the replica's dataset (and its history: the
        snapshot carries the master's repl-id/repl-offset). A running BGSAVE is killed
        first, so it cannot overwrite the file with the old data."""
        if self.child is not None and self.child.kind == "rdb":
            log.log(NOTICE, "Replica is about to load the RDB file received from the master, but "
                    "there is a pending RDB child running. Killing process %d and removing its "
                    "temp file to avoid any race", self.child.pid)
            tmp = self.child.tmp
            self.kill_child()
            _unlink(tmp)
        received.commit()

    def delete_sync_file(self) -> None:
        """rdb-del-sync-files: with persistence off, the RDB a replica received is not kept."""
        if self.config["rdb-del-sync-files"] and not self.config["save"] and not self.aof_on:
            _unlink(self.rdb_path())

    def load_functions(self, codes) -> None:
        if not codes:
            return
        scripts = getattr(self.engine, "scripts", None)
        if scripts is None:
            log.warning("The RDB holds functions but scripting is not available: skipped")
            return
        from ..scripting.functions import load_library
        for code in codes:
            try:
                load_library(scripts, code, True)
            except CommandError as err:
                raise RdbError("Failed loading library: %s" % err.message.decode("utf-8", "replace"))

    def function_codes(self) -> list[bytes]:
        scripts = getattr(self.engine, "scripts", None)
        if scripts is None:
            return []
        return [lib.code for lib in scripts.libraries.values()]

    # -- AOF at startup ----------------------------------------------------------------

    async def _startup_aof(self) -> None:
        directory = self.aof_dir()
        mpath = self.manifest_path()
        legacy = os.path.join(self.dir, self.config["appendfilename"])
        if not os.path.exists(mpath) and os.path.isfile(legacy):
            self._upgrade_legacy(legacy)
        if os.path.exists(mpath):
            try:
                with open(mpath, "rb") as fh:
                    self.manifest = Manifest.parse(fh.read())
            except (OSError, ManifestError) as err:
                raise StartupError(f"Fatal error: can't read the AOF manifest {mpath}: {err}") from None
            await self._load_aof_files()
            self._open_aof_existing()
            return
        # No AOF yet: start from the RDB if there is one, then write the first base.
        loaded = await self._startup_rdb()
        os.makedirs(directory, exist_ok=True)
        self._create_aof_sync()
        if loaded:
            log.log(NOTICE, "Creating AOF base file %s on server start", self.manifest.base.name)

    def _upgrade_legacy(self, legacy: str) -> None:
        """A pre-7.0 single-file AOF becomes the base of a multi-part AOF (Redis's upgrade)."""
        directory = self.aof_dir()
        os.makedirs(directory, exist_ok=True)
        name = self.config["appendfilename"]
        os.replace(legacy, os.path.join(directory, name))
        m = Manifest()
        m.base = AofInfo(name, 1, "b")
        m.base_seq = 1
        write_atomically(self.manifest_path(), m.text().encode())
        fsync_dir(self.dir)
        log.log(NOTICE, "Successfully migrated an old-style AOF into the AOF directory")

    async def _load_aof_files(self) -> None:
        for _ in self.load_aof_steps():
            await asyncio.sleep(0)

    def reread_manifest(self) -> bool:
        """With appendonly off, the manifest an earlier AOF left on disk (DEBUG LOADAOF)."""
        try:
            with open(self.manifest_path(), "rb") as fh:
                self.manifest = Manifest.parse(fh.read())
        except (OSError, ManifestError):
            return False
        return True

    def load_aof_all(self) -> None:
        """Load the AOF without serving anyone meanwhile (DEBUG LOADAOF)."""
        for _ in self.load_aof_steps():
            pass

    def load_aof_steps(self):
        """Replay the base and incr files named by the manifest; a generator
        that yields between chunks of work (the loading progress is in
        loading_loaded / loading_total)."""
        m = self.manifest
        files = ([m.base] if m.base is not None else []) + m.incrs
        directory = self.aof_dir()
        total = 0
        for info in files:
            try:
                total += os.path.getsize(os.path.join(directory, info.name))
            except OSError:
                pass
        self.loading_total = total
        done_bytes = 0
        start = time.time()
        commands = 0
        for i, info in enumerate(files):
            replayer = CommandReplayer(self.engine)     # a fresh client per file, as Redis
            path = os.path.join(directory, info.name)
            last = i == len(files) - 1
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except FileNotFoundError:
                raise StartupError(f"Fatal error: the AOF file {path} named in the manifest "
                                   "does not exist") from None
            except OSError as err:
                raise StartupError(f"Fatal error: can't open the append-only file {path}: "
                                   f"{err.strerror}") from None
            if not data:
                continue
            if data.startswith(b"REDIS"):
                if info.type != "b":
                    raise StartupError(f"Fatal error: the incr AOF file {path} holds an RDB")
                gen = load_rdb(data, config_values=self.config.values, now_ms=self.engine.clock.ms(),
                               check_crc=self.config["rdbchecksum"], keep_expired=True,
                               progress_every=PROGRESS_EVERY)
                try:
                    while True:
                        try:
                            self.loading_loaded = done_bytes + next(gen)
                        except StopIteration as stop:
                            result = stop.value
                            break
                        yield
                except RdbError as err:
                    raise StartupError(f"Fatal error loading the RDB preamble of the AOF file "
                                       f"{path} (offset {err.offset}): {err}") from None
                self.install(result)
                done_bytes += len(data)
                continue
            try:
                gen = replay_aof(self.engine, data, info.name, replayer,
                                 truncate_ok=self.config["aof-load-truncated"], last_file=last,
                                 progress_every=PROGRESS_EVERY)
                while True:
                    try:
                        off = next(gen)
                    except StopIteration as stop:
                        n, valid, truncated = stop.value
                        break
                    self.loading_loaded = done_bytes + off
                    yield
            except AofLoadError as err:
                raise StartupError(str(err)) from None
            commands += n
            if truncated:
                log.warning("!!! Warning: short read while loading the AOF file %s!!!", info.name)
                log.warning("!!! Truncating the AOF %s at offset %d !!!", info.name, valid)
                try:
                    os.truncate(path, valid)
                except OSError as err:
                    raise StartupError(f"Error truncating the AOF file {path}: {err.strerror}") from None
                log.warning("AOF %s loaded anyway because aof-load-truncated is enabled", info.name)
            done_bytes += len(data)
        self.engine.effects = None
        log.log(NOTICE, "DB loaded from append only file: %.3f seconds (%d commands replayed)",
                time.time() - start, commands)

    def _open_aof_existing(self) -> None:
        """After loading: append to the last incr file (creating one if there is none)."""
        m = self.manifest
        directory = self.aof_dir()
        self.base_size = _size(os.path.join(directory, m.base.name)) if m.base else 0
        if not m.incrs:
            m = m.copy()
            m.incr_seq += 1
            m.incrs.append(AofInfo(self._incr_name(m.incr_seq), m.incr_seq, "i"))
            fd = self._open_append(m.incrs[-1].name)
            write_atomically(self.manifest_path(), m.text().encode())
            self.manifest = m
        else:
            fd = self._open_append(m.incrs[-1].name)
        self.incr_sizes = sum(_size(os.path.join(directory, i.name)) for i in m.incrs[:-1])
        self._start_writer(fd)
        self.writer.file_bytes = _size(os.path.join(directory, m.incrs[-1].name))
        self.aof_rewrite_base_size = self.aof_current_size()

    def _create_aof_sync(self) -> None:
        """Write a first base from the current data, in this process (startup)."""
        directory = self.aof_dir()
        m = Manifest()
        m.base_seq = 1
        m.base = AofInfo(self._base_name(1), 1, "b")
        m.incr_seq = 1
        m.incrs = [AofInfo(self._incr_name(1), 1, "i")]
        base_path = os.path.join(directory, m.base.name)
        tmp = os.path.join(directory, "temp-rewriteaof-%d.aof" % os.getpid())
        write_rdb_file(base_path, self._base_chunks(), tmp=tmp)
        fd = self._open_append(m.incrs[0].name, truncate=True)
        write_atomically(self.manifest_path(), m.text().encode())
        fsync_dir(self.dir)
        self.manifest = m
        self.base_size = _size(base_path)
        self.incr_sizes = 0
        self._start_writer(fd)
        self.aof_rewrite_base_size = self.aof_current_size()

    def _base_name(self, seq: int) -> str:
        ext = ".rdb" if self.config["aof-use-rdb-preamble"] else ".aof"
        return f"{self.config['appendfilename']}.{seq}.base{ext}"

    def _incr_name(self, seq: int) -> str:
        return f"{self.config['appendfilename']}.{seq}.incr.aof"

    def _open_append(self, name: str, truncate: bool = False) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        if truncate:
            flags |= os.O_TRUNC
        return os.open(os.path.join(self.aof_dir(), name), flags, 0o644)

    def _base_chunks(self):
        engine = self.engine
        if self.config["aof-use-rdb-preamble"]:
            return iter_rdb(engine.dbs, functions=self.function_codes(), aof_base=True,
                            config_values=self.config.values, now_ms=engine.clock.ms(),
                            checksum=self.config["rdbchecksum"])
        return rewrite_commands(engine.dbs, self.function_codes(),
                                save_delay=self.config["rdb-key-save-delay"])

    def _start_writer(self, fd: int) -> None:
        engine = self.engine
        loop = engine.loop or asyncio.get_event_loop()
        if self.io is None:
            self.io = AofIO(loop)
        policy = self.config["appendfsync"]
        barrier = ReplyBarrier() if policy == "always" else None
        self.writer = AofWriter(loop, fd, policy, self.io, barrier)
        self.writer.on_error = self._aof_write_failed
        self.writer.on_latency = self._latency_sample
        engine.reply_barrier = barrier
        if self.writer.feed not in engine.sinks:
            engine.sinks.append(self.writer.feed)
        self.aof_on = True

    def _stop_writer(self) -> None:
        engine = self.engine
        w = self.writer
        if w is None:
            return
        try:
            w.sync_now()
        except OSError:
            pass
        if w.barrier is not None:
            w.barrier.release(w.barrier.appended)
        engine.reply_barrier = None
        if w.feed in engine.sinks:
            engine.sinks.remove(w.feed)
        try:
            os.close(w.fd)
        except OSError:
            pass
        self.writer = None
        self.aof_on = False
        self.aof_wait_rewrite = False

    def _aof_write_failed(self, err: OSError) -> None:
        self.aof_write_error = err.strerror or str(err)
        w = self.writer
        if w is not None and w.policy == "always":
            # As Redis: with fsync always a write error cannot be recovered from,
            # since acknowledged writes would be lost. Held replies are dropped.
            log.warning("Can't recover from AOF write error when the AOF fsync policy is "
                        "'always'. Exiting...")
            if w.barrier is not None:
                w.barrier.drop_all()
            server = self.engine.server
            if server is not None:
                server.request_shutdown("AOF write error with appendfsync always")
        self.update_misconf()

    def aof_current_size(self) -> int:
        w = self.writer
        return self.base_size + self.incr_sizes + (w.file_bytes if w is not None else 0)

    # ======================================================================
    # config changes
    # ======================================================================

    def config_changed(self, changed=None) -> None:
        if changed is None or self.engine.loop is None or self.loading:
            return
        if "appendonly" in changed:
            if self.config["appendonly"] and not self.aof_on and not self.aof_wait_rewrite:
                self.start_aof_runtime()
            elif not self.config["appendonly"] and (self.aof_on or self.aof_wait_rewrite):
                self.stop_aof_runtime()
        if "appendfsync" in changed and self.writer is not None:
            self._set_policy(self.config["appendfsync"])
        if changed & {"save", "stop-writes-on-bgsave-error"}:
            self.update_misconf()

    def _set_policy(self, policy: str) -> None:
        w = self.writer
        if w.policy == policy:
            return
        w.sync_now()
        if w.barrier is not None:
            w.barrier.release(w.barrier.appended)
        w.policy = policy
        w.in_flight = False
        w.barrier = ReplyBarrier() if policy == "always" else None
        self.engine.reply_barrier = w.barrier

    def start_aof_runtime(self) -> None:
        """CONFIG SET appendonly yes: write a base in a child; append meanwhile."""
        log.log(NOTICE, "AOF enabled: starting a rewrite to write its base")
        self._adopt_manifest()
        self.aof_wait_rewrite = True
        if self.child is not None or self.engine.in_exec:
            # (Inside EXEC nothing forks: the rewrite starts after it, from the cron.)
            log.log(NOTICE, "AOF was enabled but there is already another background "
                    "operation. An AOF background was scheduled to start when possible.")
            self.aof_rewrite_scheduled = True
            return
        if not self.start_rewrite():
            self.aof_wait_rewrite = False
            self.config.values["appendonly"] = False

    def _adopt_manifest(self) -> None:
        """Continue the sequence numbers of an AOF left by an earlier run, so its files
        are replaced and deleted rather than left behind."""
        if self.manifest is None and os.path.exists(self.manifest_path()):
            try:
                with open(self.manifest_path(), "rb") as fh:
                    self.manifest = Manifest.parse(fh.read())
            except (OSError, ManifestError):
                self.manifest = None

    def stop_aof_runtime(self) -> None:
        log.log(NOTICE, "Killing running AOF rewrite child" if self.child and self.child.kind == "aof"
                else "AOF disabled")
        if self.child is not None and self.child.kind == "aof":
            self.kill_child()
        self._stop_writer()
        self.aof_rewrite_scheduled = False
        self.update_misconf()

    # ======================================================================
    # children
    # ======================================================================

    def _latency_sample(self, event: str, ms: int) -> None:
        """The latency monitor's persistence events (fork, aof-write, aof-fsync-always),
        sampled as Redis does: when they take latency-monitor-threshold or more."""
        engine = self.engine
        if 0 < engine.latency_ms <= ms:
            engine.latency.add(event, ms)

    def fork(self, kind: str, work, keep_fd: int = -1) -> Child | None:
        """Run `work()` in a forked child; it returns a dict reported back on success.

        `keep_fd` stays open in the child (the pipe a diskless replication RDB goes to).
        """
        if not hasattr(os, "fork"):
            return None
        rfd, wfd = os.pipe()
        start = time.perf_counter()
        try:
            pid = os.fork()
        except OSError as err:
            os.close(rfd)
            os.close(wfd)
            log.warning("Can't fork: %s", err.strerror)
            return None
        if pid == 0:                                  # -- the child ------------------------
            code = 1
            try:
                _child_setup(wfd, keep_fd)
                oom_score.in_child()
                proctitle.in_child(_CHILD_TITLES[kind])
                result = work() or {}
                os.write(wfd, json.dumps(result).encode())
                code = 0
            except BaseException as err:             # noqa: BLE001 - report anything
                try:
                    os.write(wfd, json.dumps({"error": repr(err)}).encode())
                except BaseException:
                    pass
            os._exit(code)
        os.close(wfd)                                 # -- the parent -----------------------
        child = Child(pid, kind, rfd)
        self.fork_usec = int((time.perf_counter() - start) * 1e6)
        self.total_forks += 1
        self._latency_sample("fork", self.fork_usec // 1000)
        self.child = child
        os.set_blocking(rfd, False)
        loop = self.engine.loop
        if loop is not None:
            loop.add_reader(rfd, self._child_readable, child)
        return child

    def _child_readable(self, child: Child) -> None:
        try:
            chunk = os.read(child.rfd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            child.info += chunk
            return
        self.engine.loop.remove_reader(child.rfd)
        os.close(child.rfd)
        child.rfd = -1
        self._reap(child, block=False)

    def _reap(self, child: Child, block: bool) -> None:
        if child.done:
            return
        try:
            pid, status = os.waitpid(child.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            pid, status = child.pid, 0
        if pid == 0:
            return                                     # not yet: the cron retries
        child.done = True
        if child.rfd >= 0:
            if self.engine.loop is not None:
                self.engine.loop.remove_reader(child.rfd)
            try:
                child.info += os.read(child.rfd, 65536)
            except OSError:
                pass
            os.close(child.rfd)
            child.rfd = -1
        if self.child is child:
            self.child = None
        signaled = os.WIFSIGNALED(status)
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
        try:
            info = json.loads(child.info or b"{}")
        except ValueError:
            info = {}
        ok = not signaled and code == 0
        if child.kind == "rdb":
            self._bgsave_done(child, ok, signaled and os.WTERMSIG(status), info)
        elif child.kind == "aof":
            self._rewrite_done(child, ok, signaled and os.WTERMSIG(status), info)
        if child.on_done is not None:
            child.on_done(ok, info)
        self._run_scheduled()

    def kill_child(self) -> None:
        child = self.child
        if child is None:
            return
        try:
            os.kill(child.pid, signal.SIGUSR1)
        except ProcessLookupError:
            pass
        self._reap(child, block=True)

    def _run_scheduled(self) -> None:
        if self.child is not None:
            return
        if self.aof_rewrite_scheduled:
            self.aof_rewrite_scheduled = False
            if not self.start_rewrite():
                self.aof_rewrite_scheduled = True
        elif self.bgsave_scheduled:
            self.bgsave_scheduled = False
            self.bgsave()

    # ======================================================================
    # RDB
    # ======================================================================

    def rdb_chunks(self, data: bool = True, functions: bool = True, repl_info=None):
        """The RDB of the dataset; without `data` no keys, without `functions` no
        libraries (what a replica's REPLCONF rdb-filter-only asks for); `repl_info`
        see iter_rdb."""
        engine = self.engine
        policy = self.config["maxmemory-policy"]
        lru_mode = 2 if "lfu" in policy else 1 if "lru" in policy else 0
        from ..engine.memory import rss_bytes
        return iter_rdb(engine.dbs if data else (),
                        functions=self.function_codes() if functions else (),
                        config_values=self.config.values, used_mem=rss_bytes(),
                        lru_mode=lru_mode, now_ms=engine.clock.ms(),
                        checksum=self.config["rdbchecksum"], repl_info=repl_info)

    def save(self) -> bool:
        """SAVE: write the RDB in this process (blocking, as Redis)."""
        path = self.rdb_path()
        dirty = self.engine.dirty
        try:
            write_rdb_file(path, self.rdb_chunks(repl_info=self.engine.replication.save_info()),
                           tmp=os.path.join(self.dir, "temp-%d.rdb" % os.getpid()))
        except OSError as err:
            log.warning("Failed opening the temp RDB file %s (in server root dir %s) for saving: %s",
                        "temp-%d.rdb" % os.getpid(), os.path.abspath(self.dir), err.strerror)
            # Unlike a failed BGSAVE, a failed foreground save leaves the last background
            # save's status (and so MISCONF) alone, as Redis's rdbSave.
            return False
        log.log(NOTICE, "DB saved on disk")
        self.dirty_at_save = dirty
        self.engine.lastsave = int(time.time())
        self.lastbgsave_ok = True
        self.rdb_saves += 1
        self.update_misconf()
        return True

    def bgsave(self, repl_info=None) -> bool:
        if self.child is not None:
            return False
        if repl_info is None:
            repl_info = self.engine.replication.save_info()
        path = self.rdb_path()
        directory = self.dir
        self.lastbgsave_try = time.time()
        chunks = self.rdb_chunks

        def work():
            n = write_rdb_file(path, chunks(repl_info=repl_info),
                               tmp=os.path.join(directory, "temp-%d.rdb" % os.getpid()))
            return {"bytes": n}

        child = self.fork("rdb", work)
        if child is None:
            self.lastbgsave_ok = False
            self.update_misconf()
            return False
        child.dirty_before = self.engine.dirty
        child.tmp = os.path.join(directory, "temp-%d.rdb" % child.pid)
        log.log(NOTICE, "Background saving started by pid %d", child.pid)
        return True

    def _bgsave_done(self, child: Child, ok: bool, sig, info: dict) -> None:
        self.last_bgsave_secs = int(time.time() - child.start)
        if ok:
            log.log(NOTICE, "Background saving terminated with success")
            self.dirty_at_save = max(self.dirty_at_save, child.dirty_before)
            self.engine.lastsave = int(time.time())
            self.lastbgsave_ok = True
            self.rdb_saves += 1
        else:
            if sig:
                log.warning("Background saving terminated by signal %d", sig)
            else:
                log.warning("Background saving error%s",
                            (": " + info["error"]) if "error" in info else "")
            if sig != signal.SIGUSR1:
                self.lastbgsave_ok = False
            if child.tmp:
                _unlink(child.tmp)
        self.update_misconf()

    def after_flushall(self) -> None:
        """FLUSHALL: kill a running BGSAVE, and save the (empty) dataset when save
        rules are configured, so a restart does not bring the keys back (Redis)."""
        if self.child is not None and self.child.kind == "rdb":
            self.kill_child()
        if self.config["save"]:
            self.save()

    # ======================================================================
    # AOF rewrite
    # ======================================================================

    def start_rewrite(self) -> bool:
        """BGREWRITEAOF: new incr file, fork a child to write the new base."""
        if self.child is not None:
            return False
        directory = self.aof_dir()
        os.makedirs(directory, exist_ok=True)
        w = self.writer
        if not self.aof_on and not self.aof_wait_rewrite:
            # The AOF is off: Redis rewrites all the same, into a new base file alone.
            self._adopt_manifest()
            incr_from = None
        elif self.aof_on and w is not None:
            # Everything before the fork goes to the old incr file.
            w.flush(force=True)
            m = self.manifest.copy()
            m.incr_seq += 1
            info = AofInfo(self._incr_name(m.incr_seq), m.incr_seq, "i")
            m.incrs.append(info)
            try:
                fd = self._open_append(info.name, truncate=True)
                write_atomically(self.manifest_path(), m.text().encode())
            except OSError as err:
                log.warning("Can't open new incr AOF for rewrite: %s", err.strerror)
                return False
            self.manifest = m
            self.incr_sizes += w.file_bytes
            old = w.switch(fd)
            self.io.submit(("close", old, None))
            incr_from = m.incr_seq
        else:
            # Turning the AOF on: appends go to a temporary incr file until the
            # first base exists; the manifest is written when the child is done.
            # (A retry after a failed first rewrite starts that file over: the
            # new child's snapshot holds everything written to it so far.)
            self._stop_writer()
            self.aof_wait_rewrite = True
            tmp_incr = "temp-" + self.config["appendfilename"] + ".incr"
            try:
                fd = self._open_append(tmp_incr, truncate=True)
            except OSError as err:
                log.warning("Can't open the temp incr AOF: %s", err.strerror)
                return False
            self._start_writer(fd)
            self.aof_on = False                 # not "on" until the base exists
            self.aof_wait_rewrite = True
            incr_from = -1
        tmp = os.path.join(directory, "temp-rewriteaof-bg-%d.aof")
        base_chunks = self._base_chunks

        def work():
            path = tmp % os.getpid()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            n = 0
            try:
                for block in base_chunks():
                    view = memoryview(block)
                    while view:
                        view = view[os.write(fd, view):]
                    n += len(block)
                os.fsync(fd)
            finally:
                os.close(fd)
            return {"bytes": n}

        child = self.fork("aof", work)
        if child is None:
            self.aof_last_rewrite_ok = False
            self.aof_rewrite_failures += 1
            return False
        child.tmp = tmp % child.pid
        child.incr_from = incr_from
        log.log(NOTICE, "Background append only file rewriting started by pid %d", child.pid)
        return True

    def _rewrite_done(self, child: Child, ok: bool, sig, info: dict) -> None:
        self.aof_last_rewrite_secs = int(time.time() - child.start)
        if ok and (child.incr_from is None or
                   ((self.aof_on or self.aof_wait_rewrite) and self.writer is not None)):
            try:
                self._install_rewrite(child)
            except OSError as err:
                log.warning("Error installing the rewritten AOF: %s", err.strerror)
                ok = False
        if ok:
            self.aof_rewrites += 1
            self.aof_last_rewrite_ok = True
            self.aof_rewrite_failures = 0
            log.log(NOTICE, "Background AOF rewrite finished successfully")
            return
        _unlink(child.tmp)
        if sig:
            log.warning("Background AOF rewrite terminated by signal %d", sig)
        else:
            log.warning("Background AOF rewrite failed%s",
                        (": " + info["error"]) if "error" in info else "")
        if sig != signal.SIGUSR1:
            self.aof_last_rewrite_ok = False
            self.aof_rewrite_failures += 1
            if self.aof_wait_rewrite:
                self.aof_rewrite_scheduled = True      # the cron retries

    def _install_rewrite(self, child: Child) -> None:
        directory = self.aof_dir()
        old = self.manifest
        m = old.copy() if old is not None else Manifest()
        m.base_seq += 1
        m.base = AofInfo(self._base_name(m.base_seq), m.base_seq, "b")
        os.replace(child.tmp, os.path.join(directory, m.base.name))
        w = self.writer
        if child.incr_from is None:
            # Rewritten with the AOF off: the base is the whole AOF; earlier incr files
            # are history (Redis's markRewrittenIncrAofAsHistory with no AOF open).
            obsolete = ([old.base] if old is not None and old.base is not None else []) + \
                (list(old.incrs) if old is not None else [])
            m.incrs = []
        elif self.aof_wait_rewrite:
            # The temp incr file has received everything written since the fork.
            w.flush(force=True)
            m.incr_seq += 1
            name = self._incr_name(m.incr_seq)
            os.replace(os.path.join(directory, "temp-" + self.config["appendfilename"] + ".incr"),
                       os.path.join(directory, name))
            m.incrs = [AofInfo(name, m.incr_seq, "i")]
            # Files of an earlier AOF (turned off, then on again) are obsolete.
            obsolete = ([old.base] if old is not None and old.base is not None else []) + \
                (list(old.incrs) if old is not None else [])
            obsolete = [i for i in obsolete if i.name != name]
        else:
            obsolete = [old.base] if old.base is not None else []
            obsolete += [i for i in m.incrs if i.seq < child.incr_from]
            m.incrs = [i for i in m.incrs if i.seq >= child.incr_from]
        m.history = []
        fsync_dir(directory)
        write_atomically(self.manifest_path(), m.text().encode())
        self.manifest = m
        for info in obsolete:
            _unlink(os.path.join(directory, info.name))
        self.base_size = _size(os.path.join(directory, m.base.name))
        self.incr_sizes = sum(_size(os.path.join(directory, i.name)) for i in m.incrs[:-1])
        if self.aof_wait_rewrite:
            self.aof_wait_rewrite = False
            self.aof_on = True
        self.aof_rewrite_base_size = self.aof_current_size()

    # ======================================================================
    # cron, shutdown
    # ======================================================================

    def cron(self, now_ms: int) -> None:
        if self.loading:
            return
        w = self.writer
        if w is not None:
            if w.buf and not w.scheduled:
                w.flush()
            if w.policy == "everysec":
                w.maybe_fsync()
            if self.aof_write_error is not None and w.last_write_error is None:
                self.aof_write_error = None
                self.update_misconf()
        child = self.child
        if child is not None:
            if not child.done:
                self._reap(child, block=False)
            return
        self._run_scheduled()
        if self.child is not None:
            return
        now = time.time()
        dirty = self.engine.dirty - self.dirty_at_save
        for seconds, changes in self.config["save"]:
            if dirty >= changes and now - self.engine.lastsave > seconds and \
                    (now - self.lastbgsave_try > BGSAVE_RETRY_DELAY or self.lastbgsave_ok):
                log.log(NOTICE, "%d changes in %d seconds. Saving...", changes, seconds)
                self.bgsave()
                return
        if self.aof_on and self.aof_wait_rewrite is False:
            perc = self.config["auto-aof-rewrite-percentage"]
            size = self.aof_current_size()
            if perc and size > self.config["auto-aof-rewrite-min-size"]:
                base = self.aof_rewrite_base_size or 1
                growth = size * 100 // base - 100
                if growth >= perc:
                    log.log(NOTICE, "Starting automatic rewriting of AOF on %d%% growth", growth)
                    self.start_rewrite()

    def prepare_shutdown(self, save: bool | None, force: bool) -> bool:
        """Redis's prepareForShutdown, persistence part: stop a child (its temp file
        goes too), then write the final RDB when asked (SAVE) or when save points are
        configured, unless NOSAVE (`save` False). False if that save failed and
        FORCE was not given: the server does not exit."""
        if self.child is not None:
            kind = self.child.kind
            log.warning("There is a child %s. Killing it!",
                        "saving an .rdb" if kind == "rdb" else "rewriting the AOF")
            tmp = self.child.tmp
            self.kill_child()
            _unlink(tmp)
        if save is False or self.shutdown_saved:
            return True
        if save or self.config["save"]:
            hook = self.engine.replication.before_final_save
            if hook is not None:
                hook()
            log.log(NOTICE, "Saving the final RDB snapshot before exiting.")
            # A second SIGINT/SIGTERM during this save means "exit now" (Redis does it
            # from its signal handler): the save runs in the event loop, so Python-level
            # handlers stand in for the loop's until it is done.
            import signal
            tmp = os.path.join(self.dir, "temp-%d.rdb" % os.getpid())

            def insist(signum, frame):
                log.warning("You insist on shutting down. Exiting now.")
                _unlink(tmp)
                os._exit(1)

            saved = {}
            try:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    try:
                        saved[sig] = signal.signal(sig, insist)
                    except ValueError:          # not the main thread (embedded servers)
                        pass
                ok = self.save()
            finally:
                for sig, handler in saved.items():
                    signal.signal(sig, handler)
            if not ok:
                log.warning("Error trying to save the DB, can't exit.")
                if not force:
                    return False
        self.shutdown_saved = True
        return True

    async def shutdown(self, engine) -> None:
        self.prepare_shutdown(engine.shutdown_save, True)
        if self.writer is not None:
            log.log(NOTICE, "Calling fsync() on the AOF file.")
            self._stop_writer()
        if self.io is not None:
            self.io.stop()
            self.io = None

    # ======================================================================
    # INFO persistence
    # ======================================================================

    def info(self):
        engine = self.engine
        child = self.child
        now = time.time()
        rdb_child = child is not None and child.kind == "rdb"
        aof_child = child is not None and child.kind == "aof"
        out = [("loading", int(self.loading and not self.async_loading)),
               ("async_loading", int(self.async_loading))]
        if self.loading:
            elapsed = now - self.loading_start
            perc = 100.0 * self.loading_loaded / self.loading_total if self.loading_total else 0.0
            eta = int(elapsed * (self.loading_total - self.loading_loaded) / self.loading_loaded) \
                if self.loading_loaded else 1
            out += [("loading_start_time", int(self.loading_start)),
                    ("loading_total_bytes", self.loading_total),
                    ("loading_rdb_used_mem", 0),
                    ("loading_loaded_bytes", self.loading_loaded),
                    ("loading_loaded_perc", "%.2f" % perc),
                    ("loading_eta_seconds", eta)]
        out += [
            ("current_cow_peak", 0), ("current_cow_size", 0), ("current_cow_size_age", 0),
            ("current_fork_perc", "0.00"), ("current_save_keys_processed", 0),
            ("current_save_keys_total", 0),
            ("rdb_changes_since_last_save", engine.dirty - self.dirty_at_save),
            ("rdb_bgsave_in_progress", int(rdb_child)),
            ("rdb_last_save_time", engine.lastsave),
            ("rdb_last_bgsave_status", "ok" if self.lastbgsave_ok else "err"),
            ("rdb_last_bgsave_time_sec", self.last_bgsave_secs),
            ("rdb_current_bgsave_time_sec", int(now - child.start) if rdb_child else -1),
            ("rdb_saves", self.rdb_saves), ("rdb_last_cow_size", 0),
            ("rdb_last_load_keys_expired", self.load_keys_expired),
            ("rdb_last_load_keys_loaded", self.load_keys_loaded),
            ("aof_enabled", int(self.aof_on or self.aof_wait_rewrite)),
            ("aof_rewrite_in_progress", int(aof_child)),
            ("aof_rewrite_scheduled", int(self.aof_rewrite_scheduled)),
            ("aof_last_rewrite_time_sec", self.aof_last_rewrite_secs),
            ("aof_current_rewrite_time_sec", int(now - child.start) if aof_child else -1),
            ("aof_last_bgrewrite_status", "ok" if self.aof_last_rewrite_ok else "err"),
            ("aof_rewrites", self.aof_rewrites),
            ("aof_rewrites_consecutive_failures", self.aof_rewrite_failures),
            ("aof_last_write_status", "ok" if self.aof_write_error is None else "err"),
            ("aof_last_cow_size", 0), ("module_fork_in_progress", 0),
            ("module_fork_last_cow_size", 0),
        ]
        w = self.writer
        if self.aof_on and w is not None:
            out += [("aof_current_size", self.aof_current_size()),
                    ("aof_base_size", self.base_size),
                    ("aof_pending_rewrite", int(self.aof_rewrite_scheduled)),
                    ("aof_buffer_length", w.buf_bytes),
                    ("aof_pending_bio_fsync", self.io.pending_fsync if self.io else 0),
                    ("aof_delayed_fsync", w.delayed_fsync)]
        return out


def _child_setup(wfd: int, keep_fd: int = -1) -> None:
    """In a forked child: drop what belongs to the parent (listening and client
    sockets, signal wiring into the parent's event loop), die with the parent."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (ValueError, OSError):
            pass
    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        pass
    try:
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    except (ValueError, OSError):
        pass
    import gc
    gc.disable()
    try:
        max_fd = os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        max_fd = 4096
    low = 3
    for fd in sorted(f for f in (wfd, keep_fd) if f >= 0):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, min(max_fd, 65536))
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        libc.prctl(1, signal.SIGKILL)               # PR_SET_PDEATHSIG
    except Exception:
        pass


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _unlink(path) -> None:
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass
