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
    }
    dicts_.clear();
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
        dicts_.erase(it);
    }
}

}  // namespace spyrec::recorder
