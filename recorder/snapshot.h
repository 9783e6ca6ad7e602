// What spyrec sees of a Python value (docs/value-model.md), and structural
// snapshots of values as Cap'n Proto `Value`s (schema/). Cold path only.
//
// A snapshot never calls user-defined Python code: no __repr__, __eq__,
// __hash__ or properties of user classes. Builtin containers are walked all
// the way down whatever their size; a plain object is walked (its __dict__)
// only as the watched value itself or within the --follow depth; anything
// else is recorded by identity (an ObjectRef), with a builtin repr when its
// type is a builtin one.
#pragma once
#include <Python.h>

#include <capnp/message.h>
#include <kj/array.h>

#include <cstddef>
#include <map>
#include <string>

#include "redaction.h"
#include "spyrec.capnp.h"

namespace spyrec::recorder {

struct SnapshotLimits {
    int follow_depth = 0;  // plain objects below the watched value are walked to this depth
    // Containers nested deeper become `tooDeep` (and a note says so). 64 keeps
    // the deepest record inside the replayer's Cap'n Proto nesting limit (256
    // pointer levels; an object level costs three).
    int max_depth = 64;
    size_t max_text = 1000000;  // characters of a str kept; the whole str is still compared
    // Values under secret names are written as fingerprints (nullptr: none are).
    const Redactor* redactor = nullptr;

    bool redacts(PyObject* key) const { return redactor && redactor->secret_key(key); }
};

// How a value is seen. Containers are compared item by item; kLeaf values by
// value (immutable builtins, tuples of them) or by identity (everything else).
enum class Shape : uint8_t {
    kLeaf,
    kList,
    kTuple,
    kDict,
    kSet,        // set and frozenset
    kObject,     // a plain object's attributes (its __dict__)
    kEnviron,    // os.environ: its _data dict of bytes, seen as str -> str
    kBytearray,  // contents compared as bytes
    kSequence,   // collections.deque, array.array: contents compared when checked
};

// Types whose insides spyrec cannot see: type name -> what is tracked of it
// (filled by the value tree, value_tree.h, and note_if_opaque).
using OpaqueNotes = std::map<std::string, std::string>;

// How `value`, met at `depth` (0: the watched value itself), is seen.
Shape shape_of(PyObject* value, int depth, const SnapshotLimits& limits);

// Whether `value`'s identity matters: anything but an immutable value (int,
// float, str, bytes, tuple, frozenset and their subclasses, None, and the
// builtin types compared by their repr: datetime, Decimal, complex, ...). Rebinding
// a watch from one such object to another, even an equal copy, is a change
// of kind rebound: later in-place changes happen to the new object.
bool has_identity(PyObject* value);

// Fills `out` with a snapshot of `value` met at `depth`. Never leaves a
// Python exception set.
void snapshot_value(PyObject* value, schema::Value::Builder out, const SnapshotLimits& limits, int depth = 0);

// Notes `value` (a leaf met at `depth`) when it is compared by identity only
// because spyrec cannot see its insides (a numpy array, a __slots__ object).
void note_if_opaque(PyObject* value, int depth, OpaqueNotes& notes);

// Writes `value` as a secret: its keyed fingerprint, never its contents.
void snapshot_redacted(PyObject* value, schema::Value::Builder out, const SnapshotLimits& limits, int depth);

// The canonical bytes of a snapshot: equal values give equal bytes.
kj::Array<capnp::word> snapshot_canonical(PyObject* value, const SnapshotLimits& limits, int depth = 0);

// Whether two leaf values (shape kLeaf) are the same value: identity for
// objects compared by identity, value for immutable builtins. Runs no user code.
bool leaf_equal(PyObject* a, PyObject* b, const SnapshotLimits& limits, int depth);

// os.environ's keys and values are bytes in its _data dict: the str the
// program sees (a new reference), or nullptr.
PyObject* environ_text(PyObject* raw);

// Module-qualified type name ("collections.OrderedDict", "int" for builtins).
std::string type_name(PyTypeObject* type);

// A heap-type instance with a __dict__ (not a module or a class).
bool is_plain_object(PyObject* value);

// Its __dict__ (new reference, materialized if needed) without running user
// code, or nullptr.
PyObject* plain_object_dict(PyObject* value);

// True for os._Environ, recorded as a dict of decoded strings.
bool is_os_environ(PyObject* value);

// os.environ._data (new reference) or nullptr.
PyObject* environ_data(PyObject* environ);

}  // namespace spyrec::recorder
