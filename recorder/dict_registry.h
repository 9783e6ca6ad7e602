// The dicts that watches depend on, observed through one CPython dict
// watcher (PyDict_AddWatcher: 8 slots per interpreter, so spyrec takes one
// and shares it). CPython calls the watcher *during* a mutation, before it
// happens, in the thread and frame that make it: that is how a change to a
// dict-backed value (a module attribute, os.environ, an instance __dict__, a
// dict anywhere in a watched value) is blamed exactly even when the
// instruction that made it raises no monitoring event.
//
// Each watched dict has a counter the watcher bumps; probes compare it, so
// checking a dict costs one load per event.
#pragma once
#include <Python.h>

#include <cstdint>
#include <unordered_map>

namespace spyrec::recorder {

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

    // From the watcher: the dict is about to change.
    void bump(PyObject* dict) {
        ++epoch_;
        auto it = dicts_.find(dict);
        if (it != dicts_.end()) ++it->second.counter;
    }

    // Bumped with any watched dict: while it stays put, no dict probe can fire.
    uint64_t epoch() const { return epoch_; }

private:
    struct Entry {
        uint64_t counter = 0;
        int users = 0;
    };
    int watcher_id_ = -1;
    uint64_t epoch_ = 0;
    std::unordered_map<PyObject*, Entry> dicts_;  // node-based: counters do not move
};

}  // namespace spyrec::recorder
