/*
 * vermilion._speedups: the per-request loop in C.
 *
 * Everything here has a pure-Python twin, which stays the reference:
 *
 *   ClientCore.c_data_received(data)
 *                       Connection.data_received (server/connection.py) with
 *                       Engine.execute's inlined call() (engine/engine.py)
 *   CommandCore         the fields of a command-table row the dispatch reads
 *   ClientCore          the fields of a client the dispatch reads
 *   EngineCore          the fields of the engine the dispatch reads
 *
 * The three *Core types only hold fields; engine/core.py falls back to
 * __slots__ classes of the same names when this module is not built (no C
 * compiler at install time) or VERMILION_PURE_PYTHON=1 is set. Python code
 * reads and writes the fields as ordinary attributes (T_OBJECT_EX members
 * keep CPython's attribute specialisation working), while the loop below
 * reads them at fixed offsets: that, and not running bytecode between
 * commands, is where the time goes away.
 *
 * The loop only runs the common case: a known command with the right arity
 * and no subcommand, from a client with no gate bit set (auth, MULTI,
 * subscribed mode) while the engine has no busy bit (scripts, loading,
 * CLIENT PAUSE, MONITOR). Anything else is handed, whole, to the Python
 * Engine.execute, and anything unusual about the input or the reply to the
 * Connection's Python methods, so every rule exists once, in Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <time.h>

/* -- the field holders ------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    PyObject *handler;
    PyObject *fullname;
    PyObject *subcommands;
    int arity;
    char is_readonly;
    char skip_slowlog;
    char queued_in_multi;
    char runs_in_multi;
    int native;             /* NATIVE_*: a C twin of the handler for its common case */
    long long calls;
    long long usec;
} CommandCore;

typedef struct {
    PyObject_HEAD
    PyObject *gate;
    PyObject *reply_mode;
    PyObject *closing;
    PyObject *blocked;
    PyObject *last_command;
    /* Read and written for every request and every write (server/connection.py). */
    PyObject *engine;
    PyObject *db;
    PyObject *resp3;
    PyObject *batch;
    PyObject *pending;
    PyObject *server;
    PyObject *transport;
    PyObject *parser;
    PyObject *authenticated;
    PyObject *last_interaction_ms;
    /* MULTI's state (commands/transactions.py). */
    PyObject *multi;
    PyObject *multi_error;
    PyObject *watching;
    PyObject *dirty_cas;
    PyObject *deny_blocking;
} ClientCore;

typedef struct {
    PyObject_HEAD
    PyObject *lookup;
    PyObject *busy;
    PyObject *dirty;
    PyObject *reading;
    PyObject *effects;
    PyObject *sinks;
    PyObject *slowlog_threshold;
    PyObject *blocking;
    PyObject *reply_barrier;
    PyObject *clock;
    PyObject *stats;
    PyObject *config;
    PyObject *notify_flags;
} EngineCore;

static PyMemberDef command_members[] = {
    {"handler", T_OBJECT_EX, offsetof(CommandCore, handler), 0, NULL},
    {"fullname", T_OBJECT_EX, offsetof(CommandCore, fullname), 0, NULL},
    {"subcommands", T_OBJECT, offsetof(CommandCore, subcommands), 0, NULL},
    {"arity", T_INT, offsetof(CommandCore, arity), 0, NULL},
    {"is_readonly", T_BOOL, offsetof(CommandCore, is_readonly), 0, NULL},
    {"skip_slowlog", T_BOOL, offsetof(CommandCore, skip_slowlog), 0, NULL},
    {"queued_in_multi", T_BOOL, offsetof(CommandCore, queued_in_multi), 0, NULL},
    {"runs_in_multi", T_BOOL, offsetof(CommandCore, runs_in_multi), 0, NULL},
    {"native", T_INT, offsetof(CommandCore, native), 0, NULL},
    {"calls", T_LONGLONG, offsetof(CommandCore, calls), 0, NULL},
    {"usec", T_LONGLONG, offsetof(CommandCore, usec), 0, NULL},
    {NULL}
};

static PyMemberDef client_members[] = {
    {"gate", T_OBJECT_EX, offsetof(ClientCore, gate), 0, NULL},
    {"reply_mode", T_OBJECT_EX, offsetof(ClientCore, reply_mode), 0, NULL},
    {"closing", T_OBJECT_EX, offsetof(ClientCore, closing), 0, NULL},
    {"blocked", T_OBJECT_EX, offsetof(ClientCore, blocked), 0, NULL},
    {"last_command", T_OBJECT_EX, offsetof(ClientCore, last_command), 0, NULL},
    {"engine", T_OBJECT_EX, offsetof(ClientCore, engine), 0, NULL},
    {"db", T_OBJECT_EX, offsetof(ClientCore, db), 0, NULL},
    {"resp3", T_OBJECT_EX, offsetof(ClientCore, resp3), 0, NULL},
    {"batch", T_OBJECT_EX, offsetof(ClientCore, batch), 0, NULL},
    {"pending", T_OBJECT_EX, offsetof(ClientCore, pending), 0, NULL},
    {"server", T_OBJECT_EX, offsetof(ClientCore, server), 0, NULL},
    {"transport", T_OBJECT_EX, offsetof(ClientCore, transport), 0, NULL},
    {"parser", T_OBJECT_EX, offsetof(ClientCore, parser), 0, NULL},
    {"authenticated", T_OBJECT_EX, offsetof(ClientCore, authenticated), 0, NULL},
    {"last_interaction_ms", T_OBJECT_EX, offsetof(ClientCore, last_interaction_ms), 0, NULL},
    {"multi", T_OBJECT_EX, offsetof(ClientCore, multi), 0, NULL},
    {"multi_error", T_OBJECT_EX, offsetof(ClientCore, multi_error), 0, NULL},
    {"watching", T_OBJECT_EX, offsetof(ClientCore, watching), 0, NULL},
    {"dirty_cas", T_OBJECT_EX, offsetof(ClientCore, dirty_cas), 0, NULL},
    {"deny_blocking", T_OBJECT_EX, offsetof(ClientCore, deny_blocking), 0, NULL},
    {NULL}
};

static PyMemberDef engine_members[] = {
    {"lookup", T_OBJECT_EX, offsetof(EngineCore, lookup), 0, NULL},
    {"busy", T_OBJECT_EX, offsetof(EngineCore, busy), 0, NULL},
    {"dirty", T_OBJECT_EX, offsetof(EngineCore, dirty), 0, NULL},
    {"reading", T_OBJECT_EX, offsetof(EngineCore, reading), 0, NULL},
    {"effects", T_OBJECT_EX, offsetof(EngineCore, effects), 0, NULL},
    {"sinks", T_OBJECT_EX, offsetof(EngineCore, sinks), 0, NULL},
    {"slowlog_threshold", T_OBJECT_EX, offsetof(EngineCore, slowlog_threshold), 0, NULL},
    {"blocking", T_OBJECT_EX, offsetof(EngineCore, blocking), 0, NULL},
    {"reply_barrier", T_OBJECT_EX, offsetof(EngineCore, reply_barrier), 0, NULL},
    {"clock", T_OBJECT_EX, offsetof(EngineCore, clock), 0, NULL},
    {"stats", T_OBJECT_EX, offsetof(EngineCore, stats), 0, NULL},
    {"config", T_OBJECT_EX, offsetof(EngineCore, config), 0, NULL},
    {"notify_flags", T_OBJECT_EX, offsetof(EngineCore, notify_flags), 0, NULL},
    {NULL}
};

/* The holders keep references (handlers, the lookup table, clients' blocked
 * records), so they take part in garbage collection like any container. */

#define FIELDS_GC(Type, N)                                                         \
    static int Type##_traverse(PyObject *self, visitproc visit, void *arg) {       \
        PyObject **f = (PyObject **)((char *)self + sizeof(PyObject));             \
        for (int i = 0; i < (N); i++) Py_VISIT(f[i]);                             \
        return 0;                                                                   \
    }                                                                               \
    static int Type##_clear(PyObject *self) {                                       \
        PyObject **f = (PyObject **)((char *)self + sizeof(PyObject));             \
        for (int i = 0; i < (N); i++) Py_CLEAR(f[i]);                             \
        return 0;                                                                   \
    }                                                                               \
    static void Type##_dealloc(PyObject *self) {                                    \
        PyTypeObject *tp = Py_TYPE(self);                                           \
        PyObject_GC_UnTrack(self);                                                  \
        Type##_clear(self);                                                         \
        tp->tp_free(self);                                                          \
    }

/* The object fields come first in each struct, right after the header. */
FIELDS_GC(CommandCore, 3)
FIELDS_GC(ClientCore, 20)
FIELDS_GC(EngineCore, 13)

#define HOLDER_TYPE(Type, members, doc)                                             \
    static PyTypeObject Type##_Type = {                                             \
        PyVarObject_HEAD_INIT(NULL, 0)                                              \
        .tp_name = "vermilion._speedups." #Type,                                    \
        .tp_basicsize = sizeof(Type),                                               \
        .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, \
        .tp_doc = doc,                                                              \
        .tp_traverse = Type##_traverse,                                             \
        .tp_clear = Type##_clear,                                                   \
        .tp_dealloc = Type##_dealloc,                                               \
        .tp_members = members,                                                      \
        .tp_new = PyType_GenericNew,                                                \
    };

HOLDER_TYPE(CommandCore, command_members, "Dispatch fields of a command-table row.")
HOLDER_TYPE(ClientCore, client_members, "Dispatch fields of a client.")
HOLDER_TYPE(EngineCore, engine_members, "Dispatch fields of the engine.")

/* -- module state: the Python objects the loop compares against or calls ---------- */

/* From setup_engine: the Python Engine.execute and Engine.call (the reference,
 * run whenever the C path declines), CommandError and the +QUEUED status. */
static PyObject *EXECUTE_PY, *CALL_PY, *COMMAND_ERROR, *QUEUED;
/* From setup_encoder: server/resp.py's Python encode, NULL_ARRAY and Status.
 * From setup_server: the reply sentinels and server/parser.py's ProtocolError. */
static PyObject *NO_REPLY, *POSTPONED, *NULL_ARRAY, *STATUS_TYPE, *ENCODE, *PROTOCOL_ERROR;
static PyObject *EMPTY_BYTES;

#define BUSY_MONITOR 16                 /* engine/engine.py: MONITOR clients exist */
#define GATE_MULTI 2                    /* engine/client.py: inside MULTI */

/* Interned attribute and method names. */
static PyObject *s_ready, *s_handle_ready, *s_encoded, *s_failed, *s_crashed, *s_log_slow,
    *s_propagate, *s_db, *s_index, *s_write, *s_reparse, *s_take_tail, *s_block_input,
    *s_append_reply, *s_pending, *s_schedule_flush, *s_is_closing, *s_flush_queue,
    *s_loop, *s_call_soon, *s_flush_pending, *s_slow_input,
    *s_obuf_limits_active,
    *s_get_write_buffer_size, *s_check_output_limits, *s_flush, *s_join, *s_transport_write;

static int put_decimal(char *p, long long n);
static int keep(PyObject *const *argv, Py_ssize_t argc, PyObject **slots[], Py_ssize_t n,
                const char *signature);

static inline long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Truth of a field holding a small int or a bool (gate, busy, reply_mode, closing). */
static inline int truthy(PyObject *v) {
    if (v == NULL || v == Py_False || v == Py_None) return 0;
    if (v == Py_True) return 1;
    if (PyLong_CheckExact(v)) return Py_SIZE(v) != 0;
    return PyObject_IsTrue(v);
}

static inline void set_field(PyObject **slot, PyObject *value) {
    PyObject *old = *slot;
    Py_INCREF(value);
    *slot = value;
    Py_XDECREF(old);
}

/* -- __slots__ fields at fixed offsets ----------------------------------------------
 *
 * The native handlers read and write fields of Database, Stream and _Node, which
 * are Python classes with __slots__. PyObject_GetAttr on those costs ~20 ns; the
 * slot's offset, taken once from its member descriptor, makes it a load (what
 * CPython's own attribute specialisation does). Offsets are only used on objects
 * whose type is exactly the one they were taken from. */

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

static Py_ssize_t slot_offset(PyObject *type, const char *name) {
    PyObject *d = PyObject_GetAttrString(type, name);
    if (d == NULL) return -1;
    if (Py_TYPE(d) != &PyMemberDescr_Type ||
            ((PyMemberDescrObject *)d)->d_member->type != T_OBJECT_EX) {
        PyErr_Format(PyExc_TypeError, "%s is not a __slots__ field", name);
        Py_DECREF(d);
        return -1;
    }
    Py_ssize_t off = ((PyMemberDescrObject *)d)->d_member->offset;
    Py_DECREF(d);
    return off;
}

/* Replace a slot's value (a new reference is taken over). */
static inline void slot_set(PyObject *obj, Py_ssize_t off, PyObject *value) {
    Py_XSETREF(SLOT(obj, off), value);
}

static inline int slot_ll(PyObject *obj, Py_ssize_t off, long long *out) {
    PyObject *v = SLOT(obj, off);
    if (v == NULL || !PyLong_CheckExact(v)) return -1;
    *out = PyLong_AsLongLong(v);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static inline int slot_set_ll(PyObject *obj, Py_ssize_t off, long long v) {
    PyObject *n = PyLong_FromLongLong(v);
    if (n == NULL) return -1;
    slot_set(obj, off, n);
    return 0;
}

/* engine/engine.py Stats and the offsets of the counters the loop adds to, from setup_stats. */
static PyObject *STATS_TYPE;
static Py_ssize_t STAT_HITS, STAT_NET_IN, STAT_NET_OUT;
static PyObject *s_keyspace_hits, *s_net_input_bytes, *s_net_output_bytes;

/* engine.stats.<name> += n, at the counter's offset (the generic way for another type). */
static int stat_add(EngineCore *eng, Py_ssize_t off, PyObject *name, long long n) {
    PyObject *stats = eng->stats;
    long long v;
    if (stats == NULL) {
        PyErr_SetString(PyExc_AttributeError, "the engine has no stats");
        return -1;
    }
    if (STATS_TYPE != NULL && (PyObject *)Py_TYPE(stats) == STATS_TYPE && slot_ll(stats, off, &v) == 0)
        return slot_set_ll(stats, off, v + n);
    PyErr_Clear();
    PyObject *before = PyObject_GetAttr(stats, name);
    PyObject *by = before ? PyLong_FromLongLong(n) : NULL;
    PyObject *after = by ? PyNumber_Add(before, by) : NULL;
    int rc = after ? PyObject_SetAttr(stats, name, after) : -1;
    Py_XDECREF(before); Py_XDECREF(by); Py_XDECREF(after);
    return rc;
}

static PyObject *
setup_stats(PyObject *module, PyObject *type)
{
    if (!PyType_Check(type) || (STAT_HITS = slot_offset(type, "keyspace_hits")) < 0 ||
            (STAT_NET_IN = slot_offset(type, "net_input_bytes")) < 0 ||
            (STAT_NET_OUT = slot_offset(type, "net_output_bytes")) < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "setup_stats(stats_type)");
        return NULL;
    }
    Py_INCREF(type);
    Py_XSETREF(STATS_TYPE, type);
    Py_RETURN_NONE;
}

static PyObject *DB_TYPE;               /* engine/keyspace.py Database, from setup_keyspace */
static PyObject *OK_REPLY;              /* engine/replies.py OK, from setup_keyspace */
static PyObject *CLOCK_TYPE;            /* engine/clock.py Clock, from setup_keyspace */
static PyObject *s_ms_method;  /* (tentative: defined with the XADD twin's names) */
static PyObject *HEAPPUSH;              /* heapq.heappush, for the TTL heap */
static Py_ssize_t DB_DATA, DB_EXPIRES, DB_HEAP, DB_HOOKED, DB_WATCHED, DB_TRACK;

static PyObject *
setup_keyspace(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    if (argc != 3 || !PyType_Check(argv[0]) || !PyType_Check(argv[2])) {
        PyErr_SetString(PyExc_TypeError, "setup_keyspace(database_type, ok, clock_type)");
        return NULL;
    }
    PyObject *t = argv[0];
    if ((DB_DATA = slot_offset(t, "data")) < 0 || (DB_EXPIRES = slot_offset(t, "expires")) < 0 ||
            (DB_HEAP = slot_offset(t, "heap")) < 0 ||
            (DB_HOOKED = slot_offset(t, "hooked")) < 0 ||
            (DB_WATCHED = slot_offset(t, "watched")) < 0 || (DB_TRACK = slot_offset(t, "track")) < 0)
        return NULL;
    Py_INCREF(t);
    Py_XSETREF(DB_TYPE, t);
    Py_INCREF(argv[1]);
    Py_XSETREF(OK_REPLY, argv[1]);
    Py_INCREF(argv[2]);
    Py_XSETREF(CLOCK_TYPE, argv[2]);
    if (HEAPPUSH == NULL) {
        PyObject *heapq = PyImport_ImportModule("heapq");
        HEAPPUSH = heapq ? PyObject_GetAttrString(heapq, "heappush") : NULL;
        Py_XDECREF(heapq);
        if (HEAPPUSH == NULL) return NULL;
    }
    Py_RETURN_NONE;
}

/* The client's database if it is a plain one with nothing to hear about writes
 * (no SCAN index, access tracking or `new` events, no WATCH) and, unless
 * `ttl_ok`, no TTL on `key`; borrowed, or NULL (with no exception) for "not the
 * common case". */
static PyObject *plain_db(ClientCore *client, PyObject *key, int ttl_ok) {
    PyObject *db = client->db;          /* the client keeps it alive */
    if (DB_TYPE == NULL || db == NULL || (PyObject *)Py_TYPE(db) != DB_TYPE) return NULL;
    PyObject *data = SLOT(db, DB_DATA), *expires = SLOT(db, DB_EXPIRES);
    if (data == NULL || expires == NULL || !PyDict_CheckExact(data) || !PyDict_CheckExact(expires))
        return NULL;
    if (truthy(SLOT(db, DB_HOOKED)) || truthy(SLOT(db, DB_WATCHED)) || truthy(SLOT(db, DB_TRACK)))
        return NULL;
    if (!ttl_ok && PyDict_GET_SIZE(expires)) {
        int has_ttl = PyDict_Contains(expires, key);
        if (has_ttl != 0) {
            PyErr_Clear();
            return NULL;
        }
    }
    return db;
}

/* -- native handlers: C twins of a few hot handlers, for their common case only ------
 *
 * A native handler returns the reply, or NULL without an exception to decline:
 * then the Python handler runs, which stays the reference and does every case
 * (errors included). Numbers match engine/core.py's NATIVE_* constants. */

#define NATIVE_INCR 1

static PyObject *ONE;

/* Redis's string2ll on a stored value: 1 and *out set if `p[0:n]` is the canonical
 * decimal form of a signed 64-bit integer, else 0. */
static int canonical_ll(const char *p, Py_ssize_t n, long long *out) {
    if (n <= 0 || n > 20) return 0;
    int negative = p[0] == '-';
    Py_ssize_t i = negative;
    if (i == n) return 0;
    if (p[i] == '0') {                  /* "0" only: no leading zeros, no "-0" */
        if (n == 1) { *out = 0; return 1; }
        return 0;
    }
    unsigned long long v = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        unsigned long long d = (unsigned long long)(p[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (negative) {
        if (v > (unsigned long long)LLONG_MAX + 1) return 0;
        *out = (long long)(0ULL - v);
    } else {
        if (v > (unsigned long long)LLONG_MAX) return 0;
        *out = (long long)v;
    }
    return 1;
}

/* A truth test of an attribute; -1 on error. */
static int attr_true(PyObject *obj, PyObject *name) {
    PyObject *v = PyObject_GetAttr(obj, name);
    if (v == NULL) return -1;
    int t = truthy(v);
    Py_DECREF(v);
    return t;
}

/* What the native handlers share. */

/* Keyspace events are on (or their flag could not be read): the twin declines. */
static int events_on(EngineCore *eng) {
    int on = truthy(eng->notify_flags);
    if (on < 0) PyErr_Clear();
    return on != 0 || eng->notify_flags == NULL;
}

/* engine.dirty += n; -1 with an exception on failure. */
static int count_changes(EngineCore *eng, long n) {
    PyObject *by = PyLong_FromLong(n);
    PyObject *dirty = by ? PyNumber_Add(eng->dirty, by) : NULL;
    Py_XDECREF(by);
    if (dirty == NULL) return -1;
    Py_SETREF(eng->dirty, dirty);
    return 0;
}

/* Database.get's accounting of a hit inside a read-only command. */
static int count_keyspace_hit(EngineCore *eng) {
    return stat_add(eng, STAT_HITS, s_keyspace_hits, 1);
}

/* engine.config.values (a new reference), as the Python handlers read settings. */
static PyObject *s_values;   /* (tentative: interned with the XADD twin's names) */

static PyObject *config_values(EngineCore *eng) {
    PyObject *config = eng->config;
    if (config == NULL) {
        PyErr_SetString(PyExc_AttributeError, "the engine has no config");
        return NULL;
    }
    PyObject *values = PyObject_GetAttr(config, s_values);
    if (values != NULL && !PyDict_Check(values)) {
        Py_DECREF(values);
        PyErr_SetString(PyExc_TypeError, "engine.config.values is not a dict");
        return NULL;
    }
    return values;
}

/* INCR key (commands/strings.py incr with delta 1) when nothing but the value is
 * involved: no keyspace events, no WATCH, no SCAN index or access tracking, and
 * no TTL on the key. */
static PyObject *native_incr(EngineCore *eng, ClientCore *client, PyObject *args) {
    PyObject *key = PyList_GET_ITEM(args, 1);
    if (events_on(eng)) return NULL;
    PyObject *db = plain_db(client, key, 0);
    if (db == NULL) return NULL;
    PyObject *data = SLOT(db, DB_DATA);
    PyObject *value = PyDict_GetItemWithError(data, key);
    long long n = 0;
    if (value == NULL) {
        if (PyErr_Occurred()) return NULL;
    } else if (!PyBytes_CheckExact(value) ||
               !canonical_ll(PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value), &n) ||
               n == LLONG_MAX) {
        return NULL;                    /* wrong type, not an integer, overflow: Python */
    }
    n += 1;
    char text[24];
    int len = put_decimal(text, n);
    PyObject *stored = PyBytes_FromStringAndSize(text, len);
    if (stored == NULL) return NULL;
    int rc = PyDict_SetItem(data, key, stored);
    Py_DECREF(stored);
    if (rc < 0) return NULL;
    if (count_changes(eng, 1) < 0) return NULL;
    return PyLong_FromLongLong(n);
}

/* SET key value (commands/strings.py set_ without options, Database.set): store,
 * drop a TTL the key had, count the change. Declines with keyspace events, WATCH,
 * a SCAN index or access tracking. */
#define NATIVE_SET 3
#define NATIVE_GET 4

static PyObject *s_ttl_dropped;

static PyObject *native_set(EngineCore *eng, ClientCore *client, PyObject *args) {
    PyObject *key = PyList_GET_ITEM(args, 1), *value = PyList_GET_ITEM(args, 2);
    if (OK_REPLY == NULL || !PyBytes_CheckExact(key)) return NULL;
    if (events_on(eng)) return NULL;
    PyObject *db = plain_db(client, key, 1);
    if (db == NULL) return NULL;
    PyObject *data = SLOT(db, DB_DATA), *expires = SLOT(db, DB_EXPIRES);
    int had_ttl = PyDict_GET_SIZE(expires) ? PyDict_Contains(expires, key) : 0;
    if (had_ttl < 0 || PyDict_SetItem(data, key, value) < 0) return NULL;
    if (had_ttl) {
        if (PyDict_DelItem(expires, key) < 0) return NULL;
        /* Database._ttl_dropped: compact the heap once stale entries outnumber live ones. */
        PyObject *heap = SLOT(db, DB_HEAP);
        if (heap == NULL || !PyList_CheckExact(heap) ||
                PyList_GET_SIZE(heap) > 2 * PyDict_GET_SIZE(expires) + 1024) {
            PyObject *r = PyObject_CallMethodNoArgs(db, s_ttl_dropped);
            if (r == NULL) return NULL;
            Py_DECREF(r);
        }
    }
    if (count_changes(eng, 1) < 0) return NULL;
    Py_INCREF(OK_REPLY);
    return OK_REPLY;
}

/* GET key (commands/strings.py get, Database.get inside a read-only command) when the
 * key holds a string and has no TTL: the value, counted as a keyspace hit. Misses,
 * expiry and wrong types are the Python handler's. */
static PyObject *native_get(EngineCore *eng, ClientCore *client, PyObject *args) {
    PyObject *key = PyList_GET_ITEM(args, 1);
    PyObject *db = plain_db(client, key, 0);
    if (db == NULL) return NULL;
    PyObject *value = PyDict_GetItemWithError(SLOT(db, DB_DATA), key);
    if (value == NULL || !PyBytes_CheckExact(value)) return NULL;
    if (count_keyspace_hit(eng) < 0) return NULL;
    Py_INCREF(value);
    return value;
}

/* engine.clock.ms(): for the real clock (engine/clock.py Clock, exactly that class),
 * time.time_ns() // 1_000_000 read here; any other clock (FakeClock in tests) is
 * asked. 0 with *out set, -1 with an exception. */
static int engine_now_ms(EngineCore *eng, long long *out) {
    PyObject *clock = eng->clock;
    if (clock == NULL) {
        PyErr_SetString(PyExc_AttributeError, "the engine has no clock");
        return -1;
    }
    if (CLOCK_TYPE != NULL && (PyObject *)Py_TYPE(clock) == CLOCK_TYPE) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        *out = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        return 0;
    }
    PyObject *now = PyObject_CallMethodNoArgs(clock, s_ms_method);
    if (now == NULL) return -1;
    *out = PyLong_AsLongLong(now);
    Py_DECREF(now);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* EXPIRE key seconds (commands/keys.py _expire_generic without flags, then
 * Database.set_expire) when the key exists, is not already past a TTL, and the new
 * time is in the future: record it and count the change. Declines with keyspace
 * events, propagation sinks (the effect is rewritten as PEXPIREAT), WATCH, a SCAN
 * index or access tracking; errors are the Python handler's. */
#define NATIVE_EXPIRE 5

static PyObject *s_compact_heap;

static PyObject *native_expire(EngineCore *eng, ClientCore *client, PyObject *args) {
    PyObject *key = PyList_GET_ITEM(args, 1), *arg = PyList_GET_ITEM(args, 2);
    long long seconds;
    if (HEAPPUSH == NULL || !PyBytes_CheckExact(key) || !PyBytes_CheckExact(arg) ||
            !canonical_ll(PyBytes_AS_STRING(arg), PyBytes_GET_SIZE(arg), &seconds) ||
            seconds > LLONG_MAX / 1000 || seconds < -(LLONG_MAX / 1000))
        return NULL;
    if (eng->sinks == NULL || truthy(eng->sinks)) return NULL;
    if (events_on(eng)) return NULL;
    PyObject *db = plain_db(client, key, 1);
    if (db == NULL) return NULL;
    PyObject *data = SLOT(db, DB_DATA), *expires = SLOT(db, DB_EXPIRES), *heap = SLOT(db, DB_HEAP);
    if (heap == NULL || !PyList_CheckExact(heap)) return NULL;
    PyObject *value = PyDict_GetItemWithError(data, key);
    if (value == NULL) return NULL;             /* missing: Python answers 0 */
    long long now;
    if (engine_now_ms(eng, &now) < 0) return NULL;
    long long when = seconds * 1000;
    if (when > LLONG_MAX - now) return NULL;
    when += now;
    if (when <= now) return NULL;               /* deletes the key: Python */
    PyObject *old = PyDict_GetItemWithError(expires, key);
    if (old != NULL) {
        long long old_when = PyLong_AsLongLong(old);
        if (old_when == -1 && PyErr_Occurred()) return NULL;
        if (old_when < now) return NULL;        /* already expired: Python deletes it */
    } else if (PyErr_Occurred()) {
        return NULL;
    }
    PyObject *when_obj = PyLong_FromLongLong(when);
    if (when_obj == NULL) return NULL;
    PyObject *item = PyTuple_Pack(2, when_obj, key);
    int rc = item ? PyDict_SetItem(expires, key, when_obj) : -1;
    Py_DECREF(when_obj);
    if (rc == 0) {
        PyObject *push_args[2] = {heap, item};
        PyObject *pushed = PyObject_Vectorcall(HEAPPUSH, push_args, 2, NULL);
        rc = pushed ? 0 : -1;
        Py_XDECREF(pushed);
    }
    Py_XDECREF(item);
    if (rc < 0) return NULL;
    if (PyList_GET_SIZE(heap) > 2 * PyDict_GET_SIZE(expires) + 1024) {
        PyObject *r = PyObject_CallMethodNoArgs(db, s_compact_heap);
        if (r == NULL) return NULL;
        Py_DECREF(r);
    }
    if (count_changes(eng, 1) < 0) return NULL;
    return PyLong_FromLong(1);
}

/* HSET key field value (commands/hashes.py hset's one-field path) on an existing hash
 * without a TTL or an HRANDFIELD pool: store the field, convert the encoding past
 * the listpack limits as Hash.check_encoding does, count the change. Declines with
 * keyspace events, WATCH, a SCAN index or access tracking. */
#define NATIVE_HSET 6

static PyObject *HASH_TYPE;             /* types/collections.py Hash, from setup_hash */
static Py_ssize_t HASH_BIG, HASH_POOL;
static PyObject *s_hash_max_value, *s_hash_max_entries;

static PyObject *
setup_hash(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    if (argc != 1 || !PyType_Check(argv[0]) || !PyType_IsSubtype((PyTypeObject *)argv[0], &PyDict_Type)) {
        PyErr_SetString(PyExc_TypeError, "setup_hash(hash_type)");
        return NULL;
    }
    if ((HASH_BIG = slot_offset(argv[0], "big")) < 0 || (HASH_POOL = slot_offset(argv[0], "pool")) < 0)
        return NULL;
    Py_INCREF(argv[0]);
    Py_XSETREF(HASH_TYPE, argv[0]);
    Py_RETURN_NONE;
}

/* values[name] as a C integer; -1 with an exception on failure. */
static long long config_ll(PyObject *values, PyObject *name) {
    PyObject *v = PyDict_GetItemWithError(values, name);
    if (v == NULL) {
        if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, name);
        return -1;
    }
    return PyLong_AsLongLong(v);
}

static PyObject *native_hset(EngineCore *eng, ClientCore *client, PyObject *args) {
    PyObject *key = PyList_GET_ITEM(args, 1), *field = PyList_GET_ITEM(args, 2),
        *value = PyList_GET_ITEM(args, 3);
    if (HASH_TYPE == NULL || !PyBytes_CheckExact(field) || !PyBytes_CheckExact(value)) return NULL;
    if (events_on(eng)) return NULL;
    PyObject *db = plain_db(client, key, 0);
    if (db == NULL) return NULL;
    PyObject *h = PyDict_GetItemWithError(SLOT(db, DB_DATA), key);
    if (h == NULL || (PyObject *)Py_TYPE(h) != HASH_TYPE) return NULL;
    PyObject *pool = SLOT(h, HASH_POOL), *big = SLOT(h, HASH_BIG);
    if (pool != Py_None || big == NULL) return NULL;
    long long vlimit = 0, elimit = 0;
    if (big != Py_True) {
        PyObject *values = config_values(eng);
        if (values == NULL) return NULL;
        vlimit = config_ll(values, s_hash_max_value);
        elimit = vlimit == -1 && PyErr_Occurred() ? -1 : config_ll(values, s_hash_max_entries);
        Py_DECREF(values);
        if ((vlimit == -1 || elimit == -1) && PyErr_Occurred()) return NULL;
        if (vlimit < 0 || elimit < 0) return NULL;
    }
    int present = PyDict_Contains(h, field);
    if (present < 0 || PyDict_SetItem(h, field, value) < 0) return NULL;
    if (big != Py_True && (PyBytes_GET_SIZE(field) > vlimit || PyBytes_GET_SIZE(value) > vlimit ||
                           PyDict_GET_SIZE(h) > elimit)) {
        Py_INCREF(Py_True);
        Py_SETREF(SLOT(h, HASH_BIG), Py_True);
    }
    if (count_changes(eng, 1) < 0) return NULL;
    return PyLong_FromLong(present ? 0 : 1);
}

/* Sorted sets (commands/zsets.py): ZRANK / ZREVRANK key member on an existing
 * sorted set, and ZPOPMIN / ZPOPMAX key (no count) when the set keeps a member.
 * The index (`order`) is used through its Python methods, so it may be either
 * SortedKeys or SortedList; sort keys come from types/sortedset.py's sort_key.
 * Declines with keyspace events, WATCH, a SCAN index, access tracking or a TTL. */
#define NATIVE_ZRANK 8
#define NATIVE_ZREVRANK 9
#define NATIVE_ZPOPMIN 10
#define NATIVE_ZPOPMAX 11
#define NATIVE_ZADD 13

static PyObject *ZSET_TYPE, *SORT_KEY;  /* from setup_zset */
static Py_ssize_t ZS_SCORES, ZS_ORDER, ZS_BIG;
static PyObject *s_pop, *s_bisect_left, *s_add, *s_remove, *ZERO, *MINUS_ONE;

static PyObject *
setup_zset(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    if (argc != 2 || !PyType_Check(argv[0]) || !PyCallable_Check(argv[1])) {
        PyErr_SetString(PyExc_TypeError, "setup_zset(sortedset_type, sort_key)");
        return NULL;
    }
    if ((ZS_SCORES = slot_offset(argv[0], "scores")) < 0 || (ZS_ORDER = slot_offset(argv[0], "order")) < 0 ||
            (ZS_BIG = slot_offset(argv[0], "big")) < 0)
        return NULL;
    Py_INCREF(argv[0]);
    Py_XSETREF(ZSET_TYPE, argv[0]);
    Py_INCREF(argv[1]);
    Py_XSETREF(SORT_KEY, argv[1]);
    Py_RETURN_NONE;
}

/* The sorted set at args[1] when the twins may use it (borrowed), else NULL. */
static PyObject *plain_zset(ClientCore *client, PyObject *args) {
    if (ZSET_TYPE == NULL) return NULL;
    PyObject *key = PyList_GET_ITEM(args, 1);
    PyObject *db = plain_db(client, key, 0);
    if (db == NULL) return NULL;
    PyObject *zs = PyDict_GetItemWithError(SLOT(db, DB_DATA), key);
    if (zs == NULL || (PyObject *)Py_TYPE(zs) != ZSET_TYPE) return NULL;
    PyObject *scores = SLOT(zs, ZS_SCORES), *order = SLOT(zs, ZS_ORDER);
    if (scores == NULL || !PyDict_CheckExact(scores) || order == NULL) return NULL;
    return zs;
}

static PyObject *native_zrank(EngineCore *eng, ClientCore *client, PyObject *args, int reverse) {
    PyObject *member = PyList_GET_ITEM(args, 2);
    PyObject *zs = PyBytes_CheckExact(member) ? plain_zset(client, args) : NULL;
    if (zs == NULL) return NULL;
    PyObject *order = SLOT(zs, ZS_ORDER);
    PyObject *score = PyDict_GetItemWithError(SLOT(zs, ZS_SCORES), member);
    if (score == NULL) {
        if (PyErr_Occurred() || count_keyspace_hit(eng) < 0) return NULL;
        Py_RETURN_NONE;
    }
    Py_INCREF(score);
    PyObject *kargs[2] = {score, member};
    PyObject *skey = PyObject_Vectorcall(SORT_KEY, kargs, 2, NULL);
    Py_DECREF(score);
    PyObject *at = skey ? PyObject_CallMethodOneArg(order, s_bisect_left, skey) : NULL;
    Py_XDECREF(skey);
    if (at == NULL) return NULL;
    Py_ssize_t rank = PyLong_AsSsize_t(at), n = PyObject_Length(order);
    Py_DECREF(at);
    if ((rank == -1 || n == -1) && PyErr_Occurred()) return NULL;
    if (count_keyspace_hit(eng) < 0) return NULL;
    return PyLong_FromSsize_t(reverse ? n - 1 - rank : rank);
}

static PyObject *native_zpop(EngineCore *eng, ClientCore *client, PyObject *args, int from_max) {
    if (events_on(eng)) return NULL;
    PyObject *zs = plain_zset(client, args);
    if (zs == NULL) return NULL;
    PyObject *scores = SLOT(zs, ZS_SCORES), *order = SLOT(zs, ZS_ORDER);
    Py_ssize_t n = PyObject_Length(order);
    if (n < 2) {                                /* the last member deletes the key: Python */
        if (n < 0) PyErr_Clear();
        return NULL;
    }
    PyObject *skey = PyObject_CallMethodOneArg(order, s_pop, from_max ? MINUS_ONE : ZERO);
    if (skey == NULL) return NULL;
    PyObject *member = PyBytes_CheckExact(skey) && PyBytes_GET_SIZE(skey) >= 9
        ? PyBytes_FromStringAndSize(PyBytes_AS_STRING(skey) + 9, PyBytes_GET_SIZE(skey) - 9) : NULL;
    Py_DECREF(skey);
    if (member == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "sorted set index holds a bad key");
        return NULL;
    }
    PyObject *score = PyDict_GetItemWithError(scores, member);
    if (score == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "sorted set index and scores disagree");
        Py_DECREF(member);
        return NULL;
    }
    Py_INCREF(score);
    PyObject *reply = PyDict_DelItem(scores, member) == 0 ? PyList_New(2) : NULL;
    if (reply == NULL) {
        Py_DECREF(member);
        Py_DECREF(score);
        return NULL;
    }
    PyList_SET_ITEM(reply, 0, member);
    PyList_SET_ITEM(reply, 1, score);
    if (count_changes(eng, 1) < 0) {
        Py_DECREF(reply);
        return NULL;
    }
    return reply;
}

/* A score ZADD's twin takes: -?digits[.digits], which strtod and Python's float()
 * read the same way, with no overflow, underflow, NaN or infinity possible. */
static int plain_decimal(PyObject *arg, double *out) {
    if (!PyBytes_CheckExact(arg)) return 0;
    const char *p = PyBytes_AS_STRING(arg);
    Py_ssize_t n = PyBytes_GET_SIZE(arg), i = 0, digits = 0;
    if (n == 0 || n > 32) return 0;
    if (p[0] == '-') i++;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) digits++;
    if (digits == 0) return 0;
    if (i < n && p[i] == '.') {
        Py_ssize_t fraction = 0;
        for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++) fraction++;
        if (fraction == 0) return 0;
    }
    if (i != n) return 0;
    *out = PyOS_string_to_double(p, NULL, NULL);     /* the bytes end with a NUL */
    if (*out == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* ZADD key score member (commands/zsets.py _zadd_one) on an existing set already
 * in the skiplist encoding, with a plain decimal score and nothing listening. */
static PyObject *native_zadd(EngineCore *eng, ClientCore *client, PyObject *args) {
    PyObject *member = PyList_GET_ITEM(args, 3);
    double score;
    if (events_on(eng) || !PyBytes_CheckExact(member) || !plain_decimal(PyList_GET_ITEM(args, 2), &score))
        return NULL;
    PyObject *zs = plain_zset(client, args);
    if (zs == NULL || SLOT(zs, ZS_BIG) != Py_True) return NULL;
    PyObject *scores = SLOT(zs, ZS_SCORES), *order = SLOT(zs, ZS_ORDER);
    PyObject *old = PyDict_GetItemWithError(scores, member);
    if (old == NULL && PyErr_Occurred()) return NULL;
    if (old != NULL && (!PyFloat_CheckExact(old) || PyFloat_AS_DOUBLE(old) == score))
        return old == NULL || !PyFloat_CheckExact(old) ? NULL : PyLong_FromLong(0);
    PyObject *value = PyFloat_FromDouble(score);
    if (value == NULL) return NULL;
    PyObject *kargs[2] = {value, member}, *r;
    if (old != NULL) {                          /* a new score: move the member */
        PyObject *okargs[2] = {old, member};
        PyObject *oldkey = PyObject_Vectorcall(SORT_KEY, okargs, 2, NULL);
        r = oldkey ? PyObject_CallMethodOneArg(order, s_remove, oldkey) : NULL;
        Py_XDECREF(oldkey);
        if (r == NULL) goto fail;
        Py_DECREF(r);
    }
    PyObject *newkey = PyDict_SetItem(scores, member, value) == 0
        ? PyObject_Vectorcall(SORT_KEY, kargs, 2, NULL) : NULL;
    r = newkey ? PyObject_CallMethodOneArg(order, s_add, newkey) : NULL;
    Py_XDECREF(newkey);
    if (r == NULL) goto fail;
    Py_DECREF(r);
    Py_DECREF(value);
    if (count_changes(eng, 1) < 0) return NULL;
    return PyLong_FromLong(old == NULL ? 1 : 0);
fail:
    Py_DECREF(value);
    return NULL;
}

/* XADD key * field value (commands/streams.py xadd, types/stream.py Stream.add_pair)
 * when the entry goes into the open tail node of an existing stream and nothing
 * else is involved: no keyspace events, WATCH, tracking, TTL or blocked readers. */

#define NATIVE_XADD 2
#define LP_MAX_SIZE (1LL << 30)         /* STREAM_LISTPACK_MAX_SIZE */
#define FLAG_SAMEFIELDS 2

static PyObject *STREAM_TYPE, *NODE_TYPE;         /* from setup_stream */
static Py_ssize_t ST_NODES, ST_LAST_ID, ST_LENGTH, ST_ENTRIES_ADDED, ST_FIRST_ID, ST_HEAD;
static Py_ssize_t ND_BLOB, ND_LIVE, ND_FIELDS, ND_LPBYTES, ND_DEAD, ND_MS, ND_SEQ, ND_OFFS,
    ND_MSD, ND_SQ, ND_FLAGS;
static PyObject *s_append, *s_values, *s_ms_method, *s_waiting,
    *s_node_max_entries, *s_node_max_bytes;

static int lp_int_size(long long v) {
    if (v >= 0 && v <= 127) return 2;
    if (v >= -4096 && v <= 4095) return 3;
    if (v >= -32768 && v <= 32767) return 4;
    if (v >= -8388608 && v <= 8388607) return 5;
    if (v >= -2147483648LL && v <= 2147483647LL) return 6;
    return 10;
}

static int item_ull(PyObject *tuple, Py_ssize_t i, unsigned long long *out) {
    PyObject *v = PyTuple_GET_ITEM(tuple, i);
    if (!PyLong_CheckExact(v)) return -1;
    *out = PyLong_AsUnsignedLongLong(v);
    return (*out == (unsigned long long)-1 && PyErr_Occurred()) ? -1 : 0;
}

static int append_ull(PyObject *arr, unsigned long long v) {
    PyObject *n = PyLong_FromUnsignedLongLong(v);
    if (n == NULL) return -1;
    PyObject *r = PyObject_CallMethodOneArg(arr, s_append, n);
    Py_DECREF(n);
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 0;
}

/* Stream.add_pair: 1 and *sid set when the entry was appended; 0 to decline
 * (nothing changed); -1 on error. */
static int stream_add_pair(PyObject *stream, PyObject *field, PyObject *value, long long now_ms,
                           long long max_entries, long long max_bytes, PyObject **sid) {
    PyObject *nodes = SLOT(stream, ST_NODES);
    if (nodes == NULL || !PyList_CheckExact(nodes) || PyList_GET_SIZE(nodes) == 0) return 0;
    PyObject *node = PyList_GET_ITEM(nodes, PyList_GET_SIZE(nodes) - 1);
    if ((PyObject *)Py_TYPE(node) != NODE_TYPE) return 0;
    PyObject *blob = SLOT(node, ND_BLOB), *fields = SLOT(node, ND_FIELDS);
    PyObject *last_id = SLOT(stream, ST_LAST_ID);
    if (blob == NULL || !PyByteArray_CheckExact(blob) || fields == NULL ||
            !PyTuple_CheckExact(fields) || PyTuple_GET_SIZE(fields) != 1 || last_id == NULL ||
            !PyTuple_Check(last_id) || PyTuple_GET_SIZE(last_id) != 2)
        return 0;
    PyObject *master = PyTuple_GET_ITEM(fields, 0);
    Py_ssize_t n = PyBytes_GET_SIZE(value);
    if (!PyBytes_CheckExact(master) || PyBytes_GET_SIZE(master) != PyBytes_GET_SIZE(field) ||
            memcmp(PyBytes_AS_STRING(master), PyBytes_AS_STRING(field), PyBytes_GET_SIZE(field)))
        return 0;
    long long live, dead, lpbytes;
    if (slot_ll(node, ND_LIVE, &live) < 0 || slot_ll(node, ND_DEAD, &dead) < 0 ||
            slot_ll(node, ND_LPBYTES, &lpbytes) < 0)
        return PyErr_Occurred() ? -1 : 0;
    if (n >= 64 || live >= 127) return 0;
    if (n) {
        char c = PyBytes_AS_STRING(value)[0];
        if (c == '-' || (c >= '0' && c <= '9')) return 0;      /* integer-like values */
    }
    unsigned long long last_ms, last_seq, ms, seq, node_ms, node_seq;
    PyObject *nms = SLOT(node, ND_MS), *nseq = SLOT(node, ND_SEQ);
    if (item_ull(last_id, 0, &last_ms) < 0 || item_ull(last_id, 1, &last_seq) < 0 ||
            nms == NULL || nseq == NULL || !PyLong_CheckExact(nms) || !PyLong_CheckExact(nseq))
        return PyErr_Occurred() ? -1 : 0;
    node_ms = PyLong_AsUnsignedLongLong(nms);
    node_seq = PyLong_AsUnsignedLongLong(nseq);
    if (PyErr_Occurred()) return -1;
    if (now_ms >= 0 && (unsigned long long)now_ms > last_ms) {
        ms = (unsigned long long)now_ms;
        seq = 0;
    } else if (last_seq < 0xFFFFFFFFULL) {
        ms = last_ms;
        seq = last_seq + 1;
    } else {
        return 0;
    }
    if (ms < node_ms) return 0;
    unsigned long long msd = ms - node_ms;
    /* seq - node.seq, wrapped to int64 as Redis's lpAppendInteger sees it (_s64). */
    long long seqd = (long long)(seq - node_seq);
    int seqd_small = seq >= node_seq && seq - node_seq <= 127;
    long long limit = (max_bytes > 0 && max_bytes <= LP_MAX_SIZE) ? max_bytes : LP_MAX_SIZE;
    if (msd > 0xFFFFFFFFULL || lpbytes + PyBytes_GET_SIZE(field) + n >= limit ||
            (max_entries && live + dead >= max_entries))
        return 0;
    PyObject *flags = SLOT(node, ND_FLAGS), *offs = SLOT(node, ND_OFFS),
        *msds = SLOT(node, ND_MSD), *sqs = SLOT(node, ND_SQ);
    if (flags == NULL || !PyByteArray_CheckExact(flags) || offs == NULL || msds == NULL || sqs == NULL)
        return 0;

    /* The append, in add_pair's order. */
    Py_ssize_t offset = PyByteArray_GET_SIZE(blob);
    if (append_ull(offs, offset) < 0 || append_ull(msds, msd) < 0 || append_ull(sqs, seq) < 0)
        return -1;
    Py_ssize_t nf = PyByteArray_GET_SIZE(flags);
    if (PyByteArray_Resize(flags, nf + 1) < 0) return -1;
    PyByteArray_AS_STRING(flags)[nf] = FLAG_SAMEFIELDS;
    if (PyByteArray_Resize(blob, offset + 1 + n) < 0) return -1;
    PyByteArray_AS_STRING(blob)[offset] = (char)n;
    memcpy(PyByteArray_AS_STRING(blob) + offset + 1, PyBytes_AS_STRING(value), n);
    lpbytes += n + 6 + (msd <= 127 ? 2 : lp_int_size((long long)msd)) +
               (seqd_small ? 2 : lp_int_size(seqd));
    if (slot_set_ll(node, ND_LPBYTES, lpbytes) < 0 || slot_set_ll(node, ND_LIVE, live + 1) < 0)
        return -1;

    PyObject *ms_obj = PyLong_FromUnsignedLongLong(ms);
    PyObject *seq_obj = PyLong_FromUnsignedLongLong(seq);
    PyObject *pair = (ms_obj && seq_obj) ? PyTuple_Pack(2, ms_obj, seq_obj) : NULL;
    PyObject *targs = pair ? PyTuple_Pack(1, pair) : NULL;
    Py_XDECREF(ms_obj); Py_XDECREF(seq_obj); Py_XDECREF(pair);
    if (targs == NULL) return -1;
    PyObject *id = PyTuple_Type.tp_new(Py_TYPE(last_id), targs, NULL);     /* StreamID(ms, seq) */
    Py_DECREF(targs);
    if (id == NULL) return -1;
    long long length, added;
    if (slot_ll(stream, ST_LENGTH, &length) < 0 || slot_ll(stream, ST_ENTRIES_ADDED, &added) < 0 ||
            slot_set_ll(stream, ST_LENGTH, length + 1) < 0 ||
            slot_set_ll(stream, ST_ENTRIES_ADDED, added + 1) < 0) {
        Py_DECREF(id);
        return -1;
    }
    Py_INCREF(id);
    slot_set(stream, ST_LAST_ID, id);
    if (length + 1 == 1) {
        Py_INCREF(id);
        slot_set(stream, ST_FIRST_ID, id);
    }
    *sid = id;
    return 1;
}

/* XADD's MAXLEN ~ N after the append (_Trim.apply): Stream.trim runs only when it
 * has a node to drop, which its own first checks would find: the stream is over N
 * and the head node can go without leaving fewer than N (and fits the default
 * LIMIT, 100 nodes' worth). */
static int approx_trim(PyObject *stream, long long maxlen, long long node_max_entries) {
    long long length, head;
    if (slot_ll(stream, ST_LENGTH, &length) < 0 || slot_ll(stream, ST_HEAD, &head) < 0) return -1;
    if (length <= maxlen) return 0;
    PyObject *nodes = SLOT(stream, ST_NODES);
    if (nodes == NULL || !PyList_CheckExact(nodes) || head >= PyList_GET_SIZE(nodes)) return 0;
    PyObject *first = PyList_GET_ITEM(nodes, head);
    long long live;
    if ((PyObject *)Py_TYPE(first) != NODE_TYPE || slot_ll(first, ND_LIVE, &live) < 0) return -1;
    long long limit = 100 * node_max_entries;             /* default_trim_limit */
    if (limit <= 0) limit = 10000;
    if (limit > 1000000) limit = 1000000;
    if (live > limit || length - live < maxlen) return 0;
    PyObject *r = PyObject_CallMethod(stream, "trim", "sLOL", "maxlen", maxlen, Py_True, limit);
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 0;
}

static int is_word(PyObject *arg, const char *lower) {
    Py_ssize_t n = PyBytes_GET_SIZE(arg);
    if ((size_t)n != strlen(lower)) return 0;
    const char *p = PyBytes_AS_STRING(arg);
    for (Py_ssize_t i = 0; i < n; i++)
        if (Py_TOLOWER((unsigned char)p[i]) != lower[i]) return 0;
    return 1;
}

/* XADD key * field value, or XADD key MAXLEN ~ N * field value (the trim is
 * Stream.trim's, called when it has something to drop). */
static PyObject *native_xadd(EngineCore *eng, ClientCore *client, PyObject *args) {
    Py_ssize_t idpos = 2;
    long long maxlen = -1;
    if (PyList_GET_SIZE(args) == 8) {
        PyObject *n = PyList_GET_ITEM(args, 4);
        if (!is_word(PyList_GET_ITEM(args, 2), "maxlen") || !is_word(PyList_GET_ITEM(args, 3), "~") ||
                PyBytes_GET_SIZE(n) > 18 ||
                !canonical_ll(PyBytes_AS_STRING(n), PyBytes_GET_SIZE(n), &maxlen) || maxlen < 0)
            return NULL;
        idpos = 5;
    }
    PyObject *key = PyList_GET_ITEM(args, 1), *star = PyList_GET_ITEM(args, idpos);
    if (STREAM_TYPE == NULL || PyBytes_GET_SIZE(star) != 1 || PyBytes_AS_STRING(star)[0] != '*')
        return NULL;
    int events = events_on(eng);
    int waiting = (eng->blocking != NULL && eng->blocking != Py_None)
        ? attr_true(eng->blocking, s_waiting) : 0;
    if (events != 0 || waiting != 0) {
        PyErr_Clear();
        return NULL;
    }
    PyObject *db = plain_db(client, key, 0);
    if (db == NULL) return NULL;
    PyObject *stream = PyDict_GetItemWithError(SLOT(db, DB_DATA), key);
    if (stream == NULL || (PyObject *)Py_TYPE(stream) != STREAM_TYPE) return NULL;
    Py_INCREF(stream);
    PyObject *reply = NULL, *values = NULL, *now = NULL, *sid = NULL;
    /* engine.config.values[...] and engine.clock.ms(), as the Python handler reads them. */
    values = config_values(eng);
    if (values == NULL) goto out;
    PyObject *me = PyDict_GetItemWithError(values, s_node_max_entries);
    PyObject *mb = me ? PyDict_GetItemWithError(values, s_node_max_bytes) : NULL;
    if (mb == NULL) goto out;
    long long max_entries = PyLong_AsLongLong(me), max_bytes = PyLong_AsLongLong(mb);
    if (PyErr_Occurred()) goto out;
    long long now_ms;
    if (engine_now_ms(eng, &now_ms) < 0) goto out;
    int added = stream_add_pair(stream, PyList_GET_ITEM(args, idpos + 1),
                                PyList_GET_ITEM(args, idpos + 2), now_ms, max_entries, max_bytes, &sid);
    if (added <= 0) goto out;
    if (maxlen >= 0 && approx_trim(stream, maxlen, max_entries) < 0) goto out;
    /* The reply: b"%d-%d" % sid. */
    unsigned long long ms, seq;
    if (item_ull(sid, 0, &ms) < 0 || item_ull(sid, 1, &seq) < 0) goto out;
    char text[48];
    int len = snprintf(text, sizeof text, "%llu-%llu", ms, seq);
    reply = PyBytes_FromStringAndSize(text, len);
    if (reply == NULL) goto out;
    if (count_changes(eng, 1) < 0) { Py_CLEAR(reply); goto out; }
    /* With propagation on, XADD * is written with its concrete ID (engine.rewrite),
     * and MAXLEN ~ N as the exact MAXLEN = <length> it amounted to (_Trim.rewritten). */
    if (eng->sinks != NULL && truthy(eng->sinks)) {
        PyObject *argv = PyList_GetSlice(args, 0, PyList_GET_SIZE(args));
        if (argv == NULL) { Py_CLEAR(reply); goto out; }
        Py_INCREF(reply);
        PyList_SetItem(argv, idpos, reply);
        if (maxlen >= 0) {
            long long length = 0;
            char digits[24];
            PyObject *eq = PyBytes_FromStringAndSize("=", 1);
            PyObject *len_arg = slot_ll(stream, ST_LENGTH, &length) == 0
                ? PyBytes_FromStringAndSize(digits, put_decimal(digits, length)) : NULL;
            if (eq == NULL || len_arg == NULL) {
                Py_XDECREF(eq); Py_XDECREF(len_arg); Py_DECREF(argv); Py_CLEAR(reply); goto out;
            }
            PyList_SetItem(argv, 3, eq);
            PyList_SetItem(argv, 4, len_arg);
        }
        if (eng->effects == NULL || eng->effects == Py_None) {
            PyObject *effects = PyList_New(0);
            if (effects == NULL) { Py_DECREF(argv); Py_CLEAR(reply); goto out; }
            Py_XSETREF(eng->effects, effects);
        }
        int rc = PyList_Check(eng->effects) ? PyList_Append(eng->effects, argv) : -1;
        Py_DECREF(argv);
        if (rc < 0) { Py_CLEAR(reply); goto out; }
    }
out:
    /* Before the append, a failed lookup only means "not the common case". */
    if (reply == NULL && sid == NULL && PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_MemoryError))
        PyErr_Clear();
    Py_XDECREF(sid);
    Py_XDECREF(now);
    Py_XDECREF(values);
    Py_DECREF(stream);
    return reply;
}

static PyObject *
setup_stream(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    if (argc != 2 || !PyType_Check(argv[0]) || !PyType_Check(argv[1])) {
        PyErr_SetString(PyExc_TypeError, "setup_stream(stream_type, node_type)");
        return NULL;
    }
    PyObject *st = argv[0], *nd = argv[1];
    if ((ST_NODES = slot_offset(st, "_nodes")) < 0 || (ST_LAST_ID = slot_offset(st, "last_id")) < 0 ||
            (ST_LENGTH = slot_offset(st, "length")) < 0 ||
            (ST_ENTRIES_ADDED = slot_offset(st, "entries_added")) < 0 ||
            (ST_FIRST_ID = slot_offset(st, "first_id")) < 0 || (ST_HEAD = slot_offset(st, "_head")) < 0 ||
            (ND_BLOB = slot_offset(nd, "blob")) < 0 || (ND_LIVE = slot_offset(nd, "live")) < 0 ||
            (ND_FIELDS = slot_offset(nd, "fields")) < 0 ||
            (ND_LPBYTES = slot_offset(nd, "lpbytes")) < 0 || (ND_DEAD = slot_offset(nd, "dead")) < 0 ||
            (ND_MS = slot_offset(nd, "ms")) < 0 || (ND_SEQ = slot_offset(nd, "seq")) < 0 ||
            (ND_OFFS = slot_offset(nd, "offs")) < 0 || (ND_MSD = slot_offset(nd, "msd")) < 0 ||
            (ND_SQ = slot_offset(nd, "sq")) < 0 || (ND_FLAGS = slot_offset(nd, "flags")) < 0)
        return NULL;
    Py_INCREF(st);
    Py_XSETREF(STREAM_TYPE, st);
    Py_INCREF(nd);
    Py_XSETREF(NODE_TYPE, nd);
    Py_RETURN_NONE;
}

/* -- Engine.execute's fast path ---------------------------------------------------- */

#define NATIVE_EXEC 7
#define NATIVE_MULTI 12
static PyObject *native_exec(EngineCore *eng, ClientCore *client, PyObject *args);
static PyObject *native_multi(EngineCore *eng, ClientCore *client);

/* Run `cmd` for the client: call() of engine/engine.py minus the MONITOR feed
 * (a monitor sets a busy bit, so it never gets here). New reference or NULL. */
static PyObject *
call_command(EngineCore *eng, ClientCore *client, CommandCore *cmd, PyObject *args)
{
    PyObject *dirty_before = eng->dirty;
    Py_INCREF(dirty_before);
    set_field(&client->last_command, cmd->fullname);
    set_field(&eng->reading, cmd->is_readonly ? Py_True : Py_False);

    long long start = now_ns();
    PyObject *reply = NULL;
    if (cmd->native == NATIVE_INCR && PyList_GET_SIZE(args) == 2)
        reply = native_incr(eng, client, args);
    else if (cmd->native == NATIVE_XADD && (PyList_GET_SIZE(args) == 5 || PyList_GET_SIZE(args) == 8))
        reply = native_xadd(eng, client, args);
    else if (cmd->native == NATIVE_SET && PyList_GET_SIZE(args) == 3)
        reply = native_set(eng, client, args);
    else if (cmd->native == NATIVE_GET && PyList_GET_SIZE(args) == 2)
        reply = native_get(eng, client, args);
    else if (cmd->native == NATIVE_EXPIRE && PyList_GET_SIZE(args) == 3)
        reply = native_expire(eng, client, args);
    else if (cmd->native == NATIVE_HSET && PyList_GET_SIZE(args) == 4)
        reply = native_hset(eng, client, args);
    else if (cmd->native == NATIVE_EXEC)
        reply = native_exec(eng, client, args);
    else if (cmd->native == NATIVE_MULTI)
        reply = native_multi(eng, client);
    else if ((cmd->native == NATIVE_ZRANK || cmd->native == NATIVE_ZREVRANK) && PyList_GET_SIZE(args) == 3)
        reply = native_zrank(eng, client, args, cmd->native == NATIVE_ZREVRANK);
    else if ((cmd->native == NATIVE_ZPOPMIN || cmd->native == NATIVE_ZPOPMAX) && PyList_GET_SIZE(args) == 2)
        reply = native_zpop(eng, client, args, cmd->native == NATIVE_ZPOPMAX);
    else if (cmd->native == NATIVE_ZADD && PyList_GET_SIZE(args) == 4)
        reply = native_zadd(eng, client, args);
    if (reply == NULL && !PyErr_Occurred()) {
        PyObject *argv[2] = {(PyObject *)client, args};
        reply = PyObject_Vectorcall(cmd->handler, argv, 2, NULL);
    }
    if (reply == NULL) {
        if (PyErr_ExceptionMatches(COMMAND_ERROR)) {
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyErr_NormalizeException(&type, &value, &tb);
            reply = PyObject_CallMethodObjArgs((PyObject *)eng, s_failed, (PyObject *)cmd, value, NULL);
            Py_XDECREF(type); Py_XDECREF(value); Py_XDECREF(tb);
        } else if (PyErr_ExceptionMatches(PyExc_Exception)) {
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyErr_NormalizeException(&type, &value, &tb);
            if (tb != NULL) PyException_SetTraceback(value, tb);
            /* crashed() logs with log.exception: make this the exception being handled. */
            PyObject *outer = PyErr_GetHandledException();
            PyErr_SetHandledException(value);
            reply = PyObject_CallMethodObjArgs((PyObject *)eng, s_crashed, (PyObject *)cmd, args, value, NULL);
            PyErr_SetHandledException(outer);
            Py_XDECREF(outer);
            Py_XDECREF(type); Py_XDECREF(value); Py_XDECREF(tb);
        }
        if (reply == NULL) {
            set_field(&eng->reading, Py_False);
            Py_DECREF(dirty_before);
            return NULL;
        }
    }
    long long elapsed = (now_ns() - start) / 1000;
    set_field(&eng->reading, Py_False);
    cmd->calls += 1;
    cmd->usec += elapsed;

    long long threshold = PyLong_AsLongLong(eng->slowlog_threshold);
    if (threshold == -1 && PyErr_Occurred()) goto fail;
    if (elapsed >= threshold && threshold >= 0 && !cmd->skip_slowlog) {
        PyObject *us = PyLong_FromLongLong(elapsed);
        PyObject *r = us ? PyObject_CallMethodObjArgs((PyObject *)eng, s_log_slow, client, args, us, NULL) : NULL;
        Py_XDECREF(us);
        if (r == NULL) goto fail;
        Py_DECREF(r);
    }

    PyObject *effects = eng->effects;
    if (eng->dirty != dirty_before) {
        int changed = PyObject_RichCompareBool(eng->dirty, dirty_before, Py_NE);
        if (changed < 0) goto fail;
        PyObject *sinks = eng->sinks;
        if (changed && sinks != NULL && PyObject_IsTrue(sinks)) {
            PyObject *db = PyObject_GetAttr((PyObject *)client, s_db);
            PyObject *index = db ? PyObject_GetAttr(db, s_index) : NULL;
            Py_XDECREF(db);
            if (index == NULL) goto fail;
            PyObject *what;
            if (effects == NULL || effects == Py_None)
                what = PyTuple_Pack(1, args);
            else {
                what = effects;
                Py_INCREF(what);
            }
            PyObject *r = what ? PyObject_CallMethodObjArgs((PyObject *)eng, s_propagate, index, what, NULL) : NULL;
            Py_DECREF(index);
            Py_XDECREF(what);
            if (r == NULL) goto fail;
            Py_DECREF(r);
        }
    }
    if (eng->effects != Py_None) set_field(&eng->effects, Py_None);
    Py_DECREF(dirty_before);
    return reply;

fail:
    Py_DECREF(dirty_before);
    Py_DECREF(reply);
    return NULL;
}

static PyObject *call3(PyObject *fn, PyObject *a, PyObject *b, PyObject *c) {
    PyObject *argv[3] = {a, b, c};
    return PyObject_Vectorcall(fn, argv, 3, NULL);
}

static PyObject *queue_command(EngineCore *eng, ClientCore *client, PyObject *cmd, PyObject *args) {
    PyObject *queue = client->multi;
    if (queue == NULL || !PyList_CheckExact(queue))
        return call3(EXECUTE_PY, (PyObject *)eng, (PyObject *)client, args);
    PyObject *entry = PyTuple_Pack(2, cmd, args);
    int rc = entry ? PyList_Append(queue, entry) : -1;
    Py_XDECREF(entry);
    if (rc < 0) return NULL;
    Py_INCREF(QUEUED);
    return QUEUED;
}

/* EXEC (commands/transactions.py exec_ and _exec) of a transaction with no WATCH,
 * no refused command, nothing propagating and no MONITOR: run the queue through
 * call_command and end the transaction. Declines before it changes anything. */
static PyObject *EMPTY_TUPLE;

static PyObject *native_exec(EngineCore *eng, ClientCore *client, PyObject *args) {
    PyObject *queue = client->multi;
    if (eng->sinks == NULL || truthy(eng->sinks) || !PyLong_CheckExact(eng->busy) ||
            (PyLong_AsLong(eng->busy) & BUSY_MONITOR) || !PyLong_CheckExact(client->gate) ||
            queue == NULL || !PyList_CheckExact(queue) || client->deny_blocking == NULL ||
            truthy(client->watching) != 0 || truthy(client->multi_error) != 0 ||
            truthy(client->dirty_cas) != 0) {
        PyErr_Clear();
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(queue);
    for (Py_ssize_t i = 0; i < n; i++) {        /* what MULTI queued: (Command, args) */
        PyObject *entry = PyList_GET_ITEM(queue, i);
        if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 2 ||
                !PyObject_TypeCheck(PyTuple_GET_ITEM(entry, 0), &CommandCore_Type) ||
                !PyList_CheckExact(PyTuple_GET_ITEM(entry, 1)))
            return NULL;
    }
    PyObject *results = PyList_New(n);
    if (results == NULL) return NULL;
    /* The queue list belongs to this transaction: nothing the commands do replaces
     * it before the end (MULTI, EXEC, DISCARD and RESET are never queued). */
    Py_INCREF(queue);
    if (n) {
        /* Blocking commands inside EXEC answer at once (CLIENT_DENY_BLOCKING). */
        PyObject *was_denied = client->deny_blocking;
        Py_INCREF(was_denied);
        set_field(&client->deny_blocking, Py_True);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *entry = PyList_GET_ITEM(queue, i);
            Py_INCREF(entry);
            PyObject *reply = call_command(eng, client, (CommandCore *)PyTuple_GET_ITEM(entry, 0),
                                           PyTuple_GET_ITEM(entry, 1));
            Py_DECREF(entry);
            if (reply == NULL) {
                Py_XSETREF(client->deny_blocking, was_denied);
                Py_DECREF(results);
                Py_DECREF(queue);
                return NULL;
            }
            PyList_SET_ITEM(results, i, reply);
        }
        Py_XSETREF(client->deny_blocking, was_denied);
    }
    Py_DECREF(queue);
    /* discard_transaction: no WATCH to drop (checked above). */
    PyObject *gate = PyLong_FromLong(PyLong_AsLong(client->gate) & ~GATE_MULTI);
    if (gate == NULL) {
        Py_DECREF(results);
        return NULL;
    }
    Py_SETREF(client->gate, gate);
    set_field(&client->multi, Py_None);
    set_field(&client->multi_error, Py_False);
    set_field(&client->dirty_cas, Py_False);
    set_field(&eng->effects, EMPTY_TUPLE);      /* already propagated: nothing to add */
    return results;
}

/* MULTI (commands/transactions.py multi) outside a transaction: an empty queue. */

static PyObject *native_multi(EngineCore *eng, ClientCore *client) {
    if (client->multi != Py_None || client->gate == NULL || !PyLong_CheckExact(client->gate) ||
            OK_REPLY == NULL)
        return NULL;
    long gate = PyLong_AsLong(client->gate);
    PyObject *queue = PyList_New(0);
    PyObject *new_gate = queue ? PyLong_FromLong(gate | GATE_MULTI) : NULL;
    if (new_gate == NULL) {
        Py_XDECREF(queue);
        return NULL;
    }
    Py_XSETREF(client->multi, queue);
    set_field(&client->multi_error, Py_False);
    Py_SETREF(client->gate, new_gate);
    Py_INCREF(OK_REPLY);
    return OK_REPLY;
}

/* The engine fields call_command reads are set (Engine.__init__ has run). */
static inline int engine_ready(EngineCore *eng) {
    return eng->busy != NULL && eng->dirty != NULL && eng->reading != NULL &&
           eng->effects != NULL && eng->slowlog_threshold != NULL;
}

/* The command table row of a command name, remembered by its bytes: the name of
 * every request is a new bytes object, and the table's dict would hash and compare
 * it again each time. The table (engine.lookup) is built once and never changed;
 * another engine's table (tests, embedded servers) empties the cache. */
#define NAME_CACHE_SLOTS 64
#define NAME_CACHE_LEN 24

typedef struct {
    Py_ssize_t len;
    char name[NAME_CACHE_LEN];
    PyObject *cmd;
} NameSlot;

static NameSlot name_cache[NAME_CACHE_SLOTS];
static PyObject *name_cache_table;      /* the engine.lookup the slots came from */

static PyObject *lookup_command(EngineCore *eng, PyObject *name) {
    Py_ssize_t n = PyBytes_CheckExact(name) ? PyBytes_GET_SIZE(name) : NAME_CACHE_LEN + 1;
    if (n > NAME_CACHE_LEN)
        return PyDict_GetItemWithError(eng->lookup, name);
    if (eng->lookup != name_cache_table) {
        for (int i = 0; i < NAME_CACHE_SLOTS; i++) Py_CLEAR(name_cache[i].cmd);
        Py_INCREF(eng->lookup);
        Py_XSETREF(name_cache_table, eng->lookup);
    }
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(name);
    unsigned h = 2166136261u;                   /* FNV-1a */
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    NameSlot *slot = &name_cache[(h ^ (h >> 16)) % NAME_CACHE_SLOTS];
    if (slot->cmd != NULL && slot->len == n && memcmp(slot->name, s, n) == 0)
        return slot->cmd;
    PyObject *found = PyDict_GetItemWithError(eng->lookup, name);
    if (found != NULL) {
        Py_INCREF(found);
        Py_XSETREF(slot->cmd, found);
        slot->len = n;
        memcpy(slot->name, s, n);
    }
    return found;
}

/* Engine.execute(client, args): the C path when it applies, else the Python one. */
static PyObject *
execute(EngineCore *eng, ClientCore *client, PyObject *args)
{
    Py_ssize_t n = PyList_GET_SIZE(args);
    if (eng->lookup == NULL || !PyDict_Check(eng->lookup))
        return call3(EXECUTE_PY, (PyObject *)eng, (PyObject *)client, args);
    PyObject *found = lookup_command(eng, PyList_GET_ITEM(args, 0));
    if (found != NULL && PyObject_TypeCheck(found, &CommandCore_Type) && engine_ready(eng)) {
        CommandCore *cmd = (CommandCore *)found;
        int arity = cmd->arity;
        if (cmd->handler != NULL && cmd->fullname != NULL && client->last_command != NULL
                && !((arity > 0 && n != arity) || n < -arity)
                && (cmd->subcommands == NULL || cmd->subcommands == Py_None)
                && !truthy(eng->busy)) {
            if (!truthy(client->gate))
                return call_command(eng, client, cmd, args);
            /* Inside MULTI and nothing else: queue it, or run EXEC, DISCARD ... at once
             * (commands/transactions.py _gate; with no other gate or busy bit, every
             * other gate hook lets them through). */
            if (PyLong_CheckExact(client->gate) && PyLong_AsLong(client->gate) == GATE_MULTI) {
                if (cmd->queued_in_multi)
                    return queue_command(eng, client, found, args);
                if (cmd->runs_in_multi)
                    return call_command(eng, client, cmd, args);
            }
        }
    } else if (found == NULL && PyErr_Occurred()) {
        return NULL;
    }
    return call3(EXECUTE_PY, (PyObject *)eng, (PyObject *)client, args);
}

/* Hand a call the C path does not take to the Python twin, `self` first. */
static PyObject *delegate(PyObject *fn, PyObject *self, PyObject *const *argv, Py_ssize_t argc) {
    if (fn == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "vermilion._speedups.setup_engine() was not called");
        return NULL;
    }
    if (argc > 3) argc = 3;             /* too many: the Python function raises TypeError */
    PyObject *full[4] = {self, NULL, NULL, NULL};
    for (Py_ssize_t i = 0; i < argc; i++) full[i + 1] = argv[i];
    return PyObject_Vectorcall(fn, full, 1 + argc, NULL);
}

/* EngineCore.c_execute and c_call: what Engine.execute and Engine.call become. */
static PyObject *
engine_c_execute(PyObject *self, PyObject *const *argv, Py_ssize_t argc)
{
    if (argc != 2 || EXECUTE_PY == NULL || !PyObject_TypeCheck(argv[0], &ClientCore_Type) ||
            !PyList_CheckExact(argv[1]) || PyList_GET_SIZE(argv[1]) == 0)
        return delegate(EXECUTE_PY, self, argv, argc);
    return execute((EngineCore *)self, (ClientCore *)argv[0], argv[1]);
}

static PyObject *
engine_c_call(PyObject *self, PyObject *const *argv, Py_ssize_t argc)
{
    EngineCore *eng = (EngineCore *)self;
    /* call() feeds MONITOR clients first: that stays in Python. */
    if (argc != 3 || CALL_PY == NULL || !PyObject_TypeCheck(argv[0], &ClientCore_Type) ||
            !PyObject_TypeCheck(argv[1], &CommandCore_Type) || !PyList_CheckExact(argv[2]) ||
            !engine_ready(eng) || !PyLong_CheckExact(eng->busy) ||
            ((CommandCore *)argv[1])->handler == NULL || ((CommandCore *)argv[1])->fullname == NULL ||
            ((ClientCore *)argv[0])->last_command == NULL ||
            (PyLong_AsLong(eng->busy) & BUSY_MONITOR))
        return delegate(CALL_PY, self, argv, argc);
    return call_command(eng, (ClientCore *)argv[0], (CommandCore *)argv[1], argv[2]);
}

static PyMethodDef engine_methods[] = {
    {"c_execute", (PyCFunction)(void (*)(void))engine_c_execute, METH_FASTCALL,
     "execute(client, args) with the common case in C."},
    {"c_call", (PyCFunction)(void (*)(void))engine_c_call, METH_FASTCALL,
     "call(client, cmd, args) in C unless MONITOR clients are listening."},
    {NULL}
};

/* -- replies ----------------------------------------------------------------------- */

static PyObject *call_method(PyObject *obj, PyObject *name, PyObject *a, PyObject *b, PyObject *c) {
    return PyObject_CallMethodObjArgs(obj, name, a, b, c, NULL);
}

/* Hand the rest of the read to a Connection method (conn.<name>(data, done, out)). */
static PyObject *hand_over(PyObject *conn, PyObject *name, PyObject *data, Py_ssize_t done, PyObject *out) {
    PyObject *n = PyLong_FromSsize_t(done);
    if (n == NULL) return NULL;
    PyObject *r = call_method(conn, name, data, n, out);
    Py_DECREF(n);
    return r;
}

/* -- reply encoding: server/resp.py's encode for the common types ---------------------
 *
 * Bulk strings, integers, statuses, nulls, arrays, maps and booleans are written
 * into one growing buffer that becomes a single bytes object in `out`; any other
 * value (doubles, verbatim strings, errors, sets, pushes ...) is handed to the
 * Python encode, after what the buffer holds so far. */

#define WIRE_INLINE 128            /* most replies fit: no allocation but the bytes object */

typedef struct {
    char *data;             /* `inline_buf` until a reply outgrows it */
    Py_ssize_t len, cap;
    PyObject *out;          /* the caller's list of bytes pieces */
    int resp3;
    char inline_buf[WIRE_INLINE];
} Wire;

static void wire_init(Wire *w, PyObject *out, int resp3) {
    w->data = w->inline_buf;
    w->len = 0;
    w->cap = WIRE_INLINE;
    w->out = out;
    w->resp3 = resp3;
}

static void wire_release(Wire *w) {
    if (w->data != w->inline_buf) PyMem_Free(w->data);
}

static int wire_reserve(Wire *w, Py_ssize_t more) {
    if (w->len + more <= w->cap) return 0;
    Py_ssize_t cap = w->cap * 2;
    while (cap < w->len + more) cap *= 2;
    char *data = PyMem_Malloc(cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(data, w->data, w->len);
    wire_release(w);
    w->data = data;
    w->cap = cap;
    return 0;
}

static int wire_put(Wire *w, const char *p, Py_ssize_t n) {
    if (wire_reserve(w, n) < 0) return -1;
    memcpy(w->data + w->len, p, n);
    w->len += n;
    return 0;
}

/* Decimal digits of `n` written at `p`; returns their count (snprintf is slow). */
static int put_decimal(char *p, long long n) {
    char tmp[24];
    int len = 0;
    unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
    do {
        tmp[len++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    int at = 0;
    if (n < 0) p[at++] = '-';
    while (len) p[at++] = tmp[--len];
    return at;
}

/* A type byte and a number: `$5\r\n`, `*3\r\n`, `:42\r\n`. */
static int wire_head(Wire *w, char type, long long n) {
    if (wire_reserve(w, 24) < 0) return -1;
    char *p = w->data + w->len;
    p[0] = type;
    int len = 1 + put_decimal(p + 1, n);
    p[len] = '\r';
    p[len + 1] = '\n';
    w->len += len + 2;
    return 0;
}

static int wire_bulk(Wire *w, const char *p, Py_ssize_t n) {
    if (wire_head(w, '$', n) < 0 || wire_reserve(w, n + 2) < 0) return -1;
    memcpy(w->data + w->len, p, n);
    w->data[w->len + n] = '\r';
    w->data[w->len + n + 1] = '\n';
    w->len += n + 2;
    return 0;
}

/* Move what the buffer holds into `out` as one bytes object. */
static int wire_flush(Wire *w) {
    if (w->len == 0) return 0;
    PyObject *piece = PyBytes_FromStringAndSize(w->data, w->len);
    if (piece == NULL) return -1;
    int rc = PyList_Append(w->out, piece);
    Py_DECREF(piece);
    w->len = 0;
    return rc;
}

static int wire_value(Wire *w, PyObject *v, int depth);
static int wire_python(Wire *w, PyObject *v);

/* A double as Redis 7.0 writes it (replies.format_double): %.17g, inf and -inf; a
 * bulk string in RESP2, a `,` double in RESP3. NaN goes to Python for its sign. */
static int wire_double(Wire *w, double d, PyObject *v) {
    char text[40];
    int n;
    if (isnan(d))
        return wire_python(w, v);
    if (isinf(d))
        n = snprintf(text, sizeof text, d > 0 ? "inf" : "-inf");
    else
        n = snprintf(text, sizeof text, "%.17g", d);
    if (!w->resp3)
        return wire_bulk(w, text, n);
    if (wire_reserve(w, n + 3) < 0) return -1;
    char *p = w->data + w->len;
    p[0] = ',';
    memcpy(p + 1, text, n);
    p[n + 1] = '\r';
    p[n + 2] = '\n';
    w->len += n + 3;
    return 0;
}

static int wire_python(Wire *w, PyObject *v) {
    if (wire_flush(w) < 0) return -1;
    PyObject *argv[3] = {v, w->out, w->resp3 ? Py_True : Py_False};
    PyObject *r = PyObject_Vectorcall(ENCODE, argv, 3, NULL);
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 0;
}

static int wire_value(Wire *w, PyObject *v, int depth) {
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyBytes_Type)
        return wire_bulk(w, PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v));
    if (t == &PyLong_Type) {
        int overflow;
        long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow) return wire_python(w, v);
        if (n == -1 && PyErr_Occurred()) return -1;
        return wire_head(w, ':', n);
    }
    if ((PyObject *)t == STATUS_TYPE) {
        PyObject *encoded = PyObject_GetAttr(v, s_encoded);
        if (encoded == NULL) return -1;
        int rc = PyBytes_Check(encoded)
            ? wire_put(w, PyBytes_AS_STRING(encoded), PyBytes_GET_SIZE(encoded))
            : wire_python(w, v);
        Py_DECREF(encoded);
        return rc;
    }
    if (v == Py_None)
        return w->resp3 ? wire_put(w, "_\r\n", 3) : wire_put(w, "$-1\r\n", 5);
    if (depth > 64)                      /* deep nesting: let Python recurse */
        return wire_python(w, v);
    if (t == &PyList_Type || t == &PyTuple_Type) {
        PyObject *seq = v;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        if (wire_head(w, '*', n) < 0) return -1;
        /* Lists may change if Python code runs for one item: index with a bound check. */
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq) && i < n; i++) {
            PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
            Py_INCREF(item);
            int rc = wire_value(w, item, depth + 1);
            Py_DECREF(item);
            if (rc < 0) return -1;
        }
        return 0;
    }
    if (t == &PyDict_Type) {
        Py_ssize_t n = PyDict_GET_SIZE(v);
        if (w->resp3 ? wire_head(w, '%', n) : wire_head(w, '*', 2 * n)) return -1;
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(v, &pos, &key, &value)) {
            Py_INCREF(key);
            Py_INCREF(value);
            int rc = wire_value(w, key, depth + 1);
            if (rc == 0) rc = wire_value(w, value, depth + 1);
            Py_DECREF(key);
            Py_DECREF(value);
            if (rc < 0) return -1;
        }
        return 0;
    }
    if (t == &PyByteArray_Type)
        return wire_bulk(w, PyByteArray_AS_STRING(v), PyByteArray_GET_SIZE(v));
    if (v == NULL_ARRAY)
        return w->resp3 ? wire_put(w, "_\r\n", 3) : wire_put(w, "*-1\r\n", 5);
    if (t == &PyBool_Type) {
        if (w->resp3) return wire_put(w, v == Py_True ? "#t\r\n" : "#f\r\n", 4);
        return wire_put(w, v == Py_True ? ":1\r\n" : ":0\r\n", 4);
    }
    if (t == &PyFloat_Type)
        return wire_double(w, PyFloat_AS_DOUBLE(v), v);
    return wire_python(w, v);
}

/* encode(value, out, resp3): append the wire form of `value` to the list `out`. */
static int encode_into(PyObject *value, PyObject *out, int resp3) {
    if ((PyObject *)Py_TYPE(value) == STATUS_TYPE) {
        /* A reply that is only a status (+OK): its bytes are already made. */
        PyObject *encoded = PyObject_GetAttr(value, s_encoded);
        if (encoded == NULL) return -1;
        int rc = PyBytes_CheckExact(encoded) ? PyList_Append(out, encoded) : -2;
        Py_DECREF(encoded);
        if (rc != -2) return rc;
    }
    Wire w;
    wire_init(&w, out, resp3);
    int rc = wire_value(&w, value, 0);
    if (rc == 0) rc = wire_flush(&w);
    wire_release(&w);
    return rc;
}

static PyObject *
encode_py(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    if (argc != 3 || !PyList_Check(argv[1])) {
        PyErr_SetString(PyExc_TypeError, "encode(value, out: list, resp3)");
        return NULL;
    }
    if (ENCODE == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "vermilion._speedups.setup_encoder() was not called");
        return NULL;
    }
    int resp3 = PyObject_IsTrue(argv[2]);
    if (resp3 < 0 || encode_into(argv[0], argv[1], resp3) < 0) return NULL;
    Py_RETURN_NONE;
}

/* -- output: Connection._write's deferral and Server.flush_pending -------------------- */

/* Server.schedule_flush(conn): the connection joins the queue written at the end of
 * the loop turn; the first one of a turn asks the loop to run flush_pending. */
static int schedule_flush(PyObject *conn, PyObject *server) {
    PyObject *queue = PyObject_GetAttr(server, s_flush_queue);
    if (queue == NULL) return -1;
    int rc;
    if (!PyList_CheckExact(queue)) {
        PyObject *r = PyObject_CallMethodOneArg(server, s_schedule_flush, conn);
        rc = r == NULL ? -1 : 0;
        Py_XDECREF(r);
    } else if ((rc = PyList_Append(queue, conn)) == 0 && PyList_GET_SIZE(queue) == 1) {
        PyObject *engine = ((ClientCore *)conn)->engine;
        PyObject *loop = engine ? PyObject_GetAttr(engine, s_loop) : NULL;
        PyObject *flush = loop ? PyObject_GetAttr(server, s_flush_pending) : NULL;
        PyObject *r = flush ? PyObject_CallMethodOneArg(loop, s_call_soon, flush) : NULL;
        rc = r == NULL ? -1 : 0;
        if (engine == NULL && !PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "connection without an engine");
        Py_XDECREF(r);
        Py_XDECREF(flush);
        Py_XDECREF(loop);
    }
    Py_DECREF(queue);
    return rc;
}

/* Connection._write(out) at the end of a batch: the replies join `pending`, to be
 * written at the end of the loop turn. Closing connections, empty batches,
 * replies held for an fsync and connections not fully set up take the Python method. */
static PyObject *finish_batch(PyObject *conn, EngineCore *eng, PyObject *out) {
    ClientCore *client = (ClientCore *)conn;
    PyObject *pending = client->pending, *server = client->server;
    if (PyList_GET_SIZE(out) == 0 || truthy(client->closing) || eng->reply_barrier != Py_None ||
            pending == NULL || !PyList_CheckExact(pending) || server == NULL)
        return PyObject_CallMethodOneArg(conn, s_write, out);
    set_field(&client->batch, Py_None);
    if (PyList_GET_SIZE(pending) > 0) {
        Py_ssize_t end = PyList_GET_SIZE(pending);
        if (PyList_SetSlice(pending, end, end, out) < 0)     /* pending += out */
            return NULL;
        Py_RETURN_NONE;
    }
    set_field(&client->pending, out);
    Py_INCREF(server);
    int rc = schedule_flush(conn, server);
    Py_DECREF(server);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

/* Connection.flush([]) for a connection that is open, not closing and has no
 * reply barrier: one write of everything pending. 0 done, 1 not the common
 * case (the caller runs the Python flush), -1 error. */
static int flush_one(PyObject *conn, PyObject *server) {
    ClientCore *client = (ClientCore *)conn;
    PyObject *engine = client->engine, *pending = client->pending, *transport = client->transport;
    if (truthy(client->closing) || engine == NULL || !PyObject_TypeCheck(engine, &EngineCore_Type) ||
            ((EngineCore *)engine)->reply_barrier != Py_None || pending == NULL ||
            !PyList_CheckExact(pending) || transport == NULL || transport == Py_None)
        return 1;
    Py_ssize_t n = PyList_GET_SIZE(pending);
    if (n == 0) return 0;
    int rc = 1;
    Py_INCREF(engine);
    Py_INCREF(pending);
    Py_INCREF(transport);
    PyObject *closing = NULL, *data = NULL;
    closing = PyObject_CallMethodNoArgs(transport, s_is_closing);
    if (closing == NULL) { rc = -1; goto out; }
    if (closing != Py_False) goto out;      /* the Python flush drops the output */
    PyObject *fresh = PyList_New(0);
    if (fresh == NULL) { rc = -1; goto out; }
    Py_XSETREF(client->pending, fresh);
    if (n == 1) {
        data = PyList_GET_ITEM(pending, 0);
        Py_INCREF(data);
    } else {
        data = PyObject_CallMethodOneArg(EMPTY_BYTES, s_join, pending);
        if (data == NULL) { rc = -1; goto out; }
    }
    if (!PyBytes_Check(data)) { rc = -1; PyErr_SetString(PyExc_TypeError, "pending output must be bytes"); goto out; }
    if (stat_add((EngineCore *)engine, STAT_NET_OUT, s_net_output_bytes, PyBytes_GET_SIZE(data)) < 0) {
        rc = -1;
        goto out;
    }
    PyObject *r = PyObject_CallMethodOneArg(transport, s_transport_write, data);
    if (r == NULL) { rc = -1; goto out; }
    Py_DECREF(r);
    /* Only bytes the socket did not take count against the output-buffer limits. */
    PyObject *active = PyObject_GetAttr(server, s_obuf_limits_active);
    if (active == NULL) { rc = -1; goto out; }
    int limited = PyObject_IsTrue(active);
    Py_DECREF(active);
    if (limited < 0) { rc = -1; goto out; }
    if (limited) {
        PyObject *buffered = PyObject_CallMethodNoArgs(transport, s_get_write_buffer_size);
        if (buffered == NULL) { rc = -1; goto out; }
        int any = PyObject_IsTrue(buffered);
        Py_DECREF(buffered);
        if (any < 0) { rc = -1; goto out; }
        if (any) {
            r = PyObject_CallMethodOneArg(server, s_check_output_limits, conn);
            if (r == NULL) { rc = -1; goto out; }
            Py_DECREF(r);
        }
    }
    rc = 0;
out:
    Py_XDECREF(data);
    Py_XDECREF(closing);
    Py_DECREF(transport);
    Py_DECREF(pending);
    Py_DECREF(engine);
    return rc;
}

/* flush_pending(server, queue): Server.flush_pending's loop over the connections
 * that have pending output. */
static PyObject *
flush_pending(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    if (argc != 2 || !PyList_CheckExact(argv[1])) {
        PyErr_SetString(PyExc_TypeError, "flush_pending(server, queue: list)");
        return NULL;
    }
    PyObject *server = argv[0], *queue = argv[1];
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(queue); i++) {
        PyObject *conn = PyList_GET_ITEM(queue, i);
        Py_INCREF(conn);
        int rc = PyObject_TypeCheck(conn, &ClientCore_Type) ? flush_one(conn, server) : 1;
        if (rc == 1) {
            /* Not the common case: `if client.pending: client.flush([])` in Python. */
            PyObject *pending = PyObject_GetAttr(conn, s_pending);
            int has = pending ? PyObject_IsTrue(pending) : -1;
            Py_XDECREF(pending);
            rc = has;
            if (has > 0) {
                PyObject *empty = PyList_New(0);
                PyObject *r = empty ? PyObject_CallMethodOneArg(conn, s_flush, empty) : NULL;
                Py_XDECREF(empty);
                rc = r ? 0 : -1;
                Py_XDECREF(r);
            }
        }
        Py_DECREF(conn);
        if (rc < 0) return NULL;
    }
    Py_RETURN_NONE;
}

/* encode_command(argv) -> bytes: the RESP multibulk of a command (persistence/aof.py
 * encode_command): bytes-like arguments as bulk strings, ints in decimal. Anything
 * else raises TypeError, like the Python twin. */
static PyObject *
encode_command(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    if (argc != 1 || !(PyList_Check(argv[0]) || PyTuple_Check(argv[0]))) {
        PyErr_SetString(PyExc_TypeError, "encode_command(argv: list or tuple)");
        return NULL;
    }
    PyObject *seq = argv[0];
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    Wire w;
    wire_init(&w, NULL, 0);
    PyObject *result = NULL;
    if (wire_head(&w, '*', n) < 0) goto out;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *a = PySequence_Fast_GET_ITEM(seq, i);
        int rc;
        if (PyBytes_Check(a)) {
            rc = wire_bulk(&w, PyBytes_AS_STRING(a), PyBytes_GET_SIZE(a));
        } else if (PyByteArray_Check(a)) {
            rc = wire_bulk(&w, PyByteArray_AS_STRING(a), PyByteArray_GET_SIZE(a));
        } else if (PyLong_Check(a)) {
            int overflow;
            long long v = PyLong_AsLongLongAndOverflow(a, &overflow);
            if (overflow || (v == -1 && PyErr_Occurred())) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_OverflowError, "argument out of range");
                goto out;
            }
            char text[24];
            rc = wire_bulk(&w, text, put_decimal(text, v));
        } else {
            PyErr_Format(PyExc_TypeError, "cannot encode a %.100s argument", Py_TYPE(a)->tp_name);
            goto out;
        }
        if (rc < 0) goto out;
    }
    result = PyBytes_FromStringAndSize(w.data, w.len);
out:
    wire_release(&w);
    return result;
}

/* -- Connection.data_received's fast path ------------------------------------------- */

/* -- the request parser of the fast path ------------------------------------------------
 *
 * serve() reads the plain shapes of a request itself, straight from the bytes of the
 * read: `*<n>\r\n` then n bulk strings `$<len>\r\n<bytes>\r\n`, counts without sign
 * or leading zero, at most MAX_FAST_ARGS arguments of at most MAX_FAST_BULK bytes; or
 * an inline request, a line of words without quotes. Anything else -- quotes in an
 * inline request, an empty or null multibulk, a malformed header, a request the read
 * cuts short -- is handed with the rest of the read to server/parser.py, the parser
 * of record, which knows Redis's limits and errors.
 * The bounds keep every request taken here within Redis's own limits
 * (proto-max-bulk-len cannot be set below 1 MB). Doing this here instead of through
 * hiredis's Reader saves its method calls: feed, one gets per request and two more
 * to learn that the read ended on a request boundary. */

#define MAX_FAST_ARGS (1024 * 1024)
#define MAX_FAST_BULK (1024 * 1024)
#define MAX_FAST_INLINE (64 * 1024)     /* PROTO_INLINE_MAX_SIZE */

enum { REQ_OK = 1, REQ_INCOMPLETE = 0, REQ_OTHER = -1, REQ_ERROR = -2 };

/* The decimal count at buf[*pos] up to "\r\n"; the first digit nonzero unless it is
 * the only one (allow_zero). */
static int read_count(const char *buf, Py_ssize_t len, Py_ssize_t *pos, int allow_zero,
                      long long limit, Py_ssize_t *value) {
    Py_ssize_t p = *pos;
    long long v = 0;
    int digits = 0;
    for (;; p++) {
        if (p >= len) return REQ_INCOMPLETE;
        char c = buf[p];
        if (c < '0' || c > '9') break;
        if (digits == 0 && c == '0' && !allow_zero) return REQ_OTHER;
        if (digits == 1 && v == 0) return REQ_OTHER;        /* a leading zero */
        v = v * 10 + (c - '0');
        if (v > limit) return REQ_OTHER;
        digits++;
    }
    if (digits == 0 || buf[p] != '\r') return REQ_OTHER;
    if (p + 1 >= len) return REQ_INCOMPLETE;
    if (buf[p + 1] != '\n') return REQ_OTHER;
    *pos = p + 2;
    *value = (Py_ssize_t)v;
    return REQ_OK;
}

/* One request from buf[*pos:]: a new list of bytes in *request and *pos past it. */
static int parse_request(const char *buf, Py_ssize_t len, Py_ssize_t *pos, PyObject **request) {
    Py_ssize_t p = *pos, n, size;
    if (buf[p] != '*') return REQ_OTHER;
    p++;
    int rc = read_count(buf, len, &p, 0, MAX_FAST_ARGS, &n);
    if (rc != REQ_OK) return rc;
    PyObject *args = PyList_New(n);
    if (args == NULL) return REQ_ERROR;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (p >= len) { rc = REQ_INCOMPLETE; goto fail; }
        if (buf[p] != '$') { rc = REQ_OTHER; goto fail; }
        p++;
        rc = read_count(buf, len, &p, 1, MAX_FAST_BULK, &size);
        if (rc != REQ_OK) goto fail;
        if (len - p < size + 2) { rc = REQ_INCOMPLETE; goto fail; }
        if (buf[p + size] != '\r' || buf[p + size + 1] != '\n') { rc = REQ_OTHER; goto fail; }
        PyObject *arg = PyBytes_FromStringAndSize(buf + p, size);
        if (arg == NULL) { rc = REQ_ERROR; goto fail; }
        PyList_SET_ITEM(args, i, arg);
        p += size + 2;
    }
    *pos = p;
    *request = args;
    return REQ_OK;
fail:
    Py_DECREF(args);
    return rc;
}

/* End the batch with what it has (Connection._write), and hand the rest of the read to
 * the Python parser (Connection._take_tail), with the request CLIENT PAUSE postponed
 * if there is one. */
static PyObject *take_tail(PyObject *conn, PyObject *data, Py_ssize_t parsed, PyObject *out,
                           PyObject *postponed) {
    PyObject *r = PyObject_CallMethodOneArg(conn, s_write, out);
    if (r == NULL) return NULL;
    Py_DECREF(r);
    PyObject *n = PyLong_FromSsize_t(parsed);
    if (n == NULL) return NULL;
    r = call_method(conn, s_take_tail, data, n, postponed);
    Py_DECREF(n);
    return r;
}

/* The requests of one read, from a connection on the fast path (see data_received). */
/* sdssplitargs skips isspace() characters before a word, but a word ends only at
 * one of these (a \v or \f inside a word is part of it). */
static inline int inline_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == '\n';
}

static inline int inline_word_end(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One inline request from buf[*pos:] (the line up to LF): a new list of its words,
 * empty for a blank line (which Redis skips), and *pos past the LF. Quotes, which
 * sdssplitargs interprets, are left to the parser of record. */
static int parse_inline(const char *buf, Py_ssize_t len, Py_ssize_t *pos, PyObject **request) {
    Py_ssize_t p = *pos, limit = len - p < MAX_FAST_INLINE ? len : p + MAX_FAST_INLINE;
    const char *nl = memchr(buf + p, '\n', limit - p);
    if (nl == NULL) return limit == len ? REQ_INCOMPLETE : REQ_OTHER;
    Py_ssize_t end = nl - buf;
    /* Quotes; and a NUL, which hides the newline from Redis's strchr. */
    if (memchr(buf + p, '"', end - p) != NULL || memchr(buf + p, '\'', end - p) != NULL ||
            memchr(buf + p, '\0', end - p) != NULL)
        return REQ_OTHER;
    PyObject *args = PyList_New(0);
    if (args == NULL) return REQ_ERROR;
    for (Py_ssize_t i = p;;) {
        while (i < end && inline_space(buf[i])) i++;
        if (i >= end) break;
        Py_ssize_t start = i;
        while (i < end && !inline_word_end(buf[i])) i++;
        PyObject *word = PyBytes_FromStringAndSize(buf + start, i - start);
        if (word == NULL || PyList_Append(args, word) < 0) {
            Py_XDECREF(word);
            Py_DECREF(args);
            return REQ_ERROR;
        }
        Py_DECREF(word);
    }
    *pos = end + 1;
    *request = args;
    return REQ_OK;
}

static PyObject *
serve(ClientCore *client, EngineCore *eng, PyObject *data)
{
    PyObject *conn = (PyObject *)client, *engine = (PyObject *)eng;
    PyObject *out = NULL, *args = NULL, *reply = NULL;
    PyObject *result = NULL;
    Py_ssize_t parsed = 0;          /* requests taken from this read */
    const char *buf = PyBytes_AS_STRING(data);
    Py_ssize_t len = PyBytes_GET_SIZE(data), pos = 0;

    Py_INCREF(engine);
    /* Blocked clients a command made ready are served right after it (engine/blocking.py
     * keeps the identity of its `ready` list). */
    PyObject *blocking = eng->blocking, *ready = NULL;
    if (blocking != Py_None) {
        ready = PyObject_GetAttr(blocking, s_ready);
        if (ready == NULL) goto done;
        if (!PyList_CheckExact(ready)) {
            PyErr_SetString(PyExc_TypeError, "engine.blocking.ready must be a list");
            goto done;
        }
    }
    out = PyList_New(0);
    if (out == NULL) goto done;
    set_field(&client->batch, out);

    while (pos < len) {
        int rc = buf[pos] == '*' ? parse_request(buf, len, &pos, &args)
                                 : parse_inline(buf, len, &pos, &args);
        if (rc == REQ_ERROR) goto done;
        if (rc == REQ_OTHER) {
            result = hand_over(conn, s_reparse, data, parsed, out);
            goto done;
        }
        if (rc == REQ_INCOMPLETE) {
            /* The request continues in the next read: the Python parser takes the rest. */
            result = take_tail(conn, data, parsed, out, NULL);
            goto done;
        }
        parsed++;
        if (PyList_GET_SIZE(args) == 0) {       /* a blank inline line */
            Py_CLEAR(args);
            continue;
        }

        reply = execute(eng, client, args);
        if (reply == NULL) goto error;

        if (ready != NULL && PyList_GET_SIZE(ready) > 0) {
            PyObject *r2 = PyObject_CallMethodNoArgs(blocking, s_handle_ready);
            if (r2 == NULL) goto error;
            Py_DECREF(r2);
        }

        if (reply == NO_REPLY && client->blocked != NULL && client->blocked != Py_None) {
            /* A blocking command (BLPOP ...) waits: so does the rest of this read. */
            PyObject *n2 = PyLong_FromSsize_t(parsed);
            result = n2 == NULL ? NULL : PyObject_CallMethodObjArgs(
                conn, s_block_input, data, n2, out, pos < len ? Py_True : Py_False, NULL);
            Py_XDECREF(n2);
            goto done;
        }
        if (truthy(client->reply_mode)) {
            PyObject *r2 = call_method(conn, s_append_reply, reply, out, NULL);
            if (r2 == NULL) goto error;
            Py_DECREF(r2);
        } else if (reply == POSTPONED) {        /* CLIENT PAUSE holds this request back */
            result = take_tail(conn, data, parsed, out, args);
            goto done;
        } else if (reply != NO_REPLY) {
            /* Read for every reply: HELLO changes it in the middle of a batch. */
            int resp3 = truthy(client->resp3);
            if (resp3 < 0 || encode_into(reply, out, resp3) < 0) goto error;
        }
        Py_CLEAR(reply);
        Py_CLEAR(args);
        if (truthy(client->closing)) break;
    }
    result = finish_batch(conn, eng, out);
    goto done;

error:
    /* data_received's `except ProtocolError`: a request the engine refused as
     * malformed (Engine.crashed raises it) is re-read by the parser of record. */
    if (PyErr_ExceptionMatches(PROTOCOL_ERROR)) {
        PyErr_Clear();
        result = hand_over(conn, s_reparse, data, parsed - 1, out);
    }

done:
    Py_XDECREF(reply);
    Py_XDECREF(args);
    Py_XDECREF(out);
    Py_XDECREF(ready);
    Py_XDECREF(engine);
    return result;
}

/* ClientCore.c_data_received(data): Connection.data_received in C; the Python
 * method (server/connection.py) is the reference, and every read off the fast
 * path -- a request split across reads, a client not yet authenticated or
 * blocked -- goes to its _slow_input as there. (Plain inline requests, which the
 * Python method leaves to its parser, are read here.) */
static PyObject *
client_data_received(PyObject *self, PyObject *data)
{
    ClientCore *client = (ClientCore *)self;
    EngineCore *eng = (EngineCore *)client->engine;
    if (!PyBytes_CheckExact(data)) {
        PyErr_SetString(PyExc_TypeError, "data_received(data: bytes)");
        return NULL;
    }
    if (EXECUTE_PY == NULL || NO_REPLY == NULL || ENCODE == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "vermilion._speedups: setup_engine(), "
                                             "setup_encoder() and setup_server() must be called first");
        return NULL;
    }
    if (eng == NULL || !PyObject_TypeCheck((PyObject *)eng, &EngineCore_Type) ||
            eng->lookup == NULL || !PyDict_Check(eng->lookup) || eng->blocking == NULL ||
            eng->dirty == NULL || eng->effects == NULL || eng->slowlog_threshold == NULL ||
            eng->stats == NULL || client->gate == NULL || client->reply_mode == NULL ||
            client->closing == NULL || client->parser == NULL || client->blocked == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "data_received(): engine or connection not initialised");
        return NULL;
    }
    Py_ssize_t len = PyBytes_GET_SIZE(data);
    if (stat_add(eng, STAT_NET_IN, s_net_input_bytes, len) < 0) return NULL;
    if (truthy(client->closing) || len == 0)
        Py_RETURN_NONE;
    long long now;
    if (engine_now_ms(eng, &now) < 0) return NULL;
    PyObject *ms = PyLong_FromLongLong(now);
    if (ms == NULL) return NULL;
    Py_XSETREF(client->last_interaction_ms, ms);
    if (client->parser != Py_None || !truthy(client->authenticated) || client->blocked != Py_None)
        return PyObject_CallMethodOneArg(self, s_slow_input, data);
    Py_INCREF(self);
    PyObject *result = serve(client, eng, data);
    Py_DECREF(self);
    return result;
}

static PyMethodDef client_methods[] = {
    {"c_data_received", (PyCFunction)client_data_received, METH_O,
     "Connection.data_received in C: run a read's complete requests and queue their replies."},
    {NULL}
};

static int keep(PyObject *const *argv, Py_ssize_t argc, PyObject **slots[], Py_ssize_t n,
                const char *signature) {
    if (argc != n) {
        PyErr_Format(PyExc_TypeError, "%s takes %zd arguments", signature, n);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) set_field(slots[i], argv[i]);
    return 0;
}

static PyObject *
setup_engine(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    PyObject **slots[] = {&EXECUTE_PY, &CALL_PY, &COMMAND_ERROR, &QUEUED};
    if (keep(argv, argc, slots, 4, "setup_engine(execute, call, command_error, queued)") < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
setup_encoder(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    PyObject **slots[] = {&ENCODE, &NULL_ARRAY, &STATUS_TYPE};
    if (keep(argv, argc, slots, 3, "setup_encoder(python_encode, null_array, status_type)") < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
setup_server(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    PyObject **slots[] = {&NO_REPLY, &POSTPONED, &PROTOCOL_ERROR};
    if (keep(argv, argc, slots, 3, "setup_server(no_reply, postponed, protocol_error)") < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Up to 19 ASCII digits at p[0:n] as *out (no sign, no spaces; leading zeros fine). */
static int digits_u64(const char *p, Py_ssize_t n, unsigned long long *out) {
    if (n <= 0 || n > 19) return 0;
    unsigned long long v = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        v = v * 10 + (unsigned long long)(p[i] - '0');
    }
    *out = v;
    return 1;
}

/* stream_id_keys(args, start): for XACK / XDEL, the IDs args[start:] as the stream
 * keys (ms << 64) | seq when every one is plain `ms-seq` or `ms` digits (what
 * commands/streams.py _strict_all parses inline), else None (then Python parses
 * them all, with Redis's leniency and errors). */
static PyObject *
stream_id_keys(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    if (argc != 2 || !PyList_Check(argv[0])) {
        PyErr_SetString(PyExc_TypeError, "stream_id_keys(args: list, start: int)");
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(argv[1]);
    if (start == -1 && PyErr_Occurred()) return NULL;
    PyObject *args = argv[0];
    Py_ssize_t n = PyList_GET_SIZE(args);
    if (start < 0 || start > n) Py_RETURN_NONE;
    PyObject *out = PyList_New(n - start);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = start; i < n; i++) {
        PyObject *arg = PyList_GET_ITEM(args, i);
        unsigned long long ms, seq = 0;
        if (!PyBytes_CheckExact(arg)) goto none;
        const char *p = PyBytes_AS_STRING(arg);
        Py_ssize_t len = PyBytes_GET_SIZE(arg);
        const char *dash = memchr(p, '-', len);
        if (dash == NULL ? !digits_u64(p, len, &ms)
                         : !digits_u64(p, dash - p, &ms) || !digits_u64(dash + 1, len - (dash - p) - 1, &seq))
            goto none;
        PyObject *hi = PyLong_FromUnsignedLongLong(ms), *shift = PyLong_FromLong(64);
        PyObject *shifted = hi && shift ? PyNumber_Lshift(hi, shift) : NULL;
        PyObject *lo = shifted ? PyLong_FromUnsignedLongLong(seq) : NULL;
        PyObject *key = lo ? PyNumber_Or(shifted, lo) : NULL;
        Py_XDECREF(hi); Py_XDECREF(shift); Py_XDECREF(shifted); Py_XDECREF(lo);
        if (key == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i - start, key);
    }
    return out;
none:
    Py_DECREF(out);
    Py_RETURN_NONE;
}

/* string2ll(arg): the int a canonical decimal bytes argument means, else None
 * (commands/_args.py parse_int, whose Python body handles every other case). */
static PyObject *
string2ll_py(PyObject *module, PyObject *arg)
{
    long long v;
    if (PyBytes_CheckExact(arg) && canonical_ll(PyBytes_AS_STRING(arg), PyBytes_GET_SIZE(arg), &v))
        return PyLong_FromLongLong(v);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"stream_id_keys", (PyCFunction)(void (*)(void))stream_id_keys, METH_FASTCALL,
     "stream_id_keys(args, start) -> [int] | None: XACK/XDEL IDs as stream keys, or None."},
    {"string2ll", (PyCFunction)string2ll_py, METH_O,
     "string2ll(arg) -> int | None: a canonical 64-bit decimal (bytes), as Redis's string2ll."},
    {"flush_pending", (PyCFunction)(void (*)(void))flush_pending, METH_FASTCALL,
     "flush_pending(server, queue): write each queued connection's pending output."},
    {"encode_command", (PyCFunction)(void (*)(void))encode_command, METH_FASTCALL,
     "encode_command(argv) -> bytes: the RESP multibulk of a command (AOF)."},
    {"setup_stream", (PyCFunction)(void (*)(void))setup_stream, METH_FASTCALL,
     "setup_stream(stream_type, node_type): Stream and its node class, for XADD's C twin."},
    {"setup_keyspace", (PyCFunction)(void (*)(void))setup_keyspace, METH_FASTCALL,
     "setup_keyspace(database_type, ok, clock_type): Database, +OK and Clock, for the native handlers."},
    {"setup_zset", (PyCFunction)(void (*)(void))setup_zset, METH_FASTCALL,
     "setup_zset(sortedset_type, sort_key): SortedSet and its key builder, for the sorted-set twins."},
    {"setup_hash", (PyCFunction)(void (*)(void))setup_hash, METH_FASTCALL,
     "setup_hash(hash_type): the Hash class, for HSET's C twin."},
    {"setup_engine", (PyCFunction)(void (*)(void))setup_engine, METH_FASTCALL,
     "setup_engine(execute, call, command_error, queued): the Python twins, CommandError, +QUEUED."},
    {"setup_encoder", (PyCFunction)(void (*)(void))setup_encoder, METH_FASTCALL,
     "setup_encoder(python_encode, null_array, status_type): for encode()."},
    {"setup_stats", (PyCFunction)setup_stats, METH_O,
     "setup_stats(stats_type): engine/engine.py Stats, whose counters the loop adds to."},
    {"setup_server", (PyCFunction)(void (*)(void))setup_server, METH_FASTCALL,
     "setup_server(no_reply, postponed, protocol_error): for c_data_received."},
    {"encode", (PyCFunction)(void (*)(void))encode_py, METH_FASTCALL,
     "encode(value, out, resp3): server/resp.py's encode, common reply types in C."},
    {NULL}
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "vermilion._speedups",
    "The per-request loop of vermilion in C (pure-Python twin: server/connection.py).",
    -1, methods,
};

#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL

PyMODINIT_FUNC
PyInit__speedups(void)
{
    EngineCore_Type.tp_methods = engine_methods;
    ClientCore_Type.tp_methods = client_methods;
    if (PyType_Ready(&CommandCore_Type) < 0 || PyType_Ready(&ClientCore_Type) < 0 ||
            PyType_Ready(&EngineCore_Type) < 0)
        return NULL;
   
    INTERN(s_ready, "ready"); INTERN(s_handle_ready, "handle_ready");
    INTERN(s_encoded, "encoded");
    INTERN(s_failed, "failed"); INTERN(s_crashed, "crashed"); INTERN(s_log_slow, "log_slow");
    INTERN(s_propagate, "propagate"); INTERN(s_db, "db"); INTERN(s_index, "index");
    INTERN(s_write, "_write"); INTERN(s_reparse, "_reparse"); INTERN(s_take_tail, "_take_tail");
    INTERN(s_block_input, "_block_input"); INTERN(s_append_reply, "_append_reply");
    INTERN(s_pending, "pending");
    INTERN(s_schedule_flush, "schedule_flush");
    INTERN(s_is_closing, "is_closing");
    INTERN(s_flush_queue, "flush_queue"); INTERN(s_loop, "loop"); INTERN(s_call_soon, "call_soon");
    INTERN(s_flush_pending, "flush_pending");
    INTERN(s_net_output_bytes, "net_output_bytes"); INTERN(s_net_input_bytes, "net_input_bytes");
    INTERN(s_slow_input, "_slow_input");
    INTERN(s_obuf_limits_active, "obuf_limits_active");
    INTERN(s_get_write_buffer_size, "get_write_buffer_size");
    INTERN(s_check_output_limits, "check_output_limits"); INTERN(s_flush, "flush");
    INTERN(s_join, "join");
    INTERN(s_compact_heap, "compact_heap");
    INTERN(s_pop, "pop"); INTERN(s_bisect_left, "bisect_left");
    INTERN(s_add, "add"); INTERN(s_remove, "remove");
    if ((ZERO = PyLong_FromLong(0)) == NULL || (MINUS_ONE = PyLong_FromLong(-1)) == NULL) return NULL;
    if ((EMPTY_TUPLE = PyTuple_New(0)) == NULL) return NULL;
    INTERN(s_hash_max_value, "hash-max-listpack-value");
    INTERN(s_hash_max_entries, "hash-max-listpack-entries");

    INTERN(s_ttl_dropped, "_ttl_dropped"); INTERN(s_keyspace_hits, "keyspace_hits");
    INTERN(s_transport_write, "write");
    INTERN(s_append, "append");
    INTERN(s_values, "values"); INTERN(s_ms_method, "ms");
    INTERN(s_waiting, "waiting");
    INTERN(s_node_max_entries, "stream-node-max-entries");
    INTERN(s_node_max_bytes, "stream-node-max-bytes");
    if ((ONE = PyLong_FromLong(1)) == NULL) return NULL;
    EMPTY_BYTES = PyBytes_FromStringAndSize(NULL, 0);
    if (EMPTY_BYTES == NULL) return NULL;

    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "CommandCore", (PyObject *)&CommandCore_Type) < 0 ||
            PyModule_AddObjectRef(m, "ClientCore", (PyObject *)&ClientCore_Type) < 0 ||
            PyModule_AddObjectRef(m, "EngineCore", (PyObject *)&EngineCore_Type) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
