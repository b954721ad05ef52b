/* vermilion._sortedkeys's C API: what compiled modules call without a Python call.
 *
 * The module exports a PyCapsule, `vermilion._sortedkeys._C_API`, named
 * VERMILION_SORTEDKEYS_CAPSULE, whose pointer is a VermilionSortedKeysAPI. Each
 * function does what the Python-level call named beside it does, with the same
 * checks and the same exceptions, so a caller may use either and get one result
 * (tests/test_sortedkeys.py compares them with SortedList through
 * types/sortedset.py's index_add / index_remove):
 *
 *   add(keys, key)            SortedKeys.add(key): 0, or -1 with an exception
 *                             (TypeError when keys is not a SortedKeys or key not bytes)
 *   remove(keys, key)         SortedKeys.remove(key): 0, or -1 with an exception
 *                             (ValueError when key is absent)
 *   sort_key(score, member)   _sortedkeys.sort_key(score, member): a new reference,
 *                             or NULL with an exception (TypeError unless member is bytes)
 *
 * `type` is the SortedKeys type, for callers that test it themselves. `version`
 * grows when a field is added at the end; a caller checks it is at least the one
 * it was compiled against (vermilion_sortedkeys_api() does).
 *
 * Only the interpreter that loaded the module may use the functions, with the GIL
 * held, as for any Python call. Used from Cython through vermilion/_sortedkeys_api.pxd.
 */
#ifndef VERMILION_SORTEDKEYS_H
#define VERMILION_SORTEDKEYS_H

#include <Python.h>

#define VERMILION_SORTEDKEYS_CAPSULE "vermilion._sortedkeys._C_API"
#define VERMILION_SORTEDKEYS_API_VERSION 1

typedef struct {
    int version;
    PyTypeObject *type;
    int (*add)(PyObject *keys, PyObject *key);
    int (*remove)(PyObject *keys, PyObject *key);
    PyObject *(*sort_key)(double score, PyObject *member);
} VermilionSortedKeysAPI;

/* The API behind `capsule` (the module's _C_API attribute), or NULL with an
 * exception when it is not that capsule or is older than this header. */
static inline const VermilionSortedKeysAPI *
vermilion_sortedkeys_api(PyObject *capsule)
{
    const VermilionSortedKeysAPI *api =
        (const VermilionSortedKeysAPI *)PyCapsule_GetPointer(capsule, VERMILION_SORTEDKEYS_CAPSULE);
    if (api != NULL && api->version < VERMILION_SORTEDKEYS_API_VERSION) {
        PyErr_Format(PyExc_ImportError, "vermilion._sortedkeys: C API version %d, expected %d or later",
                     api->version, VERMILION_SORTEDKEYS_API_VERSION);
        return NULL;
    }
    return api;
}

#endif
