#include "watch.h"

#include <algorithm>
#include <cstring>

#include "python_version.h"

namespace spyrec::recorder {

Watch::Watch(uint32_t id, std::string expr, std::string root_module, std::vector<WatchStep> steps,
             DictRegistry* dicts)
    : dicts_(dicts), id_(id), expr_(std::move(expr)), steps_(std::move(steps)) {
    root_name_ = PyUnicode_FromStringAndSize(root_module.data(), root_module.size());
}

Watch::~Watch() {
    clear_probes();
    for (auto& step : steps_) Py_XDECREF(step.key);
    Py_XDECREF(root_name_);
    Py_XDECREF(root_module_);
}

void Watch::clear_probes() {
    for (auto& p : probes_) {
        if (p.counter) dicts_->release(p.container);
        Py_XDECREF(p.container);
        Py_XDECREF(p.key);
        Py_XDECREF(p.slot_value);
    }
    probes_.clear();
}

bool Watch::probes_fired() {
    for (size_t i = 0; i < first_dict_probe_; ++i) {
        Probe& p = probes_[i];
        switch (p.kind) {
            case Probe::Kind::kListItems: {
                auto* list = reinterpret_cast<PyListObject*>(p.container);
                if (Py_SIZE(list) != p.size) return true;
                // A plain loop: lists are short, and a libc memcmp call costs more.
                PyObject* const* now = list->ob_item;
                const PyObject* const* saved = p.items.data();
                for (Py_ssize_t k = 0; k < p.size; ++k) {
                    if (now[k] != saved[k]) return true;
                }
                break;
            }
            case Probe::Kind::kSetFingerprint:
                if (set_fingerprint(p.container) != p.fingerprint) return true;
                break;
            case Probe::Kind::kDict:
            case Probe::Kind::kDictSlot:
                break;   // after the partition, never here
        }
    }
    uint64_t epoch = dicts_->epoch();
    if (epoch == dict_epoch_seen_) return false;
    for (size_t i = first_dict_probe_; i < probes_.size(); ++i) {
        Probe& p = probes_[i];
        if (*p.counter == p.seen) continue;
        if (p.kind == Probe::Kind::kDict) return true;
        // A dict slot: the dict changed; did this key's slot? A lookup of a
        // str or literal key runs no user code and creates no object.
        PyObject* now = PyDict_GetItemWithError(p.container, p.key);
        if (!now && PyErr_Occurred()) {
            PyErr_Clear();
            return true;
        }
        if (now != p.slot_value) return true;
        p.seen = *p.counter;
    }
    dict_epoch_seen_ = epoch;
    return false;
}

void Watch::order_probes() {
    auto is_dict_probe = [](const Probe& p) {
        return p.kind == Probe::Kind::kDict || p.kind == Probe::Kind::kDictSlot;
    };
    auto mid = std::stable_partition(probes_.begin(), probes_.end(),
                                     [&](const Probe& p) { return !is_dict_probe(p); });
    first_dict_probe_ = static_cast<size_t>(mid - probes_.begin());
}

bool Watch::depends_on(PyObject* dict) const {
    for (const auto& p : probes_) {
        if (p.counter && p.container == dict) return true;
    }
    return false;
}

void Watch::before_slot_store(PyObject* dict, PyObject* key, PyObject* new_value, const SnapshotLimits& limits) {
    if (!key || !new_value) return;
    bool on_path = false;
    for (const auto& p : probes_) {
        if (p.kind != Probe::Kind::kDictSlot || p.container != dict) continue;
        // Keys are str/int/bytes/tuple literals or names: comparing runs no user code.
        int eq = p.key == key ? 1 : PyObject_RichCompareBool(p.key, key, Py_EQ);
        if (eq < 0) PyErr_Clear();
        if (eq > 0) on_path = true;
    }
    if (!on_path) return;
    size_t budget = limits.max_nodes;
    add_container_probes(new_value, 0, limits, budget);
    order_probes();
}

void Watch::add_dict(PyObject* dict) {
    Probe p{Probe::Kind::kDict};
    p.container = Py_NewRef(dict);
    p.counter = dicts_->acquire(dict);
    p.seen = *p.counter;
    probes_.push_back(std::move(p));
}

void Watch::add_dict_slot(PyObject* dict, PyObject* key, PyObject* value) {
    Probe p{Probe::Kind::kDictSlot};
    p.container = Py_NewRef(dict);
    p.counter = dicts_->acquire(dict);
    p.seen = *p.counter;
    p.key = Py_NewRef(key);
    p.slot_value = Py_XNewRef(value);
    probes_.push_back(std::move(p));
}

void Watch::add_container_probes(PyObject* value, int depth, const SnapshotLimits& limits, size_t& budget) {
    if (depth > limits.max_depth || budget == 0) return;
    --budget;
    if (PyDict_Check(value)) {
        add_dict(value);
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(value, &pos, &k, &v)) add_container_probes(v, depth + 1, limits, budget);
    } else if (PyList_Check(value)) {
        Probe p{Probe::Kind::kListItems};
        p.container = Py_NewRef(value);
        p.size = PyList_GET_SIZE(value);
        auto* items = reinterpret_cast<PyListObject*>(value)->ob_item;
        p.items.assign(items, items + p.size);
        probes_.push_back(std::move(p));
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(value); ++i) {
            add_container_probes(PyList_GET_ITEM(value, i), depth + 1, limits, budget);
        }
    } else if (PyTuple_Check(value)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(value); ++i) {
            add_container_probes(PyTuple_GET_ITEM(value, i), depth + 1, limits, budget);
        }
    } else if (PySet_Check(value)) {
        Probe p{Probe::Kind::kSetFingerprint};
        p.container = Py_NewRef(value);
        p.fingerprint = set_fingerprint(value);
        probes_.push_back(std::move(p));
    } else if (is_plain_object(value) || is_os_environ(value)) {
        PyObject* dict = plain_object_dict(value);
        if (dict) {
            own_instance_dict(value, dict);
            add_dict(dict);
            Py_ssize_t pos = 0;
            PyObject *k, *v;
            while (PyDict_Next(dict, &pos, &k, &v)) add_container_probes(v, depth + 1, limits, budget);
            Py_DECREF(dict);
        }
    }
}

PyObject* Watch::resolve() {
    PyObject* modules = PyImport_GetModuleDict();   // borrowed
    PyObject* current = PyDict_GetItemWithError(modules, root_name_);
    add_dict_slot(modules, root_name_, current);
    if (current) {
        Py_XSETREF(root_module_, Py_NewRef(current));
    } else {
        PyErr_Clear();
        current = root_module_;
        if (!current) return nullptr;
    }
    Py_INCREF(current);
    for (auto& step : steps_) {
        PyObject* next = nullptr;
        PyObject* dict = nullptr;   // the dict holding the next value, when there is one
        if (step.is_attribute) {
            if (PyModule_Check(current)) {
                dict = PyModule_GetDict(current);   // borrowed
                Py_XINCREF(dict);
            } else if (PyType_Check(current)) {
                dict = Py_XNewRef(reinterpret_cast<PyTypeObject*>(current)->tp_dict);
            } else {
                dict = plain_object_dict(current);
                if (dict) own_instance_dict(current, dict);
            }
            if (dict) {
                next = PyDict_GetItemWithError(dict, step.key);
                add_dict_slot(dict, step.key, next);
                Py_XINCREF(next);
            }
            if (!next && !PyErr_Occurred() && !PyModule_Check(current)) {
                // A class attribute, property or slot: plain getattr.
                next = PyObject_GetAttr(current, step.key);
            }
        } else if (PyDict_Check(current)) {
            dict = Py_NewRef(current);
            next = PyDict_GetItemWithError(current, step.key);
            add_dict_slot(current, step.key, next);
            Py_XINCREF(next);
        } else if (PyList_Check(current) || PyTuple_Check(current)) {
            if (PyList_Check(current)) {
                size_t budget = 1;
                SnapshotLimits shallow;
                shallow.max_depth = 0;
                add_container_probes(current, 0, shallow, budget);
            }
            if (PyLong_Check(step.key)) {
                Py_ssize_t i = PyLong_AsSsize_t(step.key);
                Py_ssize_t n = Py_SIZE(current);
                if (i < 0) i += n;
                if (i >= 0 && i < n) {
                    next = Py_NewRef(PyList_Check(current) ? PyList_GET_ITEM(current, i)
                                                           : PyTuple_GET_ITEM(current, i));
                }
            }
        } else if (is_os_environ(current) && PyUnicode_Check(step.key)) {
            // os.environ[key] lives in os.environ._data under the encoded key.
            PyObject* data = PyObject_GetAttrString(current, "_data");
            PyObject* encoded = PyUnicode_EncodeFSDefault(step.key);
            if (data && encoded && PyDict_Check(data)) {
                dict = Py_NewRef(data);
                PyObject* raw = PyDict_GetItemWithError(data, encoded);
                add_dict_slot(data, encoded, raw);
                if (raw && PyBytes_Check(raw)) {
                    next = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw));
                }
            }
            Py_XDECREF(encoded);
            Py_XDECREF(data);
        } else {
            next = PyObject_GetItem(current, step.key);
            size_t budget = 64;
            add_container_probes(current, 0, SnapshotLimits{}, budget);
        }
        Py_XDECREF(dict);
        Py_DECREF(current);
        if (!next) {
            PyErr_Clear();
            return nullptr;
        }
        current = next;
    }
    return current;
}

bool Watch::reevaluate(const SnapshotLimits& limits) {
    clear_probes();
    PyObject* value = resolve();
    existed_before_ = exists_;
    previous_ = std::move(current_);
    exists_ = value != nullptr;
    if (value) {
        size_t budget = limits.max_nodes;
        add_container_probes(value, 0, limits, budget);
        current_ = snapshot_canonical(value, limits);
        Py_DECREF(value);
    } else {
        current_ = nullptr;
    }
    PyErr_Clear();
    order_probes();
    dict_epoch_seen_ = dicts_->epoch();   // every dict probe was just settled
    if (exists_ != existed_before_) return true;
    if (!exists_) return false;
    return previous_.size() != current_.size() ||
           std::memcmp(previous_.begin(), current_.begin(), current_.size() * sizeof(capnp::word)) != 0;
}

}  // namespace spyrec::recorder
