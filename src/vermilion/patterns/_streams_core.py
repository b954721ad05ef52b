"""Stream consumer-group steps and bookkeeping shared by both StreamWorker faces.

Delivery guarantees (what Redis gives, and what we add):

* An entry handed to a consumer stays in the group's pending list (PEL) until
  XACK; its delivery count only grows. We ack only after the handler returned,
  so delivery is at-least-once: a crash between the handler's side effects and
  the ack means the entry is handled again (make handlers idempotent).
* A worker starting under its old name first re-reads its own PEL (ID 0), so
  it finishes what it had been given before reading new entries ('>').
* Entries idle in a dead consumer's PEL longer than ``claim_idle`` are taken
  over with XAUTOCLAIM, following its cursor to 0-0. XAUTOCLAIM resets the
  idle time as it claims, so two reclaimers never both get the same entry.
* While a handler runs, a heartbeat re-claims its entry to the same consumer
  (XCLAIM JUSTID, owner-checked) so it never looks idle and is not stolen.
* An entry delivered ``max_deliveries`` times that still fails (or that comes
  back after crashing its consumers that often) is moved to the dead-letter
  stream together with its error and delivery count, and acked, in one script.
* A handler that runs past ``handler_timeout`` is abandoned: its entry leaves
  the heartbeat (so it can no longer be extended), counts as a failure with
  reason ``timeout`` and follows the retry policy. The asyncio face cancels a
  coroutine handler. A thread cannot be stopped, so a synchronous handler's
  hung call keeps its thread until it returns, and its result is ignored; a
  new thread takes the slot, for up to ``max_stuck_threads`` hung calls at once
  (default: ``concurrency``). Beyond that the slot stays taken until the call
  returns. ``metrics().stuck_threads`` counts the hung calls.
* A handler steers the outcome by raising ``Retry(delay=...)`` (deliver again
  after that delay; still bounded by ``max_deliveries``) or ``Unrecoverable``
  (dead-letter now); the dead letter's ``error`` field holds the reason.
* Shutting down (``stop()``, or SIGTERM/SIGINT with ``run()``) stops reading,
  gives in-flight handlers the grace period, then marks what is left (and the
  entries waiting for a retry) idle so that another worker reclaims them at
  once; nothing is acked that did not complete.

Units: every duration here is in **seconds** (floats), including ``block`` and
``claim_idle``, although redis-py's ``xreadgroup(block=)`` and
``xautoclaim(min_idle_time=)`` take milliseconds.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from redis.exceptions import ResponseError

from . import _scripts as S
from ._ops import Call, Op, Packed, RawUnsupported, call, encode_arg, op, pack
from ._util import backoff, colocated, default_consumer_name, new_token, to_str
from .errors import Retry, Unrecoverable


@dataclass
class StreamEntry:
    id: str
    fields: dict[Any, Any]  # as the client decodes them (bytes unless decode_responses=True)
    deliveries: int  # how many times the group has delivered it, this time included
    stream: str

    @property
    def attempt(self) -> int:
        """This delivery's number, 1 for the first: the attempt count the retry
        policy uses (deliveries after a crash count too)."""
        return self.deliveries

    @property
    def deleted(self) -> bool:
        # XADD needs at least one field, so an empty entry was deleted (XDEL/trim)
        # after it was delivered.
        return not self.fields


@dataclass
class WorkerMetrics:
    processed: int = 0  # handler succeeded, entry acked
    failed: int = 0  # handler raised or timed out (each failed delivery counts)
    timed_out: int = 0  # of which: abandoned after handler_timeout
    retried: int = 0  # re-deliveries to ourselves after a failure
    dead_lettered: int = 0
    reclaimed: int = 0  # taken over from other (dead) consumers
    deleted: int = 0  # pending entries whose payload was gone
    lost: int = 0  # entries another consumer took while we worked on them
    in_flight: int = 0
    # Handler threads still running a call abandoned after handler_timeout (a
    # thread cannot be stopped; see max_stuck_threads). Always 0 for coroutines.
    stuck_threads: int = 0
    # From the server (None if it could not say):
    lag: int | None = None  # entries in the stream the group has not read yet
    pending: int | None = None  # entries delivered but not acked, whole group
    oldest_pending_age: float | None = None  # seconds since the oldest pending entry was added
    oldest_pending_idle: float | None = None  # seconds since it was last delivered


def parse_entries(stream: str, raw: Any, deliveries: int | list[int]) -> list[StreamEntry]:
    # The worker's hot path: one pass, ids decoded inline.
    if isinstance(deliveries, int):
        return [StreamEntry(i.decode() if type(i) is bytes else to_str(i), f or {},
                            deliveries, stream) for i, f in raw if i is not None]
    return [StreamEntry(to_str(i), f or {}, n, stream)
            for (i, f), n in zip(raw, deliveries) if i is not None]


def _pack_ids(command: bytes, ids: list[str]) -> bytes:
    """``command`` (packed by :func:`pack`) with entry IDs appended as arguments.
    Entry IDs are ASCII (``ms-seq``), so their str length is their byte length."""
    head = command.index(b"\r\n") + 2
    return b"*%d\r\n%s%s" % (int(command[1:head - 2]) + len(ids), command[head:],
                               "".join([f"${len(i)}\r\n{i}\r\n" for i in ids]).encode())


def _id_ms(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


class StreamCore:
    """Consumer-group operations of one (stream, group, consumer)."""

    def __init__(self, client: Any, stream: str, group: str, consumer: str | None = None, *,
                 dead_letter_stream: str | None = None, dead_letter_maxlen: int = 10_000):
        self.client = client
        self.stream, self.group = stream, group
        self.consumer = consumer or default_consumer_name()
        # Same cluster slot as the stream, so dead-lettering can be one script.
        self.dead_letter_stream = dead_letter_stream or colocated(stream, ":dead")
        self.dead_letter_maxlen = dead_letter_maxlen

    def _ensure_group(self, start_id: str) -> Op:
        try:
            yield call("xgroup_create", self.stream, self.group, id=start_id, mkstream=True)
            return True
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            return False  # the group exists: fine

    def _read(self, last_id: str, count: int, block_ms: int | None) -> Op:
        """XREADGROUP; '>' gives new entries, an ID re-reads our own PEL after it."""
        if last_id == ">":
            try:
                return (yield from self._read_new(count, block_ms))
            except RawUnsupported:
                pass
        reply = yield call("xreadgroup", self.group, self.consumer, {self.stream: last_id},
                           count=count, block=block_ms)
        if not reply:
            return []
        raw = reply[0][1] if isinstance(reply, list) else next(iter(reply.values()))[0]
        if last_id == ">":
            return parse_entries(self.stream, raw, 1)
        ids = [to_str(i) for i, _ in raw]
        counts = yield from self._deliveries(ids)
        return parse_entries(self.stream, raw, counts)

    def _read_new(self, count: int, block_ms: int | None) -> Op:
        """XREADGROUP ... > packed and parsed here: the worker's hot path, where
        redis-py's reply callbacks cost more per entry than the rest."""
        args: list[Any] = [b"XREADGROUP", b"GROUP", self.group, self.consumer, b"COUNT", count]
        if block_ms is not None:
            args += [b"BLOCK", block_ms]
        return (yield Packed(pack(*args, b"STREAMS", self.stream, b">"), 1,
                             parse=self._new_entries))

    def _new_entries(self, replies: list[Any]) -> list[StreamEntry]:
        reply = replies[0]
        if not reply:
            return []
        # RESP2: [[stream, entries]]; RESP3: {stream: entries}
        raw = reply[0][1] if isinstance(reply, list) else next(iter(reply.values()))
        stream = self.stream
        return [StreamEntry(i.decode() if type(i) is bytes else to_str(i),
                            ({f[0]: f[1]} if len(f) == 2 else dict(zip(f[::2], f[1::2])))
                            if f else {}, 1, stream)
                for i, f in raw]

    def _deliveries(self, ids: list[str]) -> Op:
        if not ids:
            return []
        return [int(n) for n in (yield S.STREAM_DELIVERIES([self.stream], [self.group, *ids]))]

    def _reclaim(self, min_idle_ms: int, cursor: str, limit: int) -> Op:
        """XAUTOCLAIM from ``cursor`` until it is back to 0-0 or ``limit`` entries.

        Returns (entries now ours, ids that were pending but deleted - XAUTOCLAIM
        has already dropped those from the PEL, there is nothing to process -,
        the cursor to continue from next time: 0-0 when the sweep is complete).
        """
        claimed: list[Any] = []
        deleted: list[str] = []
        while True:
            reply = yield call("xautoclaim", self.stream, self.group, self.consumer,
                               min_idle_ms, start_id=cursor, count=limit - len(claimed))
            cursor = to_str(reply[0])
            claimed += [(i, f) for i, f in reply[1] if i is not None]
            if len(reply) > 2:
                deleted += [to_str(i) for i in reply[2]]
            if cursor == "0-0" or len(claimed) >= limit:
                break
        counts = yield from self._deliveries([to_str(i) for i, _ in claimed])
        return parse_entries(self.stream, claimed, counts), deleted, cursor

    def _ack(self, entry_id: str) -> Op:
        return (yield call("xack", self.stream, self.group, entry_id))

    def _dead_letter(self, entry: StreamEntry, error: str) -> Op:
        keys = [self.stream, self.dead_letter_stream]
        args = [self.group, self.consumer, entry.id, error[:2000], self.dead_letter_maxlen]
        return to_str((yield S.STREAM_DEAD_LETTER(keys, args)))

    def _heartbeat(self, ids: list[str]) -> Op:
        if not ids:
            return []
        lost = yield S.STREAM_HEARTBEAT([self.stream], [self.group, self.consumer, *ids])
        return [to_str(i) for i in lost]

    def _retry(self, entry_id: str) -> Op:
        """Re-deliver a failed entry to ourselves; None if it is no longer ours."""
        r = yield S.STREAM_RETRY([self.stream], [self.group, self.consumer, entry_id])
        if r is None:
            return None
        n, raw = r
        raw = [e for e in raw if e]  # older servers answer nil for deleted entries
        if not raw:
            return StreamEntry(entry_id, {}, int(n), self.stream)
        kv = raw[0][1]
        return StreamEntry(to_str(raw[0][0]), dict(zip(kv[::2], kv[1::2])), int(n), self.stream)

    def _server_metrics(self, m: WorkerMetrics) -> Op:
        groups = yield call("xinfo_groups", self.stream)
        for g in groups:
            if to_str(g.get("name")) == self.group:
                m.pending = int(g.get("pending", 0))
                lag = g.get("lag")
                m.lag = None if lag is None else int(lag)
        oldest = yield call("xpending_range", self.stream, self.group, "-", "+", 1)
        if oldest:
            now_s, now_us = yield call("time")
            now_ms = now_s * 1000 + now_us // 1000
            m.oldest_pending_age = max(0, now_ms - _id_ms(to_str(oldest[0]["message_id"]))) / 1000
            m.oldest_pending_idle = oldest[0]["time_since_delivered"] / 1000
        else:
            m.oldest_pending_age = m.oldest_pending_idle = 0.0
        return m


@dataclass(order=True)
class RetryItem:
    due: float
    entry_id: str = field(compare=False)


def retry_delay(deliveries: int, base: float, cap: float) -> float:
    """Backoff before re-delivering an entry that failed on delivery ``deliveries``."""
    return backoff(deliveries - 1, base, cap)


class WorkerBase(StreamCore):
    """Options and per-entry decisions shared by the sync and asyncio workers.

    Options (durations in seconds): ``concurrency`` handler calls at once;
    ``batch_size`` (None: the handler gets one entry; N: a list of up to N);
    ``count`` entries per read; ``block`` (seconds, not redis-py's ms);
    ``claim_idle`` idle time after which others' entries are reclaimed (seconds,
    not ms); ``claim_interval``; ``heartbeat``; ``max_deliveries``; ``retry_base``
    and ``retry_cap`` (backoff); ``handler_timeout``; ``grace`` (shutdown);
    ``max_stuck_threads`` (replacement threads for synchronous handler calls
    still running after handler_timeout; default ``concurrency``);
    ``start_id``; ``dead_letter_stream``, ``dead_letter_maxlen``;
    ``delayed_maxlen`` (MAXLEN ~ when promoting delayed entries); ``prometheus``
    (a ``metrics.PrometheusMetrics``); ``tracing`` (a ``tracing.StreamTracing``).
    """

    def __init__(self, client: Any, stream: str, group: str, handler: Callable[..., Any], *,
                 consumer: str | None = None,
                 concurrency: int = 1, count: int = 10, block: float = 1.0,
                 claim_idle: float = 30.0, claim_interval: float | None = None,
                 max_deliveries: int = 5, retry_base: float = 0.5,
                 retry_cap: float | None = None, heartbeat: float | None = None,
                 start_id: str = "0", dead_letter_stream: str | None = None,
                 dead_letter_maxlen: int = 10_000, handler_timeout: float | None = None,
                 batch_size: int | None = None, grace: float = 10.0,
                 max_stuck_threads: int | None = None,
                 delayed_maxlen: int | None = 10_000, prometheus: Any = None,
                 tracing: Any = None):
        super().__init__(client, stream, group, consumer, dead_letter_stream=dead_letter_stream,
                         dead_letter_maxlen=dead_letter_maxlen)
        if concurrency < 1 or max_deliveries < 1:
            raise ValueError("concurrency and max_deliveries must be >= 1")
        if batch_size is not None and batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.handler = handler
        self.handler_timeout = handler_timeout
        self.max_stuck_threads = concurrency if max_stuck_threads is None else max_stuck_threads
        if self.max_stuck_threads < 0:
            raise ValueError("max_stuck_threads must be >= 0")
        self.batch_size = batch_size  # None: handler(entry); else handler([entries])
        self.grace = grace
        self.delayed_key = colocated(stream, ":delayed")
        self.delayed_maxlen = delayed_maxlen
        self.prometheus = prometheus.bind(stream, group) if prometheus is not None else None
        self.tracing = tracing  # a tracing.StreamTracing, or None
        self.concurrency, self.count, self.block = concurrency, count, block
        self.claim_idle = claim_idle
        self.claim_interval = claim_interval or claim_idle / 2
        self.max_deliveries = max_deliveries
        # Retries must come back before the entry looks abandoned to reclaimers.
        self.retry_base, self.retry_cap = retry_base, retry_cap or claim_idle / 2
        self.heartbeat_every = heartbeat or claim_idle / 3
        self.start_id = start_id
        self.stats = WorkerMetrics()
        self._in_flight: dict[str, StreamEntry] = {}
        self._lost: set[str] = set()  # in flight, but another consumer owns them now
        # While a read of our own pending entries (XAUTOCLAIM, or XREADGROUP from an
        # ID) is under way: the entries whose handler call ended meanwhile. The read
        # may have been answered just before their ack and must not hand them out again.
        self._settled: set[str] | None = None
        # The same for a heartbeat under way (its XPENDING finds an entry acked
        # meanwhile gone), plus the entries whose ack is being sent right now.
        self._settled_since_heartbeat: set[str] | None = None
        self._acking: set[str] = set()
        # Deleted pending entries already counted: the pending read and an XAUTOCLAIM
        # sweep (or a heartbeat's XCLAIM, which drops them silently) can meet the same one.
        self._deleted_seen: dict[str, None] = {}
        self._retry_heap: list[RetryItem] = []
        self._retry_ids: set[str] = set()
        self._claim_cursor = "0-0"
        self._next_promote = 0.0

    def _read_count(self, free_slots: int) -> int:
        if self.batch_size is None:
            return min(self.count, free_slots)
        return min(1000, free_slots * self.batch_size)

    def _chunks(self, entries: list[StreamEntry]) -> list[list[StreamEntry]]:
        size = self.batch_size or 1
        return [entries[i:i + size] for i in range(0, len(entries), size)]

    def _decide(self, entry: StreamEntry, exc: BaseException | None,
                timed_out: bool = False) -> tuple[float | None, str]:
        """After a failed delivery: (delay before the retry, or None to dead-letter
        now; the reason recorded)."""
        if timed_out:
            reason = f"timeout: handler ran longer than {self.handler_timeout}s"
        elif isinstance(exc, Unrecoverable):
            return None, f"unrecoverable: {exc.reason}"
        elif isinstance(exc, Retry):
            reason = f"retry: {exc.reason}"
        else:
            reason = repr(exc)
        if entry.deliveries >= self.max_deliveries:
            return None, reason  # the dead letter records the delivery count beside it
        if isinstance(exc, Retry) and exc.delay is not None:
            return max(0.0, exc.delay), reason
        return retry_delay(entry.deliveries, self.retry_base, self.retry_cap), reason

    def _promote(self) -> Op:
        """Move due delayed entries onto the stream; returns seconds until the next."""
        moved, next_ms = yield S.STREAM_PROMOTE([self.delayed_key, self.stream],
                                                [100, self.delayed_maxlen or 0])
        if int(moved) >= 100:
            return 0.0
        return None if int(next_ms) < 0 else int(next_ms) / 1000

    def _promote_due(self) -> bool:
        return time.monotonic() >= self._next_promote

    def _promoted(self, next_in: float | None) -> None:
        # New delayed entries may be due sooner than the ones we know about:
        # look again at least every `block`.
        wait = self.block if next_in is None else min(self.block, next_in)
        self._next_promote = time.monotonic() + wait

    def _own_pending(self) -> Op:
        """IDs pending for this consumer, oldest first (at most 10,000)."""
        rows = yield call("xpending_range", self.stream, self.group, "-", "+", 10_000,
                          self.consumer)
        return [to_str(row["message_id"]) for row in rows]

    def _release_ids(self, ids: list[str]) -> Op:
        """Leave entries we will not finish to other workers, reclaimable at once."""
        if not ids:
            return 0
        return (yield S.STREAM_RELEASE([self.stream], [self.group, self.consumer,
                                                       int(self.claim_idle * 1000) + 1, *ids]))

    def _ack_many(self, ids: list[str]) -> Op:
        if not ids:
            return 0
        # Packed here: redis-py's generic per-argument packing costs more than
        # the rest of an entry's client-side handling.
        try:
            (n,) = yield Packed(_pack_ids(pack(b"XACK", self.stream, self.group), ids), 1)
            return n
        except RawUnsupported:
            return (yield call("xack", self.stream, self.group, *ids))

    def _count_deleted(self, ids: Iterable[str]) -> None:
        """Count each deleted pending entry once, however many paths report it."""
        seen = self._deleted_seen
        fresh = [i for i in ids if i not in seen]
        for entry_id in fresh:
            seen[entry_id] = None
        while len(seen) > 4096:             # bounded: only recent reports can repeat
            del seen[next(iter(seen))]
        self._observe("deleted", len(fresh))

    def _observe(self, name: str, n: int = 1) -> None:
        setattr(self.stats, name, getattr(self.stats, name) + n)
        if self.prometheus is not None:
            self.prometheus.count(name, n)

    def _runnable(self, entries: list[StreamEntry]) -> bool:
        """True if every entry goes to the handler (the common case: no per-entry
        verdicts to act on)."""
        most = self.max_deliveries
        for e in entries:
            if not e.fields or e.deliveries > most:
                return False
        return True

    def _verdict(self, entry: StreamEntry) -> str | None:
        """What to do before running the handler: 'ack', 'dead' or None (run it)."""
        if entry.deleted:
            return "ack"
        if entry.deliveries > self.max_deliveries:
            return "dead"
        return None

    def _after_failure(self, entry: StreamEntry) -> float | None:
        """None: dead-letter now; else the delay before re-delivering it."""
        if entry.deliveries >= self.max_deliveries:
            return None
        return retry_delay(entry.deliveries, self.retry_base, self.retry_cap)

    def _schedule_retry(self, entry_id: str, delay: float) -> None:
        heapq.heappush(self._retry_heap, RetryItem(time.monotonic() + delay, entry_id))
        self._retry_ids.add(entry_id)

    def _due_retries(self) -> list[str]:
        due, t = [], time.monotonic()
        while self._retry_heap and self._retry_heap[0].due <= t:
            entry_id = heapq.heappop(self._retry_heap).entry_id
            if entry_id in self._retry_ids:
                self._retry_ids.discard(entry_id)
                due.append(entry_id)
        return due

    def _next_retry_in(self) -> float:
        return max(0.0, self._retry_heap[0].due - time.monotonic()) if self._retry_heap else 3600.0

    def _reading_pending(self) -> None:
        """A read of our own pending entries starts (see ``_settled``)."""
        self._settled = set()

    def _heartbeat_ids(self) -> list[str]:
        """The entries a heartbeat starting now extends (see ``_heartbeat_lost``)."""
        self._settled_since_heartbeat = set()
        return list(self._in_flight) + list(self._retry_ids)

    def _heartbeat_lost(self, lost: list[str]) -> list[str]:
        """Of the entries the heartbeat found in another consumer's hands, those
        really lost: not the ones we acked (or are acking) while it ran."""
        settled, self._settled_since_heartbeat = self._settled_since_heartbeat or set(), None
        lost = [i for i in lost if i not in settled and i not in self._acking]
        self._lost.update(lost)
        self._retry_ids.difference_update(lost)
        self.stats.lost += len(lost)
        return lost

    def _ack_ids(self, entries: list[StreamEntry]) -> list[str]:
        """The entries of a successful call to ack (those a new owner took are its
        to ack), marked as being acked until they settle."""
        ids = [e.id for e in entries if e.id not in self._lost]
        self._acking.update(ids)
        return ids

    def _settle(self, entries: list[StreamEntry]) -> None:
        """These entries leave our hands: their handler call ended (acked, failed,
        abandoned or buried)."""
        ids = [e.id for e in entries]
        pop = self._in_flight.pop
        for entry_id in ids:
            pop(entry_id, None)
        if self._acking:
            self._acking.difference_update(ids)
        if self._settled_since_heartbeat is not None:
            self._settled_since_heartbeat.update(ids)
        if self._lost:
            self._lost.difference_update(ids)
        if self._settled is not None:
            self._settled.update(ids)

    def _read_pending_done(self) -> set[str]:
        settled, self._settled = self._settled or set(), None
        return settled

    def _fresh_pending(self, entries: list[StreamEntry]) -> list[StreamEntry]:
        """Our pending entries re-read at catch-up that nobody is working on or
        waiting to retry."""
        settled = self._read_pending_done()
        return [e for e in entries if e.id not in self._in_flight
                and e.id not in self._retry_ids and e.id not in settled]

    def _accept_claimed(self, entries: list[StreamEntry]) -> list[StreamEntry]:
        """Keep reclaimed entries we are not already working on (or just finished);
        a reclaimed entry waiting for its retry is simply retried now."""
        settled = self._read_pending_done()
        out = []
        for e in entries:
            if e.id in self._in_flight or e.id in settled:
                continue
            self._retry_ids.discard(e.id)
            out.append(e)
        return out

    @staticmethod
    def _giving_up(entry: StreamEntry) -> str:
        return (f"delivered {entry.deliveries} times without completing "
                "(its consumers crashed or stalled)")


# ------------------------------------------------------------ dead letters


@dataclass
class DeadLetter:
    id: str  # id in the dead-letter stream
    original_id: str
    fields: dict[Any, Any]  # the original payload
    error: str
    deliveries: int
    consumer: str


def parse_dead_letter(entry_id: Any, raw: dict[Any, Any]) -> DeadLetter:
    meta, payload = {}, {}
    for k, v in raw.items():
        name = to_str(k)
        if name.startswith("f:"):
            payload[k[2:]] = v
        else:
            meta[name] = to_str(v)
    return DeadLetter(to_str(entry_id), meta.get("id", ""), payload, meta.get("error", ""),
                      int(meta.get("deliveries", 0)), meta.get("consumer", ""))


class DeadLettersCore:
    """The dead-letter stream of a stream: inspect, replay, purge."""

    def __init__(self, client: Any, stream: str, dead_letter_stream: str | None = None):
        self.client = client
        self.stream = stream
        self.key = dead_letter_stream or colocated(stream, ":dead")

    @op
    def list(self, count: int = 100, start: str = "-") -> Any:
        raw = yield call("xrange", self.key, start, "+", count=count)
        return [parse_dead_letter(i, f) for i, f in raw]

    @op
    def count(self) -> Any:
        return (yield call("xlen", self.key))

    @op
    def replay(self, ids: Iterable[str] | None = None, count: int = 100) -> Any:
        """Put dead letters back on the stream as new entries (oldest first, or
        exactly ``ids``), removing them from the dead-letter stream; returns new ids."""
        if ids is None:
            ids = [to_str(i) for i, _ in (yield call("xrange", self.key, "-", "+", count=count))]
        out = []
        for dead_id in ids:
            new = yield S.STREAM_REPLAY([self.key, self.stream], [dead_id])
            if new is not None:
                out.append(to_str(new))
        return out

    @op
    def purge(self, ids: Iterable[str] | None = None) -> Any:
        """Delete the given dead letters, or all of them."""
        if ids is None:
            return (yield call("delete", self.key))
        return (yield call("xdel", self.key, *ids))


# Entries per transaction (or STREAM_ADD_MANY call): large enough that the
# round trip no longer counts, small enough not to hold the server for long
# (a few ms).
ADD_MANY_CHUNK = 500


def _pack_xadds(stream: str, entries: list[dict[Any, Any]], trim: list[bytes]) -> bytes:
    """XADD <stream> * <fields> for each entry, packed as RESP; ``trim``
    (MAXLEN [~] n) goes on the last one only, which trims the stream as
    trimming on each would. The producer's hot loop: the command head per field
    count, each field name and each value length's header are encoded once per
    call."""
    key = encode_arg(stream)
    tail = b"$%d\r\n%s\r\n" % (len(key), key)
    for t in trim:
        tail += b"$%d\r\n%s\r\n" % (len(t), t)
    key_star = b"$%d\r\n%s\r\n$1\r\n*\r\n" % (len(key), key)
    last_star = tail + b"$1\r\n*\r\n"
    heads: dict[int, bytes] = {}
    names: dict[Any, bytes] = {}             # str and bytes names only (never equal)
    sizes: dict[int, bytes] = {}             # a value's length header, per length
    out: list[bytes] = []
    append = out.append
    last = len(entries) - 1
    for n, fields in enumerate(entries):
        if n == last:
            append(b"*%d\r\n$4\r\nXADD\r\n%s" % (3 + len(trim) + 2 * len(fields), last_star))
        else:
            nf = len(fields)
            head = heads.get(nf)
            if head is None:
                head = heads[nf] = b"*%d\r\n$4\r\nXADD\r\n%s" % (3 + 2 * nf, key_star)
            append(head)
        for k, v in fields.items():
            name = names.get(k) if type(k) is str or type(k) is bytes else None
            if name is None:
                kb = k.encode() if type(k) is str else k if type(k) is bytes else encode_arg(k)
                name = b"$%d\r\n%s\r\n" % (len(kb), kb)
                if type(k) is str or type(k) is bytes:
                    names[k] = name
            if type(v) is str:
                v = v.encode()
            elif type(v) is not bytes:
                v = encode_arg(v)
            # Four appends cost less than formatting the value into a new bytes.
            size = sizes.get(len(v))
            if size is None:
                size = sizes[len(v)] = b"$%d\r\n" % len(v)
            append(name)
            append(size)
            append(v)
            append(b"\r\n")
    return b"".join(out)


def _netstrings(fields: dict[Any, Any]) -> bytes:
    """Fields as length-prefixed strings, the form STREAM_PROMOTE parses (binary-safe)."""
    out: list[bytes] = []
    for k, v in fields.items():
        for x in (k, v):
            b = x if isinstance(x, bytes) else str(x).encode()
            out.append(b"%d:%s" % (len(b), b))
    return b"".join(out)


class StreamProducerCore:
    """Appends to a stream, trimming it to about ``maxlen`` entries (MAXLEN ~).

    ``add(fields, delay=s)`` holds the entry back until ``s`` seconds from now
    (by the server's clock); workers of the stream move due entries onto it, so
    it is delivered no earlier than that (and at most about a worker's ``block``
    later while a worker runs). ``add(fields, idempotency_key=k)`` adds nothing if
    an entry with key ``k`` was added within ``dedup_window`` seconds, and returns
    that entry's id instead. See ``_scripts`` for the key layout: every key holds
    the stream's hash tag, so it all works on Redis Cluster.
    """

    def __init__(self, client: Any, stream: str, *, maxlen: int | None = 10_000,
                 approximate: bool = True, dedup_window: float = 3600.0, tracing: Any = None):
        self.client = client
        self.tracing = tracing  # a tracing.StreamTracing, or None
        self.stream, self.maxlen, self.approximate = stream, maxlen, approximate
        self.dedup_window = dedup_window
        self.delayed_key = colocated(stream, ":delayed")

    def dedup_key(self, idempotency_key: str) -> str:
        return colocated(self.stream, ":dedup:" + idempotency_key)

    def _xadd(self, fields: dict[Any, Any]) -> Call:
        return call("xadd", self.stream, fields, maxlen=self.maxlen,
                    approximate=self.approximate)

    @op
    def add(self, fields: dict[Any, Any], *, delay: float | None = None,
            idempotency_key: str | None = None) -> Any:
        """Append; returns the entry id (``delayed:<token>`` for a delayed entry).
        A duplicate ``idempotency_key`` returns the first entry's id."""
        if not fields:
            raise ValueError("an entry needs at least one field")
        if self.tracing is None:
            return (yield from self._add(fields, delay, idempotency_key))
        span, fields = self.tracing.publish(self.stream, fields)
        entry_id = None
        try:
            entry_id = yield from self._add(fields, delay, idempotency_key)
            return entry_id
        finally:
            self.tracing.published(span, entry_id)

    def _add(self, fields: dict[Any, Any], delay: float | None,
             idempotency_key: str | None) -> Op:
        window = max(1, int(self.dedup_window * 1000))
        if delay is not None and delay > 0:
            keys = [self.delayed_key]
            if idempotency_key is not None:
                keys.append(self.dedup_key(idempotency_key))
            member = new_token().encode() + b":" + _netstrings(fields)
            entry_id, _ = yield S.STREAM_ADD_DELAYED(keys, [int(delay * 1000), member, window])
            return to_str(entry_id)
        if idempotency_key is not None:
            flat = [x for kv in fields.items() for x in kv]
            entry_id, _ = yield S.STREAM_ADD_ONCE(
                [self.stream, self.dedup_key(idempotency_key)],
                [window, self.maxlen or 0, "1" if self.approximate else "0", *flat])
            return to_str(entry_id)
        return to_str((yield self._xadd(fields)))

    @op
    def delayed_count(self) -> Any:
        """Entries added with a delay that are not on the stream yet."""
        return int((yield call("zcard", self.delayed_key)))

    @op
    def add_many(self, items: Iterable[dict[Any, Any]]) -> Any:
        """Append several entries, in order, ``ADD_MANY_CHUNK`` at a time, each
        chunk atomically: one MULTI/EXEC of XADDs packed by us (a plain client),
        or one script call (a cluster client). Returns their ids."""
        entries = list(items)
        if any(not f for f in entries):
            raise ValueError("an entry needs at least one field")
        published = ([] if self.tracing is None
                     else [self.tracing.publish(self.stream, f) for f in entries])
        if published:
            entries = [f for _, f in published]
        ids: list[Any] = []
        trim: list[bytes] = []
        if self.maxlen:
            trim = [b"MAXLEN", b"~" if self.approximate else b"=", str(self.maxlen).encode()]
        packed = True
        try:
            for start in range(0, len(entries), ADD_MANY_CHUNK):
                chunk = entries[start:start + ADD_MANY_CHUNK]
                if packed:
                    try:
                        reply = yield Packed(_pack_xadds(self.stream, chunk, trim),
                                             len(chunk), transaction=True)
                        ids += [i.decode() if type(i) is bytes else to_str(i) for i in reply]
                        continue
                    except RawUnsupported:
                        packed = False
                args: list[Any] = [self.maxlen or 0, "1" if self.approximate else "0"]
                for fields in chunk:
                    args.append(len(fields))
                    for kv in fields.items():
                        args.extend(kv)
                ids += [to_str(i) for i in (yield S.STREAM_ADD_MANY([self.stream], args))]
            return ids
        finally:
            for n, (span, _) in enumerate(published):
                self.tracing.published(span, ids[n] if n < len(ids) else None)
