/* vermilion._sortedkeys: the ordered index of a sorted set, in C.
 *
 * SortedKeys keeps bytes objects (a sorted set's sort keys, types/sortedset.py) in
 * byte order and answers the positional questions a sorted set asks: insert,
 * remove, rank (bisect), the element at a rank, pops from either end, slices.
 * It is the subset of sortedcontainers.SortedList that SortedSet uses, with the
 * same results, so types/sortedset.py runs on either (SortedList is the
 * pure-Python fallback and the reference the tests compare this type with).
 *
 * Why not a skiplist, as Redis has: the layout below costs 16 bytes per element
 * (a pointer and a prefix in the leaf arrays) where a skiplist node costs about 50,
 * and a rank query reads a few contiguous arrays instead of chasing a pointer per
 * level.
 *
 * Layout: the keys live in "leaves", sorted arrays of at most 2 * load pointers,
 * themselves in order (every key of leaf i sorts before every key of leaf i + 1).
 * Beside each pointer a leaf keeps the key's first 8 bytes as a number (prefix8),
 * and the leaf array keeps each leaf's last one: a search compares those and reads
 * a key object only when the prefixes tie. A sort key starts with its score, so on
 * distinct scores that is one key read per search instead of about twenty, each a
 * likely cache miss on a large set (a rank on 1M members: 1.5 -> 0.7 us).
 * A leaf that grows past 2 * load is split in half; one that shrinks below
 * load / 2 is merged into a neighbour. A Fenwick tree over the leaf lengths turns
 * "position of leaf i" and "leaf holding position p" into O(log leaves) walks;
 * length changes update it in place, and splits or merges (once per ~load
 * updates) mark it stale so the next positional query rebuilds it.
 *
 * Keys hold no references to other objects, so the type needs no GC support.
 *
 * C API: besides the Python interface, the module exports `_C_API`, a capsule of
 * function pointers (add, remove, sort_key; declared and documented in
 * _sortedkeys.h) that do what SortedKeys.add, SortedKeys.remove and sort_key do,
 * with the same checks and errors, without a Python-level call. Compiled modules
 * reach it through vermilion/_sortedkeys_api.pxd; types/sortedset.py's index_add
 * and index_remove are its one user, and fall back to the Python calls when this
 * module is not built.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_sortedkeys.h"

#define DEFAULT_LOAD 256

typedef struct {
    PyObject **items;
    uint64_t *pfx;           /* pfx[i] = prefix8(items[i]), for the searches */
    Py_ssize_t len, cap;
    uint64_t last;           /* pfx[len - 1], here so a search of the leaves reads one array */
} Leaf;

typedef struct {
    PyObject_HEAD
    Leaf *leaves;
    Py_ssize_t nleaves, leaves_cap;
    Py_ssize_t size;
    Py_ssize_t load;
    Py_ssize_t *tree;        /* Fenwick tree, 1-based, over leaves[i].len */
    Py_ssize_t tree_cap;
    int tree_valid;
} SortedKeys;

static PyTypeObject SortedKeys_Type;

/* -- key comparison: byte order, a prefix before its extensions (bytes.__lt__) -- */

static inline int
key_cmp(PyObject *a, PyObject *b)
{
    Py_ssize_t la = PyBytes_GET_SIZE(a), lb = PyBytes_GET_SIZE(b);
    int c = memcmp(PyBytes_AS_STRING(a), PyBytes_AS_STRING(b), la < lb ? la : lb);
    if (c)
        return c;
    return (la > lb) - (la < lb);
}

static int
check_key(PyObject *key)
{
    if (!PyBytes_CheckExact(key)) {
        PyErr_Format(PyExc_TypeError, "SortedKeys holds bytes, not %.100s", Py_TYPE(key)->tp_name);
        return -1;
    }
    return 0;
}

/* The first 8 bytes of a key as a big-endian number, zero-padded: when the prefixes
 * of two keys differ, they order the keys as key_cmp does (a zero pad sorts like the
 * end of a shorter key); when they are equal, only key_cmp can tell. */
static inline uint64_t
prefix8(PyObject *key)
{
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(key);
    Py_ssize_t n = PyBytes_GET_SIZE(key);
    uint64_t v = 0;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n >= 8) {
        memcpy(&v, p, 8);
        return __builtin_bswap64(v);
    }
#endif
    for (Py_ssize_t i = 0; i < 8 && i < n; i++)
        v |= (uint64_t)p[i] << (56 - 8 * i);
    return v;
}

/* A leaf's keys changed: refresh the copy of its last key's prefix. */
static inline void
leaf_changed(Leaf *leaf)
{
    if (leaf->len > 0)
        leaf->last = leaf->pfx[leaf->len - 1];
}

/* First index in the leaf whose key is >= key (right: > key); `want` is prefix8(key).
 * The prefix array decides most steps without reading a key object. */
static Py_ssize_t
bisect_items(Leaf *leaf, PyObject *key, uint64_t want, int right)
{
    const uint64_t *pfx = leaf->pfx;
    Py_ssize_t lo = 0, hi = leaf->len;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) >> 1;
        int c = pfx[mid] < want ? -1 : pfx[mid] > want ? 1 : key_cmp(leaf->items[mid], key);
        if (c < 0 || (right && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First leaf whose last key is >= key (right: > key); nleaves when none is.
 * The prefixes kept in the leaf array decide most steps without reading a key
 * object: on a 1M-member set that is about ten cache misses saved per search. */
static Py_ssize_t
bisect_leaves(SortedKeys *self, PyObject *key, uint64_t want, int right)
{
    Py_ssize_t lo = 0, hi = self->nleaves;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) >> 1;
        Leaf *leaf = &self->leaves[mid];
        int c = leaf->last < want ? -1 : leaf->last > want ? 1
              : key_cmp(leaf->items[leaf->len - 1], key);
        if (c < 0 || (right && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* -- the Fenwick tree of leaf lengths ------------------------------------------- */

static int
tree_ensure(SortedKeys *self)
{
    Py_ssize_t n = self->nleaves;
    if (self->tree_valid)
        return 0;
    if (self->tree_cap < n + 1) {
        Py_ssize_t cap = n + 1 + n / 4;
        Py_ssize_t *t = PyMem_Realloc(self->tree, cap * sizeof(Py_ssize_t));
        if (t == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->tree = t;
        self->tree_cap = cap;
    }
    Py_ssize_t *t = self->tree;
    t[0] = 0;
    for (Py_ssize_t i = 1; i <= n; i++)
        t[i] = self->leaves[i - 1].len;
    for (Py_ssize_t i = 1; i <= n; i++) {
        Py_ssize_t j = i + (i & -i);
        if (j <= n)
            t[j] += t[i];
    }
    self->tree_valid = 1;
    return 0;
}

static inline void
tree_add(SortedKeys *self, Py_ssize_t leaf, Py_ssize_t delta)
{
    if (!self->tree_valid)
        return;
    for (Py_ssize_t i = leaf + 1; i <= self->nleaves; i += i & -i)
        self->tree[i] += delta;
}

/* Number of keys in leaves[0:leaf]. */
static Py_ssize_t
leaves_before(SortedKeys *self, Py_ssize_t leaf)
{
    if (leaf == 0)
        return 0;
    if (leaf == self->nleaves)
        return self->size;
    if (tree_ensure(self) < 0)
        return -1;
    Py_ssize_t s = 0;
    for (Py_ssize_t i = leaf; i > 0; i -= i & -i)
        s += self->tree[i];
    return s;
}

/* The leaf and offset of position pos (0 <= pos < size). */
static int
locate(SortedKeys *self, Py_ssize_t pos, Py_ssize_t *leaf, Py_ssize_t *offset)
{
    Py_ssize_t n = self->nleaves;
    if (pos < self->leaves[0].len) {           /* the front: ZPOPMIN, small sets */
        *leaf = 0;
        *offset = pos;
        return 0;
    }
    Py_ssize_t last_start = self->size - self->leaves[n - 1].len;
    if (pos >= last_start) {                   /* the back: ZPOPMAX, ZREVRANGE 0 k */
        *leaf = n - 1;
        *offset = pos - last_start;
        return 0;
    }
    if (tree_ensure(self) < 0)
        return -1;
    Py_ssize_t idx = 0, step = 1;
    while (step * 2 <= n)
        step *= 2;
    for (; step; step >>= 1) {
        if (idx + step <= n && self->tree[idx + step] <= pos) {
            idx += step;
            pos -= self->tree[idx];
        }
    }
    *leaf = idx;
    *offset = pos;
    return 0;
}

/* -- leaf maintenance ------------------------------------------------------------- */

/* Room for `need` keys; capacities double but stop at `limit` (2 * load + 1, the most a
 * leaf holds before it splits) when the need fits under it. */
static int
leaf_reserve(Leaf *leaf, Py_ssize_t need, Py_ssize_t limit)
{
    if (leaf->cap >= need)
        return 0;
    Py_ssize_t cap = leaf->cap ? leaf->cap * 2 : 8;
    if (cap < need)
        cap = need;
    if (cap > limit && need <= limit)
        cap = limit;
    PyObject **items = PyMem_Realloc(leaf->items, cap * sizeof(PyObject *));
    if (items == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    leaf->items = items;
    /* A failure here leaves cap as it was: the next call grows both again. */
    uint64_t *pfx = PyMem_Realloc(leaf->pfx, cap * sizeof(uint64_t));
    if (pfx == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    leaf->pfx = pfx;
    leaf->cap = cap;
    return 0;
}

#define LIMIT(self) (2 * (self)->load + 1)

/* Make room for a leaf at index `at` (zeroed). */
static int
insert_leaf(SortedKeys *self, Py_ssize_t at)
{
    if (self->nleaves == self->leaves_cap) {
        Py_ssize_t cap = self->leaves_cap ? self->leaves_cap * 2 : 4;
        Leaf *leaves = PyMem_Realloc(self->leaves, cap * sizeof(Leaf));
        if (leaves == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->leaves = leaves;
        self->leaves_cap = cap;
    }
    memmove(&self->leaves[at + 1], &self->leaves[at], (self->nleaves - at) * sizeof(Leaf));
    self->leaves[at].items = NULL;
    self->leaves[at].pfx = NULL;
    self->leaves[at].len = self->leaves[at].cap = 0;
    self->leaves[at].last = 0;
    self->nleaves++;
    self->tree_valid = 0;
    return 0;
}

/* Drop leaf `at`, which must be empty. */
static void
drop_leaf(SortedKeys *self, Py_ssize_t at)
{
    PyMem_Free(self->leaves[at].items);
    PyMem_Free(self->leaves[at].pfx);
    memmove(&self->leaves[at], &self->leaves[at + 1], (self->nleaves - at - 1) * sizeof(Leaf));
    self->nleaves--;
    self->tree_valid = 0;
}

/* Split leaf i in two halves when it has grown past 2 * load. */
static int
maybe_split(SortedKeys *self, Py_ssize_t i)
{
    Py_ssize_t len = self->leaves[i].len;
    if (len <= 2 * self->load)
        return 0;
    Py_ssize_t half = len / 2, moved = len - half;
    /* Allocate first: a failure then leaves the structure as it was (a big leaf). */
    Leaf right = {PyMem_Malloc(LIMIT(self) * sizeof(PyObject *)),
                  PyMem_Malloc(LIMIT(self) * sizeof(uint64_t)), moved, LIMIT(self), 0};
    if (right.items == NULL || right.pfx == NULL || insert_leaf(self, i + 1) < 0) {
        PyMem_Free(right.items);
        PyMem_Free(right.pfx);
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return -1;
    }
    Leaf *left = &self->leaves[i];
    memcpy(right.items, left->items + half, moved * sizeof(PyObject *));
    memcpy(right.pfx, left->pfx + half, moved * sizeof(uint64_t));
    left->len = half;
    leaf_changed(left);
    leaf_changed(&right);
    self->leaves[i + 1] = right;
    return 0;
}

/* After leaf i shrank: drop it when empty, merge it into a neighbour when small. */
static int
rebalance(SortedKeys *self, Py_ssize_t i)
{
    Leaf *leaf = &self->leaves[i];
    if (leaf->len == 0) {
        drop_leaf(self, i);
        return 0;
    }
    if (leaf->len >= self->load / 2 || self->nleaves == 1)
        return 0;
    Py_ssize_t a = i > 0 ? i - 1 : i;          /* merge leaves a and a + 1 into a */
    Leaf *dst = &self->leaves[a], *src = &self->leaves[a + 1];
    if (leaf_reserve(dst, dst->len + src->len, LIMIT(self)) < 0)
        return -1;
    memcpy(dst->items + dst->len, src->items, src->len * sizeof(PyObject *));
    memcpy(dst->pfx + dst->len, src->pfx, src->len * sizeof(uint64_t));
    dst->len += src->len;
    src->len = 0;
    leaf_changed(dst);
    drop_leaf(self, a + 1);
    return maybe_split(self, a);
}

/* Remove the key at (leaf, offset) and return it (a new reference moves to the caller). */
static PyObject *
take(SortedKeys *self, Py_ssize_t i, Py_ssize_t j)
{
    Leaf *leaf = &self->leaves[i];
    PyObject *key = leaf->items[j];
    memmove(leaf->items + j, leaf->items + j + 1, (leaf->len - j - 1) * sizeof(PyObject *));
    memmove(leaf->pfx + j, leaf->pfx + j + 1, (leaf->len - j - 1) * sizeof(uint64_t));
    leaf->len--;
    leaf_changed(leaf);
    self->size--;
    tree_add(self, i, -1);
    if (rebalance(self, i) < 0) {
        /* Only an allocation failure while merging; the structure is still valid. */
        PyErr_Clear();
    }
    return key;
}

static int
add_key(SortedKeys *self, PyObject *key)
{
    Py_ssize_t i;
    uint64_t want = prefix8(key);
    if (self->nleaves == 0) {
        if (insert_leaf(self, 0) < 0)
            return -1;
        i = 0;
    } else {
        i = bisect_leaves(self, key, want, 1);
        if (i == self->nleaves)
            i--;                                /* past every key: append to the last leaf */
    }
    Leaf *leaf = &self->leaves[i];
    if (leaf_reserve(leaf, leaf->len + 1, LIMIT(self)) < 0) {
        if (leaf->len == 0)
            drop_leaf(self, i);                 /* never leave an empty leaf behind */
        return -1;
    }
    Py_ssize_t j = bisect_items(leaf, key, want, 1);
    memmove(leaf->items + j + 1, leaf->items + j, (leaf->len - j) * sizeof(PyObject *));
    memmove(leaf->pfx + j + 1, leaf->pfx + j, (leaf->len - j) * sizeof(uint64_t));
    Py_INCREF(key);
    leaf->items[j] = key;
    leaf->pfx[j] = want;
    leaf->len++;
    leaf_changed(leaf);
    self->size++;
    tree_add(self, i, 1);
    if (maybe_split(self, i) < 0) {
        PyErr_Clear();                          /* the leaf stays big; still correct */
    }
    return 0;
}

/* Position of key when present: sets (leaf, offset) and returns 1; 0 when absent. */
static int
find_key(SortedKeys *self, PyObject *key, Py_ssize_t *leaf, Py_ssize_t *offset)
{
    uint64_t want = prefix8(key);
    Py_ssize_t i = bisect_leaves(self, key, want, 0);
    if (i == self->nleaves)
        return 0;
    Leaf *l = &self->leaves[i];
    Py_ssize_t j = bisect_items(l, key, want, 0);
    if (j == l->len || key_cmp(l->items[j], key) != 0)
        return 0;
    *leaf = i;
    *offset = j;
    return 1;
}

static void
clear_all(SortedKeys *self)
{
    for (Py_ssize_t i = 0; i < self->nleaves; i++) {
        Leaf *leaf = &self->leaves[i];
        for (Py_ssize_t j = 0; j < leaf->len; j++)
            Py_DECREF(leaf->items[j]);
        PyMem_Free(leaf->items);
        PyMem_Free(leaf->pfx);
    }
    PyMem_Free(self->leaves);
    self->leaves = NULL;
    self->nleaves = self->leaves_cap = 0;
    self->size = 0;
    self->tree_valid = 0;
}

/* Fill an empty instance from a sorted list of bytes (references are taken). */
static int
fill_sorted(SortedKeys *self, PyObject **items, Py_ssize_t n)
{
    for (Py_ssize_t start = 0; start < n; start += self->load) {
        Py_ssize_t k = n - start < self->load ? n - start : self->load;
        if (insert_leaf(self, self->nleaves) < 0)
            return -1;
        Leaf *leaf = &self->leaves[self->nleaves - 1];
        if (leaf_reserve(leaf, k, k) < 0)
            return -1;
        for (Py_ssize_t j = 0; j < k; j++) {
            Py_INCREF(items[start + j]);
            leaf->items[j] = items[start + j];
            leaf->pfx[j] = prefix8(items[start + j]);
        }
        leaf->len = k;
        leaf_changed(leaf);
        self->size += k;
    }
    return 0;
}

/* A new list of the keys at positions [start, stop), reversed when asked. */
static PyObject *
slice_list(SortedKeys *self, Py_ssize_t start, Py_ssize_t stop, int reverse)
{
    Py_ssize_t n = stop > start ? stop - start : 0;
    PyObject *out = PyList_New(n);
    if (out == NULL || n == 0)
        return out;
    Py_ssize_t i, j;
    if (locate(self, start, &i, &j) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        while (j == self->leaves[i].len) {
            i++;
            j = 0;
        }
        PyObject *key = self->leaves[i].items[j++];
        Py_INCREF(key);
        PyList_SET_ITEM(out, reverse ? n - 1 - k : k, key);
    }
    return out;
}

/* Delete positions [start, stop). */
static int
delete_range(SortedKeys *self, Py_ssize_t start, Py_ssize_t stop)
{
    if (stop <= start)
        return 0;
    if (start == 0 && stop == self->size) {
        clear_all(self);
        return 0;
    }
    Py_ssize_t i, j;
    if (locate(self, start, &i, &j) < 0)
        return -1;
    Py_ssize_t first = i, left = stop - start;
    while (left > 0) {
        Leaf *leaf = &self->leaves[i];
        Py_ssize_t k = leaf->len - j < left ? leaf->len - j : left;
        for (Py_ssize_t m = j; m < j + k; m++)
            Py_DECREF(leaf->items[m]);
        memmove(leaf->items + j, leaf->items + j + k, (leaf->len - j - k) * sizeof(PyObject *));
        memmove(leaf->pfx + j, leaf->pfx + j + k, (leaf->len - j - k) * sizeof(uint64_t));
        leaf->len -= k;
        leaf_changed(leaf);
        self->size -= k;
        left -= k;
        self->tree_valid = 0;
        if (leaf->len == 0)
            drop_leaf(self, i);                 /* the next leaf is now leaf i */
        else
            i++;
        j = 0;
    }
    /* Only the two boundary leaves, now at `first` and `first + 1`, can be small. */
    for (Py_ssize_t k = first + 1; k >= first; k--) {
        if (k < self->nleaves && rebalance(self, k) < 0)
            return -1;
    }
    return 0;
}

/* -- Python methods --------------------------------------------------------------- */

static PyObject *
SortedKeys_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"iterable", "load", NULL};
    PyObject *iterable = NULL;
    Py_ssize_t load = DEFAULT_LOAD;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|On:SortedKeys", kwlist, &iterable, &load))
        return NULL;
    if (load < 4) {
        PyErr_SetString(PyExc_ValueError, "load must be at least 4");
        return NULL;
    }
    SortedKeys *self = (SortedKeys *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->load = load;
    if (iterable == NULL || iterable == Py_None)
        return (PyObject *)self;
    PyObject *list;
    if (Py_IS_TYPE(iterable, &SortedKeys_Type)) {
        list = slice_list((SortedKeys *)iterable, 0, ((SortedKeys *)iterable)->size, 0);
    } else {
        list = PySequence_List(iterable);
        if (list != NULL) {
            for (Py_ssize_t k = 0; k < PyList_GET_SIZE(list); k++) {
                if (check_key(PyList_GET_ITEM(list, k)) < 0) {
                    Py_CLEAR(list);
                    break;
                }
            }
            if (list != NULL && PyList_Sort(list) < 0)
                Py_CLEAR(list);
        }
    }
    if (list == NULL || fill_sorted(self, ((PyListObject *)list)->ob_item, PyList_GET_SIZE(list)) < 0) {
        Py_XDECREF(list);
        Py_DECREF(self);
        return NULL;
    }
    Py_DECREF(list);
    return (PyObject *)self;
}

static void
SortedKeys_dealloc(SortedKeys *self)
{
    clear_all(self);
    PyMem_Free(self->tree);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t
SortedKeys_len(SortedKeys *self)
{
    return self->size;
}

static int
SortedKeys_contains(SortedKeys *self, PyObject *key)
{
    Py_ssize_t i, j;
    if (!PyBytes_CheckExact(key) || self->size == 0)
        return 0;
    return find_key(self, key, &i, &j);
}

static PyObject *
SortedKeys_add(SortedKeys *self, PyObject *key)
{
    if (check_key(key) < 0 || add_key(self, key) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
remove_impl(SortedKeys *self, PyObject *key, int missing_ok)
{
    Py_ssize_t i, j;
    if (check_key(key) < 0)
        return NULL;
    if (self->size == 0 || !find_key(self, key, &i, &j)) {
        if (missing_ok)
            Py_RETURN_NONE;
        PyErr_Format(PyExc_ValueError, "%R not in list", key);
        return NULL;
    }
    Py_DECREF(take(self, i, j));
    Py_RETURN_NONE;
}

static PyObject *
SortedKeys_remove(SortedKeys *self, PyObject *key)
{
    return remove_impl(self, key, 0);
}

static PyObject *
SortedKeys_discard(SortedKeys *self, PyObject *key)
{
    return remove_impl(self, key, 1);
}

static PyObject *
bisect_impl(SortedKeys *self, PyObject *key, int right)
{
    if (check_key(key) < 0)
        return NULL;
    if (self->size == 0)
        return PyLong_FromSsize_t(0);
    uint64_t want = prefix8(key);
    Py_ssize_t i = bisect_leaves(self, key, want, right);
    if (i == self->nleaves)
        return PyLong_FromSsize_t(self->size);
    Leaf *leaf = &self->leaves[i];
    Py_ssize_t before = leaves_before(self, i);
    if (before < 0)
        return NULL;
    return PyLong_FromSsize_t(before + bisect_items(leaf, key, want, right));
}

static PyObject *
SortedKeys_bisect_left(SortedKeys *self, PyObject *key)
{
    return bisect_impl(self, key, 0);
}

static PyObject *
SortedKeys_bisect_right(SortedKeys *self, PyObject *key)
{
    return bisect_impl(self, key, 1);
}

static PyObject *
SortedKeys_item(SortedKeys *self, Py_ssize_t index)
{
    Py_ssize_t i, j;
    if (index < 0 || index >= self->size) {
        PyErr_SetString(PyExc_IndexError, "list index out of range");
        return NULL;
    }
    if (locate(self, index, &i, &j) < 0)
        return NULL;
    PyObject *key = self->leaves[i].items[j];
    Py_INCREF(key);
    return key;
}

static PyObject *
SortedKeys_subscript(SortedKeys *self, PyObject *index)
{
    if (PySlice_Check(index)) {
        Py_ssize_t start, stop, step;
        if (PySlice_Unpack(index, &start, &stop, &step) < 0)
            return NULL;
        PySlice_AdjustIndices(self->size, &start, &stop, step);
        if (step != 1) {
            PyErr_SetString(PyExc_ValueError, "SortedKeys slices take no step");
            return NULL;
        }
        return slice_list(self, start, stop, 0);
    }
    Py_ssize_t k = PyNumber_AsSsize_t(index, PyExc_IndexError);
    if (k == -1 && PyErr_Occurred())
        return NULL;
    if (k < 0)
        k += self->size;
    return SortedKeys_item(self, k);
}

static int
SortedKeys_ass_subscript(SortedKeys *self, PyObject *index, PyObject *value)
{
    if (value != NULL) {
        PyErr_SetString(PyExc_TypeError, "SortedKeys does not support item assignment");
        return -1;
    }
    if (PySlice_Check(index)) {
        Py_ssize_t start, stop, step;
        if (PySlice_Unpack(index, &start, &stop, &step) < 0)
            return -1;
        PySlice_AdjustIndices(self->size, &start, &stop, step);
        if (step != 1) {
            PyErr_SetString(PyExc_ValueError, "SortedKeys slices take no step");
            return -1;
        }
        return delete_range(self, start, stop);
    }
    Py_ssize_t k = PyNumber_AsSsize_t(index, PyExc_IndexError);
    if (k == -1 && PyErr_Occurred())
        return -1;
    if (k < 0)
        k += self->size;
    if (k < 0 || k >= self->size) {
        PyErr_SetString(PyExc_IndexError, "list assignment index out of range");
        return -1;
    }
    return delete_range(self, k, k + 1);
}

static PyObject *
SortedKeys_pop(SortedKeys *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t index = -1, i, j;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "pop() takes at most 1 argument");
        return NULL;
    }
    if (nargs == 1) {
        index = PyNumber_AsSsize_t(args[0], PyExc_IndexError);
        if (index == -1 && PyErr_Occurred())
            return NULL;
    }
    if (index < 0)
        index += self->size;
    if (index < 0 || index >= self->size) {
        PyErr_SetString(PyExc_IndexError, "pop index out of range");
        return NULL;
    }
    if (locate(self, index, &i, &j) < 0)
        return NULL;
    return take(self, i, j);
}

/* islice(start=None, stop=None, reverse=False): a list (SortedList yields an iterator). */
static PyObject *
SortedKeys_islice(SortedKeys *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"start", "stop", "reverse", NULL};
    PyObject *start_obj = Py_None, *stop_obj = Py_None;
    int reverse = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOp:islice", kwlist, &start_obj, &stop_obj, &reverse))
        return NULL;
    PyObject *slice = PySlice_New(start_obj, stop_obj, NULL);
    if (slice == NULL)
        return NULL;
    Py_ssize_t start, stop, step;
    int rc = PySlice_Unpack(slice, &start, &stop, &step);
    Py_DECREF(slice);
    if (rc < 0)
        return NULL;
    PySlice_AdjustIndices(self->size, &start, &stop, step);
    return slice_list(self, start, stop, reverse);
}

static PyObject *
SortedKeys_iter(SortedKeys *self)
{
    PyObject *list = slice_list(self, 0, self->size, 0);
    if (list == NULL)
        return NULL;
    PyObject *it = PyObject_GetIter(list);
    Py_DECREF(list);
    return it;
}

static PyObject *
SortedKeys_reversed(SortedKeys *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *list = slice_list(self, 0, self->size, 1);
    if (list == NULL)
        return NULL;
    PyObject *it = PyObject_GetIter(list);
    Py_DECREF(list);
    return it;
}

static PyObject *
SortedKeys_clear(SortedKeys *self, PyObject *Py_UNUSED(ignored))
{
    clear_all(self);
    Py_RETURN_NONE;
}

static PyObject *
SortedKeys_sizeof(SortedKeys *self, PyObject *Py_UNUSED(ignored))
{
    Py_ssize_t n = sizeof(SortedKeys) + self->leaves_cap * sizeof(Leaf) + self->tree_cap * sizeof(Py_ssize_t);
    for (Py_ssize_t i = 0; i < self->nleaves; i++)
        n += self->leaves[i].cap * (sizeof(PyObject *) + sizeof(uint64_t));
    return PyLong_FromSsize_t(n);
}

static PyObject *
SortedKeys_repr(SortedKeys *self)
{
    PyObject *list = slice_list(self, 0, self->size, 0);
    if (list == NULL)
        return NULL;
    PyObject *r = PyUnicode_FromFormat("SortedKeys(%R)", list);
    Py_DECREF(list);
    return r;
}

/* For tests: the leaf lengths, to check the split and merge invariants. */
static PyObject *
SortedKeys_leaf_lengths(SortedKeys *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *out = PyList_New(self->nleaves);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < self->nleaves; i++) {
        PyObject *n = PyLong_FromSsize_t(self->leaves[i].len);
        if (n == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, n);
    }
    return out;
}

static PyMethodDef SortedKeys_methods[] = {
    {"add", (PyCFunction)SortedKeys_add, METH_O, "Insert a key (duplicates are kept, as in SortedList)."},
    {"remove", (PyCFunction)SortedKeys_remove, METH_O, "Remove a key; ValueError when absent."},
    {"discard", (PyCFunction)SortedKeys_discard, METH_O, "Remove a key when present."},
    {"bisect_left", (PyCFunction)SortedKeys_bisect_left, METH_O, "Index of the first key >= key."},
    {"bisect_right", (PyCFunction)SortedKeys_bisect_right, METH_O, "Index of the first key > key."},
    {"pop", (PyCFunction)(void (*)(void))SortedKeys_pop, METH_FASTCALL, "Remove and return the key at index (default -1)."},
    {"islice", (PyCFunction)(void (*)(void))SortedKeys_islice, METH_VARARGS | METH_KEYWORDS,
     "The keys at positions [start, stop) as a list, reversed when reverse is true."},
    {"clear", (PyCFunction)SortedKeys_clear, METH_NOARGS, "Remove every key."},
    {"__reversed__", (PyCFunction)SortedKeys_reversed, METH_NOARGS, NULL},
    {"__sizeof__", (PyCFunction)SortedKeys_sizeof, METH_NOARGS, NULL},
    {"_leaf_lengths", (PyCFunction)SortedKeys_leaf_lengths, METH_NOARGS, NULL},
    {NULL}
};

static PySequenceMethods SortedKeys_as_sequence = {
    .sq_length = (lenfunc)SortedKeys_len,
    .sq_item = (ssizeargfunc)SortedKeys_item,
    .sq_contains = (objobjproc)SortedKeys_contains,
};

static PyMappingMethods SortedKeys_as_mapping = {
    .mp_length = (lenfunc)SortedKeys_len,
    .mp_subscript = (binaryfunc)SortedKeys_subscript,
    .mp_ass_subscript = (objobjargproc)SortedKeys_ass_subscript,
};

static PyTypeObject SortedKeys_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "vermilion._sortedkeys.SortedKeys",
    .tp_basicsize = sizeof(SortedKeys),
    .tp_dealloc = (destructor)SortedKeys_dealloc,
    .tp_repr = (reprfunc)SortedKeys_repr,
    .tp_as_sequence = &SortedKeys_as_sequence,
    .tp_as_mapping = &SortedKeys_as_mapping,
    .tp_iter = (getiterfunc)SortedKeys_iter,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Bytes keys in byte order with positional access (a sorted set's index).",
    .tp_methods = SortedKeys_methods,
    .tp_new = SortedKeys_new,
};

/* sort_key(score, member): types/sortedset.py's score_prefix(score) + member in one
 * allocation. The prefix is 1 then the IEEE double big-endian for scores >= 0, 0 then
 * those bytes inverted for negative ones; -0.0 is written as 0.0. */
static PyObject *
make_sort_key(double score, PyObject *member)
{
    if (!PyBytes_CheckExact(member)) {
        PyErr_SetString(PyExc_TypeError, "sort_key(score: float, member: bytes)");
        return NULL;
    }
    score += 0.0;
    Py_ssize_t n = PyBytes_GET_SIZE(member);
    PyObject *key = PyBytes_FromStringAndSize(NULL, 9 + n);
    if (key == NULL)
        return NULL;
    unsigned char *p = (unsigned char *)PyBytes_AS_STRING(key);
    uint64_t bits;
    memcpy(&bits, &score, sizeof bits);
    unsigned char mask = score >= 0 ? 0x00 : 0xff;
    p[0] = score >= 0 ? 1 : 0;
    for (int i = 0; i < 8; i++)
        p[1 + i] = (unsigned char)(bits >> (56 - 8 * i)) ^ mask;
    memcpy(p + 9, PyBytes_AS_STRING(member), n);
    return key;
}

static PyObject *
sort_key(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyBytes_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "sort_key(score: float, member: bytes)");
        return NULL;
    }
    double score = PyFloat_CheckExact(args[0]) ? PyFloat_AS_DOUBLE(args[0]) : PyFloat_AsDouble(args[0]);
    if (score == -1.0 && PyErr_Occurred())
        return NULL;
    return make_sort_key(score, args[1]);
}

/* -- the C API (_sortedkeys.h) ------------------------------------------------------ */

static int
check_keys(PyObject *keys)
{
    if (!Py_IS_TYPE(keys, &SortedKeys_Type)) {
        PyErr_Format(PyExc_TypeError, "expected SortedKeys, not %.100s", Py_TYPE(keys)->tp_name);
        return -1;
    }
    return 0;
}

/* SortedKeys.add(key) */
static int
api_add(PyObject *keys, PyObject *key)
{
    if (check_keys(keys) < 0 || check_key(key) < 0)
        return -1;
    return add_key((SortedKeys *)keys, key);
}

/* SortedKeys.remove(key) */
static int
api_remove(PyObject *keys, PyObject *key)
{
    if (check_keys(keys) < 0)
        return -1;
    PyObject *done = remove_impl((SortedKeys *)keys, key, 0);
    if (done == NULL)
        return -1;
    Py_DECREF(done);
    return 0;
}

static const VermilionSortedKeysAPI c_api = {
    .version = VERMILION_SORTEDKEYS_API_VERSION,
    .type = &SortedKeys_Type,
    .add = api_add,
    .remove = api_remove,
    .sort_key = make_sort_key,
};

static PyMethodDef module_methods[] = {
    {"sort_key", (PyCFunction)(void (*)(void))sort_key, METH_FASTCALL,
     "The sort key of (score, member): 9 order-preserving score bytes, then the member."},
    {NULL}
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "vermilion._sortedkeys",
    "A sorted set's ordered index in C (pure-Python twin: sortedcontainers.SortedList).",
    -1, module_methods,
};

PyMODINIT_FUNC
PyInit__sortedkeys(void)
{
    if (PyType_Ready(&SortedKeys_Type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL)
        return NULL;
    Py_INCREF(&SortedKeys_Type);
    if (PyModule_AddObject(m, "SortedKeys", (PyObject *)&SortedKeys_Type) < 0) {
        Py_DECREF(&SortedKeys_Type);
        Py_DECREF(m);
        return NULL;
    }
    /* The C API for compiled callers (_sortedkeys.h). The struct is static and
     * read-only: the capsule needs no destructor. */
    PyObject *capsule = PyCapsule_New((void *)&c_api, VERMILION_SORTEDKEYS_CAPSULE, NULL);
    if (capsule == NULL || PyModule_AddObject(m, "_C_API", capsule) < 0) {
        Py_XDECREF(capsule);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
