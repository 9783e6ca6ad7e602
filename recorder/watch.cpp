#include "watch.h"

#include <algorithm>

#include "python_version.h"

namespace spyrec::recorder {
namespace {

std::string repr_of_literal(PyObject* key) {
    // Watch keys are literals (str, int, bytes, tuples of them): a builtin repr.
    PyObject* r = PyObject_Repr(key);
    const char* s = r ? PyUnicode_AsUTF8(r) : nullptr;
    std::string out = s ? s : "?";
    Py_XDECREF(r);
    PyErr_Clear();
    return out;
}

std::string utf8(PyObject* str) {
    const char* s = PyUnicode_Check(str) ? PyUnicode_AsUTF8(str) : nullptr;
    if (!s) PyErr_Clear();
    return s ? s : "?";
}

constexpr size_t kMinKeyframeGap = 64 * 1024;
// Containers watched early inside one newly stored value, at most.
constexpr size_t kPreWatchBudget = 10000;
constexpr size_t kMaxChangesPerKeyframe = 256;

}  // namespace

Watch::Watch(uint32_t id, std::string expr, std::string root_module, std::vector<WatchStep> steps, DictRegistry* dicts,
             WatchedContainers* watched, const SnapshotLimits* limits)
    : dicts_(dicts),
      watched_(watched),
      limits_(limits),
      id_(id),
      expr_(std::move(expr)),
      root_module_name_(root_module),
      steps_(std::move(steps)),
      tree_(dicts, watched, limits) {
    root_name_ = PyUnicode_FromStringAndSize(root_module.data(), root_module.size());
    // `os.environ['API_TOKEN']`, `app.settings.SECRET_KEY`: the whole value is a secret.
    for (const auto& step : steps_) {
        if (limits_->redacts(step.key)) tree_.set_secret(true);
    }
    unresolved_reason_ = "module `" + root_module_name_ + "` was never imported";
}

Watch::~Watch() {
    tree_.clear();
    clear_probes();
    for (auto& step : steps_) Py_XDECREF(step.key);
    Py_XDECREF(root_name_);
    Py_XDECREF(root_module_);
}

void Watch::clear_probes() {
    for (auto& p : path_probes_) {
        if (p.counter) dicts_->release(p.container);
        Py_XDECREF(p.container);
        Py_XDECREF(p.key);
        Py_XDECREF(p.slot_value);
    }
    path_probes_.clear();
}

bool Watch::path_dicts_written() {
    for (Probe& p : path_probes_) {
        if (!p.counter || *p.counter == p.seen) continue;
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
    return false;
}

bool Watch::path_may_lead_elsewhere() {
    if (!path_exact_) return true;
    for (const Probe& p : path_probes_) {
        // Dicts watched early by before_store are dropped by resolving again
        // (clear_probes); kept, they would pile up with every such store.
        if (p.kind == Probe::Kind::kDict) return true;
        if (p.kind == Probe::Kind::kListItems && p.list_moved()) return true;
    }
    return path_dicts_written();
}

bool Watch::depends_on(PyObject* dict) const {
    for (const auto& p : path_probes_) {
        if (p.counter && p.container == dict) return true;
    }
    return tree_.depends_on(dict);
}

void Watch::before_store(PyObject* dict, PyObject* key, PyObject* new_value) {
    if (!key || !new_value) return;
    bool relevant = tree_.depends_on(dict);
    for (const auto& p : path_probes_) {
        if (relevant) break;
        if (p.kind != Probe::Kind::kDictSlot || p.container != dict) continue;
        // Keys are str/int/bytes/tuple literals or names: comparing runs no user code.
        int eq = p.key == key ? 1 : PyObject_RichCompareBool(p.key, key, Py_EQ);
        if (eq < 0) PyErr_Clear();
        if (eq > 0) relevant = true;
    }
    if (!relevant) return;
    if (PyModule_Check(new_value)) {
        // A module about to sit on the path (put into sys.modules): its
        // attributes are the next step.
        PyObject* inner = PyModule_GetDict(new_value);  // borrowed
        if (inner) add_dict(inner);
        return;
    }
    size_t budget = kPreWatchBudget;
    pre_watch(new_value, 0, budget);
}

void Watch::pre_watch(PyObject* value, int depth, size_t& budget) {
    if (budget == 0 || depth >= limits_->max_depth) return;
    --budget;
    PyObject* dict = nullptr;  // new reference
    switch (shape_of(value, depth, *limits_)) {
        case Shape::kDict: dict = Py_NewRef(value); break;
        case Shape::kObject:
            dict = plain_object_dict(value);
            if (dict) own_instance_dict(value, dict);
            break;
        case Shape::kEnviron: dict = environ_data(value); break;
        case Shape::kList:
        case Shape::kTuple:
            for (Py_ssize_t i = 0; i < Py_SIZE(value) && budget > 0; ++i) {
                pre_watch(PyList_Check(value) ? PyList_GET_ITEM(value, i) : PyTuple_GET_ITEM(value, i), depth + 1,
                          budget);
            }
            return;
        default: return;
    }
    if (!dict) return;
    add_dict(dict);
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (budget > 0 && PyDict_Next(dict, &pos, &k, &v)) pre_watch(v, depth + 1, budget);
    Py_DECREF(dict);
}

void Watch::add_dict(PyObject* dict) {
    Probe p{Probe::Kind::kDict};
    watched_->add(dict);
    p.container = Py_NewRef(dict);
    p.counter = dicts_->acquire(dict);
    p.seen = *p.counter;
    path_probes_.push_back(std::move(p));
}

void Watch::add_dict_slot(PyObject* dict, PyObject* key, PyObject* value) {
    Probe p{Probe::Kind::kDictSlot};
    watched_->add(dict);
    p.container = Py_NewRef(dict);
    p.counter = dicts_->acquire(dict);
    p.seen = *p.counter;
    p.key = Py_NewRef(key);
    p.slot_value = Py_XNewRef(value);
    path_probes_.push_back(std::move(p));
}

void Watch::add_list(PyObject* list) {
    Probe p{Probe::Kind::kListItems};
    watched_->add(list);
    p.container = Py_NewRef(list);
    auto* items = reinterpret_cast<PyListObject*>(list)->ob_item;
    p.items.assign(items, items + PyList_GET_SIZE(list));
    path_probes_.push_back(std::move(p));
}

std::string Watch::path_before(size_t step) const {
    std::string where = root_module_name_;
    for (size_t i = 0; i < step && i < steps_.size(); ++i) {
        if (steps_[i].is_attribute)
            where += "." + utf8(steps_[i].key);
        else
            where += "[" + repr_of_literal(steps_[i].key) + "]";
    }
    return where;
}

PyObject* Watch::resolve() {
    PyObject* modules = PyImport_GetModuleDict();  // borrowed
    PyObject* current = PyDict_GetItemWithError(modules, root_name_);
    add_dict_slot(modules, root_name_, current);
    path_exact_ = current != nullptr;
    if (current) {
        Py_XSETREF(root_module_, Py_NewRef(current));
    } else {
        PyErr_Clear();
        current = root_module_;
        if (!current) return nullptr;
    }
    Py_INCREF(current);
    // Why a step found nothing, said only when one does (this runs at every
    // change of the watched value, and the words cost allocations).
    enum class Missing { kAttribute, kKey, kIndex } missing = Missing::kKey;
    for (size_t i = 0; i < steps_.size(); ++i) {
        const WatchStep& step = steps_[i];
        PyObject* next = nullptr;
        if (step.is_attribute) {
            missing = Missing::kAttribute;
            PyObject* dict = nullptr;  // the dict holding the attribute, when there is one
            if (PyModule_Check(current)) {
                dict = Py_XNewRef(PyModule_GetDict(current));
            } else if (PyType_Check(current)) {
                path_exact_ = false;  // a class's attribute may live in a base class
                dict = PyType_GetDict(reinterpret_cast<PyTypeObject*>(current));
            } else {
                path_exact_ = false;  // an object's __dict__ can be replaced
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
                path_exact_ = false;
                next = PyObject_GetAttr(current, step.key);
            }
            Py_XDECREF(dict);
        } else {
            missing = Missing::kKey;
            if (PyDict_Check(current)) {
                next = PyDict_GetItemWithError(current, step.key);
                add_dict_slot(current, step.key, next);
                Py_XINCREF(next);
            } else if (PyList_Check(current) || PyTuple_Check(current)) {
                if (PyList_Check(current)) add_list(current);
                if (PyLong_Check(step.key)) {
                    Py_ssize_t index = PyLong_AsSsize_t(step.key);
                    Py_ssize_t n = Py_SIZE(current);
                    if (index < 0) index += n;
                    if (index >= 0 && index < n) {
                        next = Py_NewRef(PyList_Check(current) ? PyList_GET_ITEM(current, index)
                                                               : PyTuple_GET_ITEM(current, index));
                    }
                    missing = Missing::kIndex;
                }
            } else if (is_os_environ(current) && PyUnicode_Check(step.key)) {
                path_exact_ = false;  // a new str decoded at each resolve
                // os.environ[key] lives in os.environ._data under the encoded key.
                PyObject* data = environ_data(current);
                PyObject* encoded = PyUnicode_EncodeFSDefault(step.key);
                if (data && encoded) {
                    PyObject* raw = PyDict_GetItemWithError(data, encoded);
                    add_dict_slot(data, encoded, raw);
                    if (raw) next = environ_text(raw);
                }
                Py_XDECREF(encoded);
                Py_XDECREF(data);
            } else {
                path_exact_ = false;
                next = PyObject_GetItem(current, step.key);
                if (PyDict_Check(current)) add_dict(current);
            }
        }
        Py_DECREF(current);
        if (!next) {
            PyErr_Clear();
            std::string where = path_before(i);
            const char* what = missing == Missing::kAttribute ? "` has no "
                               : missing == Missing::kIndex   ? "` has no index "
                                                              : "` has no key ";
            unresolved_reason_ =
                "`" + where + what + (missing == Missing::kAttribute ? utf8(step.key) : repr_of_literal(step.key));
            return nullptr;
        }
        current = next;
    }
    return current;
}

Watch::Outcome Watch::update(Delta& delta) {
    PyObject* now;
    if (tree_.has_root() && !path_may_lead_elsewhere()) {
        // The usual change: inside the value, by the same path. Resolving
        // again would find the same object (and re-take the same probes).
        now = Py_NewRef(tree_.root_object());
    } else {
        clear_probes();
        now = resolve();
    }
    PyErr_Clear();
    dict_epoch_seen_ = dicts_->epoch();  // every probe is settled below
    if (now) ever_resolved_ = true;
    Outcome outcome = Outcome::kNone;
    if (!tree_.has_root()) {
        if (now) {
            tree_.build(now);
            outcome = Outcome::kAppeared;
        }
    } else if (!now) {
        tree_.clear();
        outcome = Outcome::kVanished;
    } else if (now == tree_.root_object()) {
        tree_.update(delta);
        if (!delta.empty()) outcome = Outcome::kModified;
    } else if (has_identity(now) && has_identity(tree_.root_object())) {
        // Another object, even an equal copy: later in-place changes happen
        // to it, so the rebinding is a change of its own.
        tree_.build(now);
        outcome = Outcome::kRebound;
    } else {
        auto before = tree_.canonical();
        tree_.build(now);
        auto after = tree_.canonical();
        bool same = before.size() == after.size() && std::equal(before.begin(), before.end(), after.begin(),
                                                                [](const capnp::word& a, const capnp::word& b) {
                                                                    return std::memcmp(&a, &b, sizeof a) == 0;
                                                                });
        if (!same) {
            tree_.serialize(delta.add({}, *limits_).initReplace());
            outcome = Outcome::kModified;
        }
    }
    Py_XDECREF(now);
    return outcome;
}

bool Watch::wants_keyframe(Outcome outcome, size_t delta_bytes) {
    if (outcome == Outcome::kAppeared || outcome == Outcome::kRebound) return true;
    if (outcome != Outcome::kModified) return false;
    bytes_since_keyframe_ += delta_bytes;
    ++changes_since_keyframe_;
    // Keyframes cost at most four times the bytes of the ops between them, so a
    // recording grows with what changed; and a value is rebuilt from at most
    // kMaxChangesPerKeyframe changes' ops unless that would mean writing a
    // large value again for tiny edits (then its size in ops, at most).
    if (bytes_since_keyframe_ >= std::max(kMinKeyframeGap, last_keyframe_bytes_)) return true;
    return changes_since_keyframe_ >= kMaxChangesPerKeyframe && bytes_since_keyframe_ * 4 >= last_keyframe_bytes_;
}

void Watch::keyframe_written(size_t bytes) {
    last_keyframe_bytes_ = bytes;
    bytes_since_keyframe_ = 0;
    changes_since_keyframe_ = 0;
}

}  // namespace spyrec::recorder
