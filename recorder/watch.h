// A watch: an expression (`myapp.CONFIG['db']`), how to resolve it, and the
// probes that tell, in a few loads, whether its value may have changed.
//
// Probes are the hot-path half: a dict's version tag, a list's size and item
// pointers, a set's fingerprint, a dict slot's identity. They cover the path
// from sys.modules to the value (so rebinding counts) and every container
// inside the value down to the snapshot depth (so nested changes count).
// When a probe fires, the cold half re-resolves the expression and compares
// canonical snapshots; only a real difference is a change.
#pragma once
#include <Python.h>

#include <capnp/common.h>
#include <kj/array.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dict_registry.h"
#include "snapshot.h"

namespace spyrec::recorder {

struct WatchStep {
    bool is_attribute;   // .name (true) or [key] (false)
    PyObject* key;       // owned: a str for attributes, a literal for items
};

// Every object a probe points at is held with a strong reference, so its
// address cannot be reused by another object while the probe exists.
struct Probe {
    enum class Kind : uint8_t { kDict, kDictSlot, kListItems, kSetFingerprint };
    Kind kind;
    PyObject* container = nullptr;       // owned
    const uint64_t* counter = nullptr;   // kDict, kDictSlot: the dict watcher's count for this dict
    uint64_t seen = 0;                   // the count when the probe was last settled
    PyObject* key = nullptr;             // kDictSlot: owned
    PyObject* slot_value = nullptr;      // kDictSlot: owned, nullptr when the key was absent
    Py_ssize_t size = 0;                 // kListItems
    std::vector<PyObject*> items;        // kListItems: borrowed copies of ob_item pointers
    uintptr_t fingerprint = 0;           // kSetFingerprint
};

class Watch {
public:
    Watch(uint32_t id, std::string expr, std::string root_module, std::vector<WatchStep> steps,
          DictRegistry* dicts);
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

    uint32_t id() const { return id_; }
    const std::string& expr() const { return expr_; }

    // Hot: true when some probe says the value may have changed. Settles
    // probes that turn out to be unchanged (a dict slot whose dict changed
    // elsewhere). No allocation, no Python objects created.
    bool probes_fired();

    // Whether `dict` is one of the dicts this watch depends on.
    bool depends_on(PyObject* dict) const;

    // Cold, from the dict watcher, before `dict[key] = new_value` happens:
    // when that slot is on this watch's path, start probing the new value's
    // containers now, so a mutation made before the next check (an attribute
    // store right after `OBJ = Plain()`) is still seen as its own change.
    void before_slot_store(PyObject* dict, PyObject* key, PyObject* new_value, const SnapshotLimits& limits);

    // Cold: resolve again, rebuild the probes, take a snapshot. Returns true if
    // the value differs from the last one (or appeared/vanished).
    bool reevaluate(const SnapshotLimits& limits);

    bool exists() const { return exists_; }
    bool existed_before() const { return existed_before_; }
    // Canonical snapshot words, valid while exists()/existed_before().
    const kj::Array<capnp::word>& current() const { return current_; }
    const kj::Array<capnp::word>& previous() const { return previous_; }

private:
    void clear_probes();
    void order_probes();
    void add_dict(PyObject* dict);
    void add_dict_slot(PyObject* dict, PyObject* key, PyObject* value);
    void add_container_probes(PyObject* value, int depth, const SnapshotLimits& limits, size_t& budget);
    PyObject* resolve();   // new reference or nullptr (missing); adds path probes

    DictRegistry* dicts_;
    uint32_t id_;
    std::string expr_;
    PyObject* root_name_;   // owned str
    // The root module once found. importlib pops a module from sys.modules and
    // puts it back while importing it (_load_unlocked); a watch on it must not
    // vanish and reappear for that. A different module in sys.modules wins.
    PyObject* root_module_ = nullptr;   // owned
    std::vector<WatchStep> steps_;
    // Probes that must be compared at every check (lists, sets) come first; the dict probes after them are compared only when
    // the dict watcher has seen a watched dict change since the last check.
    std::vector<Probe> probes_;
    size_t first_dict_probe_ = 0;
    uint64_t dict_epoch_seen_ = 0;
    bool exists_ = false;
    bool existed_before_ = false;
    kj::Array<capnp::word> current_;
    kj::Array<capnp::word> previous_;
};

}  // namespace spyrec::recorder
