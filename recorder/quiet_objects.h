// Objects the recorder may hash, compare or free from inside a callback
// because doing so runs none of the program's code. One list, used by the
// dict watcher (which keys it keeps, which stores can free nothing) and by
// the value tree (which keys it indexes, which dropped items free quietly).
#pragma once
#include <Python.h>

namespace spyrec::recorder {

// A dict key whose hash and equality are CPython's own.
inline bool is_plain_key(PyObject* key) { return PyUnicode_CheckExact(key) || PyLong_CheckExact(key); }

// An object whose freeing runs no code: no finalizer, no weakref, no items.
inline bool frees_silently(PyObject* obj) {
    return obj == Py_None || PyBool_Check(obj) || PyLong_CheckExact(obj) || PyFloat_CheckExact(obj) ||
           PyUnicode_CheckExact(obj) || PyBytes_CheckExact(obj) || PyComplex_CheckExact(obj);
}

}  // namespace spyrec::recorder
