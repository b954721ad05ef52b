/*
 * vermilion._resp: the RESP codec in C. Self-contained: it knows the wire format
 * and Python's built-in types, nothing of the server's objects.
 *
 *   Requests(data)        iterate over the complete, plainly framed requests at the
 *                         start of a read; twin: server/framing.py Requests
 *   encode(value, out, resp3)
 *                         append a reply's RESP2/RESP3 bytes to the list `out`;
 *                         twin: server/resp.py python_encode
 *   encode_command(argv)  the multibulk of a command (AOF, propagation); twin:
 *                         persistence/aof.py encode_command
 *   requests_parsed()     how many requests Requests has returned since import
 *                         (tests read it to prove this module served them)
 *
 * Each twin is the reference; tests/test_resp_codec.py drives both with the same
 * inputs (hypothesis) and requires identical results. Nothing here reads a Python
 * object's fields by offset or calls a method by name; the one Python object it
 * is handed (setup_encoder) is the encoder to fall back to for values it does not
 * write itself, and the two reply types it recognises by identity.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>

static PyObject *ENCODE, *NULL_ARRAY, *STATUS_TYPE;   /* from setup_encoder */
static PyObject *s_encoded;
static unsigned long long requests_returned;

/* -- the reply encoder ------------------------------------------------------------------
 *
 * Bulk strings, integers, statuses, nulls, arrays, maps, booleans and doubles are written
 * into one growing buffer that becomes a single bytes object in `out`; any other value
 * (NaN, verbatim strings, errors, sets, pushes, big integers ...) is handed to the Python
 * encoder, after what the buffer holds so far. */

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
/* The replies the hottest commands give most often, made once and appended as they
 * are: no value (GET of a missing key) and the integers 0 and 1 (HSET, SADD, PUBLISH
 * to nobody). A new bytes object per reply would cost an allocation and a free. */
static PyObject *null_reply[2], *bit_reply[2];
static PyObject *last_status, *last_status_bytes;

static int encode_into(PyObject *value, PyObject *out, int resp3) {
    if (value == Py_None)
        return PyList_Append(out, null_reply[resp3 != 0]);
    if (Py_TYPE(value) == &PyLong_Type) {
        int overflow;
        long long n = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (!overflow && (n == 0 || n == 1))
            return PyList_Append(out, bit_reply[n]);
        if (n == -1 && PyErr_Occurred()) return -1;
    }
    if ((PyObject *)Py_TYPE(value) == STATUS_TYPE) {
        /* A reply that is only a status (+OK): its bytes are already made. A Status is
         * not changed once made (engine/replies.py), so the last one encoded and its
         * bytes are kept, both referenced: a command that answers OK over and over
         * reads no attribute (a type lookup and a slot read, ~190 instructions on
         * 3.12). */
        if (value != last_status) {
            PyObject *encoded = PyObject_GetAttr(value, s_encoded);
            if (encoded == NULL) return -1;
            if (!PyBytes_CheckExact(encoded)) {
                Py_DECREF(encoded);
                goto general;
            }
            Py_XSETREF(last_status, Py_NewRef(value));
            Py_XSETREF(last_status_bytes, encoded);
        }
        return PyList_Append(out, last_status_bytes);
    }
general:;
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
        PyErr_SetString(PyExc_RuntimeError, "vermilion._resp.setup_encoder() was not called");
        return NULL;
    }
    int resp3 = PyObject_IsTrue(argv[2]);
    if (resp3 < 0 || encode_into(argv[0], argv[1], resp3) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *
setup_encoder(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    if (argc != 3 || !PyCallable_Check(argv[0]) || !PyType_Check(argv[2])) {
        PyErr_SetString(PyExc_TypeError, "setup_encoder(python_encode, null_array, status_type)");
        return NULL;
    }
    Py_XSETREF(ENCODE, Py_NewRef(argv[0]));
    Py_XSETREF(NULL_ARRAY, Py_NewRef(argv[1]));
    Py_XSETREF(STATUS_TYPE, Py_NewRef(argv[2]));
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

/* -- the request parser ------------------------------------------------------------------
 *
 * Plain shapes only, straight from the bytes of a read: `*<n>\r\n` then n bulk strings
 * `$<len>\r\n<bytes>\r\n`, counts without sign or leading zero, at most MAX_FAST_ARGS
 * arguments of at most MAX_FAST_BULK bytes; or an inline request, a line of words
 * without quotes or NUL. Anything else -- quotes in an inline request, an empty or null
 * multibulk, a malformed header, a request the read cuts short -- stops the iteration,
 * and the caller hands the rest to server/parser.py, the parser of record, which knows
 * Redis's limits and error texts. The bounds keep every request taken here within
 * Redis's own limits (proto-max-bulk-len cannot be set below 1 MB). */

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
/* The command name of the last request, handed out again while the next requests
 * name the same command. A pipeline mostly repeats one command: the shared object
 * keeps its cached hash, so the command table lookup does not hash the name again,
 * and no new bytes object is made. Only short names are kept (a real command name
 * is; a long first argument is someone's mistake, not worth holding on to). */
#define MAX_SHARED_NAME 32
static PyObject *shared_name;

static PyObject *command_name(const char *start, Py_ssize_t size) {
    if (shared_name != NULL && PyBytes_GET_SIZE(shared_name) == size &&
            memcmp(PyBytes_AS_STRING(shared_name), start, size) == 0) {
        Py_INCREF(shared_name);
        return shared_name;
    }
    PyObject *name = PyBytes_FromStringAndSize(start, size);
    if (name != NULL && size <= MAX_SHARED_NAME) {
        Py_INCREF(name);
        Py_XSETREF(shared_name, name);
    }
    return name;
}

static int parse_request(const char *buf, Py_ssize_t len, Py_ssize_t *pos, PyObject **request) {
    Py_ssize_t p = *pos, n, size;
    if (buf[p] != '*') return REQ_OTHER;
    p++;
    int rc = read_count(buf, len, &p, 0, MAX_FAST_ARGS, &n);
    if (rc != REQ_OK) return rc;
    /* Every argument takes at least 6 bytes ("$0\r\n\r\n"): a count the read cannot
     * hold is a request it cuts short, found without allocating for the count. */
    if (n > (len - p) / 6) return REQ_INCOMPLETE;
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
        PyObject *arg = i == 0 ? command_name(buf + p, size) : PyBytes_FromStringAndSize(buf + p, size);
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

/* -- Requests: an iterator over the requests of one read -------------------------------
 *
 * Yields each request at the start of `data` as a new list of bytes, as long as the
 * request is complete and plainly framed; `pos` is then the offset just past the last
 * request yielded (blank inline lines are skipped, as Redis skips them). When the
 * iterator stops, data[pos:] is what it did not take -- a request the read cuts short,
 * or anything the parser of record must judge -- and the caller hands that to it. */

typedef struct {
    PyObject_HEAD
    PyObject *data;         /* bytes */
    Py_ssize_t pos;
    int done;
} RequestsObject;

static PyObject *
requests_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *data;
    Py_ssize_t pos = 0;
    static char *kwlist[] = {"data", "pos", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!|n:Requests", kwlist, &PyBytes_Type, &data, &pos))
        return NULL;
    if (pos < 0 || pos > PyBytes_GET_SIZE(data)) {
        PyErr_SetString(PyExc_ValueError, "pos out of range");
        return NULL;
    }
    RequestsObject *self = (RequestsObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->data = Py_NewRef(data);
    self->pos = pos;
    self->done = 0;
    return (PyObject *)self;
}

static void
requests_dealloc(RequestsObject *self)
{
    Py_XDECREF(self->data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
requests_next(RequestsObject *self)
{
    const char *buf = PyBytes_AS_STRING(self->data);
    Py_ssize_t len = PyBytes_GET_SIZE(self->data);
    while (!self->done && self->pos < len) {
        Py_ssize_t pos = self->pos;
        PyObject *request = NULL;
        int rc = buf[pos] == '*' ? parse_request(buf, len, &pos, &request)
                                 : parse_inline(buf, len, &pos, &request);
        if (rc == REQ_ERROR) return NULL;
        if (rc != REQ_OK) break;
        self->pos = pos;
        if (PyList_GET_SIZE(request) == 0) {        /* a blank inline line */
            Py_DECREF(request);
            continue;
        }
        requests_returned++;
        return request;
    }
    self->done = 1;
    return NULL;
}

static PyMemberDef requests_members[] = {
    {"pos", T_PYSSIZET, offsetof(RequestsObject, pos), READONLY,
     "offset just past the last request returned; where the untaken rest starts once stopped"},
    {NULL}
};

static PyTypeObject RequestsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "vermilion._resp.Requests",
    .tp_basicsize = sizeof(RequestsObject),
    .tp_dealloc = (destructor)requests_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Requests(data, pos=0): the complete, plainly framed requests at the start of a read.",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)requests_next,
    .tp_members = requests_members,
    .tp_new = requests_new,
};

static PyObject *
requests_parsed(PyObject *module, PyObject *unused)
{
    return PyLong_FromUnsignedLongLong(requests_returned);
}

static PyMethodDef methods[] = {
    {"encode", (PyCFunction)(void (*)(void))encode_py, METH_FASTCALL,
     "encode(value, out, resp3): append the RESP bytes of a reply value to the list `out`."},
    {"setup_encoder", (PyCFunction)(void (*)(void))setup_encoder, METH_FASTCALL,
     "setup_encoder(python_encode, null_array, status_type): the encoder to fall back to "
     "and the two reply types encode() recognises."},
    {"encode_command", (PyCFunction)(void (*)(void))encode_command, METH_FASTCALL,
     "encode_command(argv) -> bytes: the RESP multibulk of a command."},
    {"requests_parsed", (PyCFunction)requests_parsed, METH_NOARGS,
     "requests_parsed() -> int: requests returned by Requests since import."},
    {NULL}
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "vermilion._resp",
    "The RESP codec in C (pure-Python twins: server/framing.py, server/resp.py, persistence/aof.py).",
    -1, methods,
};

PyMODINIT_FUNC
PyInit__resp(void)
{
    if (PyType_Ready(&RequestsType) < 0) return NULL;
    if ((s_encoded = PyUnicode_InternFromString("encoded")) == NULL) return NULL;
    if ((null_reply[0] = PyBytes_FromString("$-1\r\n")) == NULL ||
            (null_reply[1] = PyBytes_FromString("_\r\n")) == NULL ||
            (bit_reply[0] = PyBytes_FromString(":0\r\n")) == NULL ||
            (bit_reply[1] = PyBytes_FromString(":1\r\n")) == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Requests", (PyObject *)&RequestsType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
