#include "snapshot.h"

#include <capnp/serialize.h>

#include <unordered_set>
#include <vector>

namespace spyrec::recorder {
namespace {

struct Walk {
    const SnapshotLimits& limits;
    size_t nodes = 0;
    std::unordered_set<PyObject*> on_path;   // cycle detection
};

void set_text(schema::Value::Builder out, PyObject* str, size_t max_text, bool as_repr) {
    Py_ssize_t size = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(str, &size);
    if (!utf8) {
        // Lone surrogates: fall back to an escaped form.
        PyErr_Clear();
        PyObject* escaped = PyUnicode_AsEncodedString(str, "utf-8", "backslashreplace");
        if (!escaped) {
            PyErr_Clear();
            out.setRepr("<unencodable str>");
            return;
        }
        std::string text(PyBytes_AS_STRING(escaped),
                         std::min<size_t>(PyBytes_GET_SIZE(escaped), max_text));
        Py_DECREF(escaped);
        if (as_repr) out.setRepr(text); else out.setStr(text);
        return;
    }
    size_t n = std::min<size_t>(size, max_text);
    // Do not cut a UTF-8 sequence in half.
    while (n < static_cast<size_t>(size) && n > 0 && (static_cast<unsigned char>(utf8[n]) & 0xC0) == 0x80) --n;
    std::string copy(utf8, n);
    if (as_repr) out.setRepr(copy); else out.setStr(copy);
    if (n < static_cast<size_t>(size)) out.setTruncated(size - n);
}

void set_builtin_repr(schema::Value::Builder out, PyObject* value, size_t max_text) {
    PyObject* r = PyObject_Repr(value);
    if (!r) {
        PyErr_Clear();
        out.setRepr("<" + type_name(Py_TYPE(value)) + " object>");
        return;
    }
    set_text(out, r, max_text, true);
    Py_DECREF(r);
}

void walk(PyObject* value, schema::Value::Builder out, Walk& w, int depth);

template <typename ListBuilder>
void walk_sequence(PyObject* const* items, size_t size, ListBuilder list, Walk& w, int depth) {
    for (size_t i = 0; i < list.size() && i < size; ++i) walk(items[i], list[i], w, depth + 1);
}

void walk_dict_items(PyObject* dict, capnp::List<schema::Entry>::Builder entries, Walk& w, int depth) {
    Py_ssize_t pos = 0;
    PyObject* key;
    PyObject* val;
    size_t i = 0;
    while (i < entries.size() && PyDict_Next(dict, &pos, &key, &val)) {
        walk(key, entries[i].initKey(), w, depth + 1);
        walk(val, entries[i].initValue(), w, depth + 1);
        ++i;
    }
}

void walk_environ(PyObject* environ, schema::Value::Builder out, Walk& w) {
    PyObject* data = PyObject_GetAttrString(environ, "_data");
    if (!data || !PyDict_Check(data)) {
        PyErr_Clear();
        Py_XDECREF(data);
        out.setRepr("<os.environ>");
        return;
    }
    size_t n = static_cast<size_t>(PyDict_GET_SIZE(data));
    size_t kept = std::min(n, w.limits.max_items * 10);   // an environment is worth seeing whole
    auto entries = out.initDict(kept);
    Py_ssize_t pos = 0;
    PyObject* key;
    PyObject* val;
    size_t i = 0;
    while (i < kept && PyDict_Next(data, &pos, &key, &val)) {
        for (int side = 0; side < 2; ++side) {
            PyObject* raw = side == 0 ? key : val;
            auto slot = side == 0 ? entries[i].initKey() : entries[i].initValue();
            if (PyBytes_Check(raw)) {
                PyObject* decoded = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw));
                if (decoded) {
                    set_text(slot, decoded, w.limits.max_text, false);
                    Py_DECREF(decoded);
                } else {
                    PyErr_Clear();
                    slot.setRepr("<undecodable>");
                }
            } else if (PyUnicode_Check(raw)) {
                set_text(slot, raw, w.limits.max_text, false);
            } else {
                slot.setRepr("<?>");
            }
        }
        ++i;
    }
    if (kept < n) out.setTruncated(n - kept);
    out.setTypeName("os._Environ");
    Py_DECREF(data);
}

}  // namespace

bool is_plain_object(PyObject* value) {
    PyTypeObject* type = Py_TYPE(value);
    if (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE)) return false;
    if (PyType_Check(value) || PyModule_Check(value)) return false;
    return type->tp_dictoffset != 0 || (type->tp_flags & Py_TPFLAGS_MANAGED_DICT);
}

PyObject* plain_object_dict(PyObject* value) {
    if (!is_plain_object(value)) return nullptr;
    PyObject* dict = PyObject_GenericGetDict(value, nullptr);
    if (!dict) {
        PyErr_Clear();
        return nullptr;
    }
    if (!PyDict_Check(dict)) {
        Py_DECREF(dict);
        return nullptr;
    }
    return dict;
}

namespace {

void walk(PyObject* value, schema::Value::Builder out, Walk& w, int depth) {
    if (++w.nodes > w.limits.max_nodes) {
        out.setTooDeep();
        return;
    }
    if (value == Py_None) { out.setNone(); return; }
    if (PyBool_Check(value)) { out.setBoolean(value == Py_True); return; }
    if (PyLong_Check(value)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow == 0 && !(v == -1 && PyErr_Occurred())) {
            out.setInteger(v);
        } else {
            PyErr_Clear();
            // int.__repr__ of a builtin int subclass is still the builtin one.
            PyObject* text = PyLong_Type.tp_repr(value);
            const char* digits = text ? PyUnicode_AsUTF8(text) : nullptr;
            if (digits) {
                out.setBigInteger(digits);
                Py_DECREF(text);
            } else {
                Py_XDECREF(text);
                PyErr_Clear();
                out.setRepr("<int>");
            }
        }
        if (!PyLong_CheckExact(value) && !PyBool_Check(value)) out.setTypeName(type_name(Py_TYPE(value)));
        return;
    }
    if (PyFloat_Check(value)) { out.setFloat(PyFloat_AS_DOUBLE(value)); return; }
    if (PyUnicode_Check(value)) {
        set_text(out, value, w.limits.max_text, false);
        if (!PyUnicode_CheckExact(value)) out.setTypeName(type_name(Py_TYPE(value)));
        return;
    }
    if (PyBytes_Check(value)) {
        size_t n = std::min<size_t>(PyBytes_GET_SIZE(value), w.limits.max_text);
        out.setBytes(kj::arrayPtr(reinterpret_cast<const kj::byte*>(PyBytes_AS_STRING(value)), n));
        if (n < static_cast<size_t>(PyBytes_GET_SIZE(value))) out.setTruncated(PyBytes_GET_SIZE(value) - n);
        return;
    }
    bool container = PyList_Check(value) || PyTuple_Check(value) || PyDict_Check(value) ||
                     PyAnySet_Check(value) || is_os_environ(value) || is_plain_object(value);
    if (!container) {
        if (PyModule_Check(value)) {
            const char* name = PyModule_GetName(value);
            if (!name) PyErr_Clear();
            out.setRepr(std::string("<module '") + (name ? name : "?") + "'>");
            return;
        }
        if (!(Py_TYPE(value)->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
            set_builtin_repr(out, value, w.limits.max_text);   // a builtin type's own repr
        } else {
            out.setRepr("<" + type_name(Py_TYPE(value)) + " object>");
        }
        return;
    }
    if (depth >= w.limits.max_depth) {
        out.setTooDeep();
        return;
    }
    if (!w.on_path.insert(value).second) {
        out.setCycle();
        return;
    }
    const size_t max_items = w.limits.max_items;
    if (PyList_Check(value) || PyTuple_Check(value)) {
        bool is_list = PyList_Check(value);
        size_t n = static_cast<size_t>(Py_SIZE(value));
        size_t kept = std::min(n, max_items);
        auto list = is_list ? out.initList(kept) : out.initTuple(kept);
        // A list can be mutated by nothing here (no user code runs), so its item
        // array stays valid while we walk it.
        PyObject* const* items = is_list ? reinterpret_cast<PyListObject*>(value)->ob_item
                                         : reinterpret_cast<PyTupleObject*>(value)->ob_item;
        walk_sequence(items, kept, list, w, depth);
        if (kept < n) out.setTruncated(n - kept);
        if (!PyList_CheckExact(value) && !PyTuple_CheckExact(value)) out.setTypeName(type_name(Py_TYPE(value)));
    } else if (PyDict_Check(value)) {
        size_t n = static_cast<size_t>(PyDict_GET_SIZE(value));
        size_t kept = std::min(n, max_items);
        walk_dict_items(value, out.initDict(kept), w, depth);
        if (kept < n) out.setTruncated(n - kept);
        if (!PyDict_CheckExact(value)) out.setTypeName(type_name(Py_TYPE(value)));
    } else if (PyAnySet_Check(value)) {
        size_t n = static_cast<size_t>(PySet_GET_SIZE(value));
        size_t kept = std::min(n, max_items);
        auto list = PyFrozenSet_Check(value) ? out.initFrozenset(kept) : out.initSet(kept);
        // Walk the hash table directly: no iterator object, no user code.
        auto* s = reinterpret_cast<PySetObject*>(value);
        size_t i = 0;
        for (Py_ssize_t slot = 0; slot <= s->mask && i < kept; ++slot) {
            PyObject* key = s->table[slot].key;
            if (key == nullptr || s->table[slot].hash == -1) continue;   // empty or dummy
            walk(key, list[i++], w, depth + 1);
        }
        if (kept < n) out.setTruncated(n - kept);
    } else if (is_os_environ(value)) {
        walk_environ(value, out, w);
    } else {
        PyObject* dict = plain_object_dict(value);
        auto inst = out.initObject();
        inst.setTypeName(type_name(Py_TYPE(value)));
        if (dict) {
            size_t n = static_cast<size_t>(PyDict_GET_SIZE(dict));
            size_t kept = std::min(n, max_items);
            walk_dict_items(dict, inst.initAttributes(kept), w, depth);
            if (kept < n) out.setTruncated(n - kept);
            Py_DECREF(dict);
        }
    }
    w.on_path.erase(value);
}

}  // namespace

std::string type_name(PyTypeObject* type) {
    std::string qual = type->tp_name ? type->tp_name : "?";
    if (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE)) return qual;   // tp_name is already "module.Name"
    PyObject* qualname = PyType_GetQualName(type);
    std::string result;
    if (qualname) {
        const char* q = PyUnicode_AsUTF8(qualname);
        result = q ? q : qual;
        Py_DECREF(qualname);
    }
    PyObject* module = PyDict_GetItemString(type->tp_dict, "__module__");
    if (module && PyUnicode_Check(module)) {
        const char* m = PyUnicode_AsUTF8(module);
        if (m && std::string_view(m) != "builtins") result = std::string(m) + "." + result;
    }
    PyErr_Clear();
    return result.empty() ? qual : result;
}

bool is_os_environ(PyObject* value) {
    PyTypeObject* type = Py_TYPE(value);
    if (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE) || std::string_view(type->tp_name) != "_Environ") return false;
    PyObject* module = PyDict_GetItemString(type->tp_dict, "__module__");
    if (!module || !PyUnicode_Check(module)) return false;
    const char* m = PyUnicode_AsUTF8(module);
    if (!m) { PyErr_Clear(); return false; }
    return std::string_view(m) == "os";
}

void snapshot_value(PyObject* value, schema::Value::Builder out, const SnapshotLimits& limits) {
    PyObject *type, *val, *tb;
    PyErr_Fetch(&type, &val, &tb);   // never disturb an exception in flight
    Walk w{limits};
    walk(value, out, w, 0);
    PyErr_Clear();
    PyErr_Restore(type, val, tb);
}

kj::Array<capnp::word> snapshot_canonical(PyObject* value, const SnapshotLimits& limits) {
    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<schema::Value>();
    snapshot_value(value, root, limits);
    return capnp::canonicalize(root.asReader());
}

}  // namespace spyrec::recorder
