// The dicts that watches depend on, observed through one CPython dict
// watcher (PyDict_AddWatcher: 8 slots per interpreter, so spyrec takes one
// and shares it). CPython calls the watcher *during* a mutation, before it
// happens, in the thread and frame that make it: that is how a change to a
// dict-backed value (a module attribute, os.environ, an instance __dict__, a
// dict anywhere in a watched value) is blamed exactly even when the
// instruction that made it raises no monitoring event.
//
// Each watched dict has a counter the watcher bumps; probes compare it, so
// checking a dict costs one load per event. The dicts written since the
// watches last settled are also listed, so a watch holding thousands of
// dicts finds the few that were written without comparing every counter.
#pragma once
#include <Python.h>

#include <array>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "quiet_objects.h"

namespace spyrec::recorder {

// The last few writes to one dict, so that a big dict of which a few keys
// were added or replaced is compared at those keys only
// (ValueTree::diff_dict_at_writes). Write number c sits at ring[c % kKept].
struct DictWrites {
    static constexpr unsigned kKept = 8;
    struct Write {
        uint64_t count = 0;
        // Held when a str or int (freeing one runs no user code); otherwise
        // borrowed and maybe gone since, so never read.
        PyObject* key = nullptr;
        PyDict_WatchEvent event = PyDict_EVENT_CLEARED;
        bool held = false;
    };
    std::array<Write, kKept> ring{};

    void record(uint64_t count, PyDict_WatchEvent event, PyObject* key) {
        Write& slot = ring[count % kKept];
        if (slot.held) Py_DECREF(slot.key);
        bool hold = key && is_plain_key(key);
        slot = {count, hold ? Py_NewRef(key) : key, event, hold};
    }
    void forget() {
        for (Write& w : ring) {
            if (w.held) Py_DECREF(w.key);
            w = Write{};
        }
    }
};

class DictRegistry {
public:
    using Callback = int (*)(PyDict_WatchEvent, PyObject*, PyObject*, PyObject*);

    // Cold. Returns false (with a Python exception) if no watcher slot is free.
    bool open(Callback callback);
    void close();

    // Cold: start observing `dict` (once per user); the returned counter stays
    // valid until the last matching release().
    const uint64_t* acquire(PyObject* dict);
    void release(PyObject* dict);
    // Cold: the dict's last writes (valid as long as the counter is).
    const DictWrites* writes_of(PyObject* dict) const {
        auto it = dicts_.find(dict);
        return it == dicts_.end() ? nullptr : &it->second.writes;
    }

    // From the watcher: the dict is about to change.
    void bump(PyDict_WatchEvent event, PyObject* dict, PyObject* key) {
        ++epoch_;
        auto it = dicts_.find(dict);
        if (it == dicts_.end()) return;
        Entry& entry = it->second;
        ++entry.counter;
        entry.writes.record(entry.counter, event, key);
        entry.last_bump = epoch_;
        if (!entry.listed) {
            entry.listed = true;
            written_.push_back(dict);
        }
    }

    // Bumped with any watched dict: while it stays put, no dict probe can fire.
    uint64_t epoch() const { return epoch_; }

    // The dicts written since the last settle(), each once (a dict released
    // and acquired again may show twice; one that is gone may stay until the
    // next settle). A superset: whoever reads it still compares counters.
    const std::vector<PyObject*>& written() const { return written_; }
    // Cold: every user of a dict has compared its counter as of `epoch`;
    // forget the dicts written no later than that.
    void settle(uint64_t epoch);

private:
    struct Entry {
        uint64_t counter = 0;
        uint64_t last_bump = 0;  // the epoch of its last write
        int users = 0;
        bool listed = false;  // in written_
        DictWrites writes;
    };
    int watcher_id_ = -1;
    uint64_t epoch_ = 0;
    std::unordered_map<PyObject*, Entry> dicts_;  // node-based: counters do not move
    std::vector<PyObject*> written_;
};

}  // namespace spyrec::recorder
