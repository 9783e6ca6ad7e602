// Comparing a list's item pointers with a saved copy. The watched lists can
// be long (a million items) and are compared at every check, so long runs
// go through memcmp, which compares many pointers per instruction.
#pragma once
#include <Python.h>

#include <cstddef>
#include <cstring>

namespace spyrec::recorder {

// Short lists (sys.path, sys.meta_path) inline; long ones through memcmp.
inline bool same_items(PyObject* const* now, const PyObject* const* saved, size_t n) {
    if (n > 16) return std::memcmp(now, saved, sizeof(PyObject*) * n) == 0;
    for (size_t i = 0; i < n; ++i) {
        if (now[i] != saved[i]) return false;
    }
    return true;
}

// How many leading pointers `a` and `b` share (both at least n long).
inline size_t common_prefix(PyObject* const* a, PyObject* const* b, size_t n) {
    constexpr size_t kBlock = 64;
    size_t i = 0;
    while (i + kBlock <= n && std::memcmp(a + i, b + i, kBlock * sizeof(PyObject*)) == 0) i += kBlock;
    while (i < n && a[i] == b[i]) ++i;
    return i;
}

// How many trailing pointers a[..a_end) and b[..b_end) share, at most n.
inline size_t common_suffix(PyObject* const* a, size_t a_end, PyObject* const* b, size_t b_end, size_t n) {
    constexpr size_t kBlock = 64;
    size_t s = 0;
    while (s + kBlock <= n &&
           std::memcmp(a + a_end - s - kBlock, b + b_end - s - kBlock, kBlock * sizeof(PyObject*)) == 0) {
        s += kBlock;
    }
    while (s < n && a[a_end - 1 - s] == b[b_end - 1 - s]) ++s;
    return s;
}

}  // namespace spyrec::recorder
