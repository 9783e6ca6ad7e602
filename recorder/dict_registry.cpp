#include "dict_registry.h"

namespace spyrec::recorder {

bool DictRegistry::open(Callback callback) {
    watcher_id_ = PyDict_AddWatcher(callback);
    return watcher_id_ >= 0;
}

void DictRegistry::close() {
    if (watcher_id_ < 0) return;
    for (auto& [dict, entry] : dicts_) {
        if (PyDict_Unwatch(watcher_id_, dict) < 0) PyErr_Clear();
        entry.writes.forget();
    }
    dicts_.clear();
    written_.clear();
    if (PyDict_ClearWatcher(watcher_id_) < 0) PyErr_Clear();
    watcher_id_ = -1;
}

const uint64_t* DictRegistry::acquire(PyObject* dict) {
    Entry& entry = dicts_[dict];
    if (entry.users++ == 0 && watcher_id_ >= 0) {
        if (PyDict_Watch(watcher_id_, dict) < 0) PyErr_Clear();
    }
    return &entry.counter;
}

void DictRegistry::release(PyObject* dict) {
    auto it = dicts_.find(dict);
    if (it == dicts_.end()) return;
    if (--it->second.users == 0) {
        if (watcher_id_ >= 0 && PyDict_Unwatch(watcher_id_, dict) < 0) PyErr_Clear();
        it->second.writes.forget();
        dicts_.erase(it);
    }
}

void DictRegistry::settle(uint64_t epoch) {
    size_t kept = 0;
    for (PyObject* dict : written_) {
        auto it = dicts_.find(dict);
        if (it == dicts_.end()) continue;  // no user left
        if (it->second.last_bump > epoch) {
            written_[kept++] = dict;  // written while the watches settled: not seen by all
        } else {
            it->second.listed = false;
        }
    }
    written_.resize(kept);
}

}  // namespace spyrec::recorder
