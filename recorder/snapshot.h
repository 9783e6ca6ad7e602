// Structural snapshots of Python values as Cap'n Proto `Value`s (schema/).
// Cold path only: runs when a probe says a watched value may have changed.
//
// A snapshot never calls user-defined Python code: no __repr__, __eq__,
// __hash__ or properties of user classes. Builtin containers are walked,
// plain objects are recorded as their type and __dict__, and anything else by
// a builtin repr only when its type is a builtin (non-heap) type.
#pragma once
#include <Python.h>

#include <capnp/message.h>
#include <kj/array.h>

#include <cstddef>
#include <string>

#include "spyrec.capnp.h"

namespace spyrec::recorder {

struct SnapshotLimits {
    int max_depth = 6;              // containers below this depth become `tooDeep`
    size_t max_items = 1000;        // items per container; the rest are counted in `truncated`
    size_t max_text = 10000;        // characters of a str or repr, bytes of a bytes
    size_t max_nodes = 100000;      // values per snapshot; the rest become `tooDeep`
};

// Fills `out` with a snapshot of `value`. Never leaves a Python exception set.
void snapshot_value(PyObject* value, schema::Value::Builder out, const SnapshotLimits& limits);

// Module-qualified type name ("collections.OrderedDict", "int" for builtins).
std::string type_name(PyTypeObject* type);

// A heap-type instance with a __dict__ (not a module or a class).
bool is_plain_object(PyObject* value);

// Its __dict__ (new reference, materialized if needed) without running user
// code, or nullptr.
PyObject* plain_object_dict(PyObject* value);

// True for os._Environ, recorded as a dict of decoded strings.
bool is_os_environ(PyObject* value);

// The canonical bytes of a snapshot: equal values give equal bytes, so two
// snapshots are compared with one memcmp.
kj::Array<capnp::word> snapshot_canonical(PyObject* value, const SnapshotLimits& limits);

}  // namespace spyrec::recorder
