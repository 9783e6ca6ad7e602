// A watch: an expression (`myapp.CONFIG['db']`), how to resolve it, and the
// picture of its value (value_tree.h).
//
// Two kinds of probes tell, in a few loads on the hot path, whether the value
// may have changed: path probes (the dict slots and list items on the way
// from sys.modules to the value, so rebinding counts) and the value tree's
// own (every container inside the value, so nested changes count). When one
// fires, update() resolves the expression again and either diffs the tree
// (same object: ops) or takes a new picture (rebinding, appearing).
#pragma once
#include <Python.h>

#include <cstdint>
#include <string>
#include <vector>

#include "clean_calls.h"
#include "dict_registry.h"
#include "item_compare.h"
#include "snapshot.h"
#include "value_tree.h"

namespace spyrec::recorder {

struct WatchStep {
    bool is_attribute;  // .name (true) or [key] (false)
    PyObject* key;      // owned: a str for attributes, a literal for items
};

// A probe on the path to the value. Every object a probe points at is held
// with a strong reference, so its address cannot be reused meanwhile.
struct Probe {
    enum class Kind : uint8_t { kDict, kDictSlot, kListItems };
    Kind kind;
    PyObject* container = nullptr;      // owned
    const uint64_t* counter = nullptr;  // kDict, kDictSlot: the dict watcher's count for this dict
    uint64_t seen = 0;                  // the count when the probe was last settled
    PyObject* key = nullptr;            // kDictSlot: owned
    PyObject* slot_value = nullptr;     // kDictSlot: owned, nullptr when the key was absent
    std::vector<PyObject*> items;       // kListItems: borrowed copies of ob_item pointers

    // kListItems: whether the list no longer holds what it did.
    bool list_moved() const {
        auto* list = reinterpret_cast<PyListObject*>(container);
        return Py_SIZE(list) != static_cast<Py_ssize_t>(items.size()) ||
               !same_items(list->ob_item, items.data(), items.size());
    }
};

class Watch {
public:
    enum class Outcome { kNone, kModified, kAppeared, kVanished, kRebound };

    Watch(uint32_t id, std::string expr, std::string root_module, std::vector<WatchStep> steps, DictRegistry* dicts,
          WatchedContainers* watched, const SnapshotLimits* limits);
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

    uint32_t id() const { return id_; }
    const std::string& expr() const { return expr_; }

    // Hot: true when some probe says the value may have changed. Settles
    // path probes that turn out to be unchanged (a dict slot whose dict
    // changed elsewhere). No allocation, no Python objects created.
    // `target`: only that container can have changed (nullptr: anything).
    bool probes_fired(PyObject* target) {
        for (const Probe& p : path_probes_) {
            if (p.kind == Probe::Kind::kListItems && p.list_moved()) return true;
        }
        if (target ? tree_.may_have_changed_at(target) : tree_.may_have_changed()) return true;
        uint64_t epoch = dicts_->epoch();
        if (epoch == dict_epoch_seen_) return false;
        if (tree_.dict_written() || path_dicts_written()) return true;
        dict_epoch_seen_ = epoch;
        return false;
    }

    // Cold: copy the list, set and sequence probes into the session's table
    // (probe_table.h). Valid until the next update() or before_store().
    void add_probes_to(ProbeTable& table) const {
        for (const Probe& p : path_probes_) {
            if (p.kind == Probe::Kind::kListItems) table.add_list(p.container, p.items);
        }
        tree_.add_probes_to(table);
    }

    // Whether `dict` is one of the dicts this watch depends on.
    bool depends_on(PyObject* dict) const;

    // Cold, from the dict watcher, before `dict[key] = new_value` happens in
    // a dict this watch depends on: start watching the dicts inside the new
    // value now (its own, a plain object's, those inside a new list), so a
    // store into one of them before the next check (an attribute store right
    // after `OBJ = Plain()`, with no event between) is seen as its own change.
    void before_store(PyObject* dict, PyObject* key, PyObject* new_value);

    // Cold: resolve again and compare. Appends the edits of a modification
    // to `delta`; the tree then pictures the value as it is now.
    Outcome update(Delta& delta);

    // Cold: the whole value now (valid when exists()).
    const ValueTree& tree() const { return tree_; }
    bool take_freed() { return tree_.take_freed(); }
    bool exists() const { return tree_.has_root(); }

    // Keyframe policy (docs/value-model.md): after appearing or rebinding,
    // and once the ops since the last keyframe outweigh it.
    bool wants_keyframe(Outcome outcome, size_t delta_bytes);
    void keyframe_written(size_t bytes);

    // What the end-of-recording notes say.
    bool ever_resolved() const { return ever_resolved_; }
    const std::string& unresolved_reason() const { return unresolved_reason_; }

private:
    bool path_dicts_written();
    bool path_may_lead_elsewhere();
    void pre_watch(PyObject* value, int depth, size_t& budget);
    void clear_probes();
    void add_dict(PyObject* dict);
    void add_dict_slot(PyObject* dict, PyObject* key, PyObject* value);
    void add_list(PyObject* list);
    PyObject* resolve();  // new reference or nullptr (missing); adds path probes

    DictRegistry* dicts_;
    WatchedContainers* watched_;
    const SnapshotLimits* limits_;
    uint32_t id_;
    std::string expr_;
    std::string root_module_name_;
    std::string path_before(size_t step) const;  // the expression up to `step`, for messages
    PyObject* root_name_;                        // owned str
    // The root module once found. importlib pops a module from sys.modules and
    // puts it back while importing it (_load_unlocked); a watch on it must not
    // vanish and reappear for that. A different module in sys.modules wins.
    PyObject* root_module_ = nullptr;  // owned
    std::vector<WatchStep> steps_;
    std::vector<Probe> path_probes_;  // includes dicts watched early by before_store
    // The last resolve() read only probed places (sys.modules, a module's
    // attributes, dict keys, list and tuple items): while no path probe
    // fired, it would find the same object again.
    bool path_exact_ = false;
    uint64_t dict_epoch_seen_ = 0;
    ValueTree tree_;
    bool ever_resolved_ = false;
    std::string unresolved_reason_;
    size_t bytes_since_keyframe_ = 0;
    size_t changes_since_keyframe_ = 0;
    size_t last_keyframe_bytes_ = 0;
};

}  // namespace spyrec::recorder
