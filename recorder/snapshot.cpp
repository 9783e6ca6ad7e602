#include "snapshot.h"

#include <capnp/serialize.h>

#include <cstring>
#include <string_view>
#include <unordered_set>

namespace spyrec::recorder {
namespace {

// Builtin value types whose repr is their value and runs no user code: kept
// as a `repr` Value and compared by it.
bool is_value_repr_type(PyTypeObject* type) {
    if (type->tp_flags & Py_TPFLAGS_HEAPTYPE) return false;
    static const std::unordered_set<std::string_view> names = {
        "complex",
        "range",
        "slice",
        "ellipsis",
        "NoneType",
        "NotImplementedType",
        "datetime.date",
        "datetime.datetime",
        "datetime.time",
        "datetime.timedelta",
        "datetime.timezone",
        "decimal.Decimal",
        "re.Pattern",
    };
    return names.count(type->tp_name) > 0;
}

bool is_deque(PyObject* value) {
    PyTypeObject* type = Py_TYPE(value);
    for (; type; type = type->tp_base) {
        if (std::strcmp(type->tp_name, "collections.deque") == 0) return true;
    }
    return false;
}

bool is_array(PyObject* value) {
    for (PyTypeObject* type = Py_TYPE(value); type; type = type->tp_base) {
        if (std::strcmp(type->tp_name, "array.array") == 0) return true;
    }
    return false;
}

struct Walk {
    const SnapshotLimits& limits;
    std::unordered_set<PyObject*> on_path;  // cycle detection
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
        std::string text(PyBytes_AS_STRING(escaped), std::min<size_t>(PyBytes_GET_SIZE(escaped), max_text));
        Py_DECREF(escaped);
        if (as_repr)
            out.setRepr(text);
        else
            out.setStr(text);
        return;
    }
    size_t n = std::min<size_t>(size, max_text);
    // Do not cut a UTF-8 sequence in half.
    while (n < static_cast<size_t>(size) && n > 0 && (static_cast<unsigned char>(utf8[n]) & 0xC0) == 0x80) --n;
    std::string copy(utf8, n);
    if (as_repr)
        out.setRepr(copy);
    else
        out.setStr(copy);
    if (n < static_cast<size_t>(size)) out.setTruncated(size - n);
}

// A short description of an object compared by identity, built without
// calling its repr (which could be user code).
std::string identity_repr(PyObject* value) {
    auto name_of = [](PyObject* o, const char* attr) {
        PyObject* n = PyObject_GetAttrString(o, attr);
        std::string s;
        if (n && PyUnicode_Check(n)) {
            const char* u = PyUnicode_AsUTF8(n);
            if (u) s = u;
        }
        Py_XDECREF(n);
        PyErr_Clear();
        return s;
    };
    if (PyModule_Check(value)) {
        const char* name = PyModule_GetName(value);
        if (!name) PyErr_Clear();
        return std::string("<module '") + (name ? name : "?") + "'>";
    }
    if (PyType_Check(value)) return "<class '" + type_name(reinterpret_cast<PyTypeObject*>(value)) + "'>";
    if (PyFunction_Check(value)) return "<function " + name_of(value, "__qualname__") + ">";
    if (PyCFunction_Check(value)) return "<built-in function " + name_of(value, "__name__") + ">";
    if (PyMethod_Check(value)) return "<bound method " + name_of(PyMethod_GET_FUNCTION(value), "__qualname__") + ">";
    return "";
}

bool is_identity_expected(PyObject* value, int depth) {
    // Compared by identity by design, not because spyrec cannot look inside.
    if (PyModule_Check(value) || PyType_Check(value) || PyCallable_Check(value)) return true;
    return depth > 0 && is_plain_object(value);
}

void set_ref(schema::Value::Builder out, PyObject* value) {
    auto ref = out.initRef();
    std::string type = type_name(Py_TYPE(value));
    ref.setTypeName(type);
    ref.setId(reinterpret_cast<uintptr_t>(value));
    ref.setRepr(identity_repr(value));
}

void walk(PyObject* value, schema::Value::Builder out, Walk& w, int depth);

void walk_dict_items(PyObject* dict, capnp::List<schema::Entry>::Builder entries, Walk& w, int depth) {
    Py_ssize_t pos = 0;
    PyObject* key;
    PyObject* val;
    size_t i = 0;
    while (i < entries.size() && PyDict_Next(dict, &pos, &key, &val)) {
        walk(key, entries[i].initKey(), w, depth + 1);
        if (w.limits.redacts(key))
            snapshot_redacted(val, entries[i].initValue(), w.limits, depth + 1);
        else
            walk(val, entries[i].initValue(), w, depth + 1);
        ++i;
    }
}

void walk_iterable(PyObject* value, schema::Value::Builder out, Walk& w, int depth) {
    // deque and array.array iterate in C with no user code.
    PyObject* list = PySequence_List(value);
    if (!list) {
        PyErr_Clear();
        out.setRepr("<" + type_name(Py_TYPE(value)) + ">");
        return;
    }
    auto items = out.initList(static_cast<unsigned>(PyList_GET_SIZE(list)));
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); ++i) walk(PyList_GET_ITEM(list, i), items[i], w, depth + 1);
    Py_DECREF(list);
    out.setTypeName(type_name(Py_TYPE(value)));
}

void walk_leaf(PyObject* value, schema::Value::Builder out, const Walk& w) {
    if (value == Py_None) {
        out.setNone();
        return;
    }
    if (PyBool_Check(value)) {
        out.setBoolean(value == Py_True);
        return;
    }
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
            if (digits)
                out.setBigInteger(digits);
            else
                out.setRepr("<int>");
            Py_XDECREF(text);
            PyErr_Clear();
        }
        if (!PyLong_CheckExact(value)) out.setTypeName(type_name(Py_TYPE(value)));
        return;
    }
    if (PyFloat_Check(value)) {
        out.setFloat(PyFloat_AS_DOUBLE(value));
        if (!PyFloat_CheckExact(value)) out.setTypeName(type_name(Py_TYPE(value)));
        return;
    }
    if (PyUnicode_Check(value)) {
        set_text(out, value, w.limits.max_text, false);
        if (!PyUnicode_CheckExact(value)) out.setTypeName(type_name(Py_TYPE(value)));
        return;
    }
    if (PyBytes_Check(value)) {
        size_t n = std::min<size_t>(PyBytes_GET_SIZE(value), w.limits.max_text);
        out.setBytes(kj::arrayPtr(reinterpret_cast<const kj::byte*>(PyBytes_AS_STRING(value)), n));
        if (n < static_cast<size_t>(PyBytes_GET_SIZE(value))) out.setTruncated(PyBytes_GET_SIZE(value) - n);
        if (!PyBytes_CheckExact(value)) out.setTypeName(type_name(Py_TYPE(value)));
        return;
    }
    if (is_value_repr_type(Py_TYPE(value))) {
        PyObject* r = PyObject_Repr(value);
        if (r) {
            set_text(out, r, w.limits.max_text, true);
            Py_DECREF(r);
            return;
        }
        PyErr_Clear();
    }
    set_ref(out, value);
}

void walk(PyObject* value, schema::Value::Builder out, Walk& w, int depth) {
    Shape shape = shape_of(value, depth, w.limits);
    if (shape == Shape::kLeaf) {
        walk_leaf(value, out, w);
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
    switch (shape) {
        case Shape::kList:
        case Shape::kTuple: {
            bool is_list = shape == Shape::kList;
            size_t n = static_cast<size_t>(Py_SIZE(value));
            auto list = is_list ? out.initList(n) : out.initTuple(n);
            // No user code runs here, so the item array stays valid while we walk it.
            PyObject* const* items = is_list ? reinterpret_cast<PyListObject*>(value)->ob_item
                                             : reinterpret_cast<PyTupleObject*>(value)->ob_item;
            for (size_t i = 0; i < n; ++i) walk(items[i], list[i], w, depth + 1);
            if (!PyList_CheckExact(value) && !PyTuple_CheckExact(value)) out.setTypeName(type_name(Py_TYPE(value)));
            break;
        }
        case Shape::kDict:
            walk_dict_items(value, out.initDict(static_cast<unsigned>(PyDict_GET_SIZE(value))), w, depth);
            if (!PyDict_CheckExact(value)) out.setTypeName(type_name(Py_TYPE(value)));
            break;
        case Shape::kSet: {
            size_t n = static_cast<size_t>(PySet_GET_SIZE(value));
            auto list = PyFrozenSet_Check(value) ? out.initFrozenset(n) : out.initSet(n);
            // Walk the hash table directly: no iterator object, no user code.
            auto* s = reinterpret_cast<PySetObject*>(value);
            size_t i = 0;
            for (Py_ssize_t slot = 0; slot <= s->mask && i < n; ++slot) {
                PyObject* key = s->table[slot].key;
                if (key == nullptr || s->table[slot].hash == -1) continue;  // empty or dummy
                walk(key, list[i++], w, depth + 1);
            }
            if (!PyAnySet_CheckExact(value)) out.setTypeName(type_name(Py_TYPE(value)));
            break;
        }
        case Shape::kEnviron: {
            PyObject* data = environ_data(value);
            if (!data) {
                out.setRepr("<os.environ>");
                break;
            }
            auto entries = out.initDict(static_cast<unsigned>(PyDict_GET_SIZE(data)));
            Py_ssize_t pos = 0;
            PyObject *key, *val;
            size_t i = 0;
            while (i < entries.size() && PyDict_Next(data, &pos, &key, &val)) {
                PyObject* k = environ_text(key);
                PyObject* v = environ_text(val);
                if (k)
                    set_text(entries[i].initKey(), k, w.limits.max_text, false);
                else
                    entries[i].initKey().setRepr("<?>");
                if (v && w.limits.redacts(key))
                    snapshot_redacted(v, entries[i].initValue(), w.limits, depth + 1);
                else if (v)
                    set_text(entries[i].initValue(), v, w.limits.max_text, false);
                else
                    entries[i].initValue().setRepr("<?>");
                Py_XDECREF(k);
                Py_XDECREF(v);
                ++i;
            }
            out.setTypeName("os._Environ");
            Py_DECREF(data);
            break;
        }
        case Shape::kObject: {
            PyObject* dict = plain_object_dict(value);
            auto inst = out.initObject();
            inst.setTypeName(type_name(Py_TYPE(value)));
            if (dict) {
                walk_dict_items(dict, inst.initAttributes(static_cast<unsigned>(PyDict_GET_SIZE(dict))), w, depth);
                Py_DECREF(dict);
            }
            break;
        }
        case Shape::kBytearray:
            out.setBytes(kj::arrayPtr(reinterpret_cast<const kj::byte*>(PyByteArray_AS_STRING(value)),
                                      static_cast<size_t>(PyByteArray_GET_SIZE(value))));
            out.setTypeName(type_name(Py_TYPE(value)));
            break;
        case Shape::kSequence: walk_iterable(value, out, w, depth); break;
        case Shape::kLeaf: break;
    }
    w.on_path.erase(value);
}

}  // namespace

void note_if_opaque(PyObject* value, int depth, OpaqueNotes& notes) {
    if (value == Py_None || PyLong_Check(value) || PyUnicode_Check(value) || PyFloat_Check(value) ||
        PyBytes_Check(value) || is_value_repr_type(Py_TYPE(value)) || is_identity_expected(value, depth)) {
        return;
    }
    // A builtin container the value tree did not descend into is a cycle
    // (compared through the ancestor it points back to) or too deep (noted
    // as such by the tree): nothing hidden to note here.
    if (PyList_Check(value) || PyTuple_Check(value) || PyDict_Check(value) || PyAnySet_Check(value)) return;
    notes.emplace(type_name(Py_TYPE(value)), "rebinding only (its insides are not visible)");
}

Shape shape_of(PyObject* value, int depth, const SnapshotLimits& limits) {
    if (PyList_Check(value)) return Shape::kList;
    if (PyTuple_Check(value)) return Shape::kTuple;
    if (PyDict_Check(value)) return Shape::kDict;
    if (PyAnySet_Check(value)) return Shape::kSet;
    if (PyByteArray_Check(value)) return Shape::kBytearray;
    // The usual leaves, before the checks below that compare type names.
    if (value == Py_None || PyLong_CheckExact(value) || PyUnicode_CheckExact(value) || PyFloat_CheckExact(value) ||
        PyBool_Check(value) || PyBytes_CheckExact(value))
        return Shape::kLeaf;
    if (is_os_environ(value)) return Shape::kEnviron;
    if (is_deque(value) || is_array(value)) return Shape::kSequence;
    if ((depth == 0 || depth <= limits.follow_depth) && is_plain_object(value)) return Shape::kObject;
    return Shape::kLeaf;
}

bool has_identity(PyObject* value) {
    // Value-repr types (datetime, Decimal, complex, ...) are immutable values
    // too: rebinding to an equal one is no change.
    return value != Py_None && !PyLong_Check(value) && !PyFloat_Check(value) && !PyUnicode_Check(value) &&
           !PyBytes_Check(value) && !PyTuple_Check(value) && !PyFrozenSet_Check(value) &&
           !is_value_repr_type(Py_TYPE(value));
}

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

std::string type_name(PyTypeObject* type) {
    std::string qual = type->tp_name ? type->tp_name : "?";
    if (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE)) return qual;  // tp_name is already "module.Name"
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
    if (!m) {
        PyErr_Clear();
        return false;
    }
    return std::string_view(m) == "os";
}

PyObject* environ_data(PyObject* environ) {
    PyObject* data = PyObject_GetAttrString(environ, "_data");
    if (!data || !PyDict_Check(data)) {
        PyErr_Clear();
        Py_XDECREF(data);
        return nullptr;
    }
    return data;
}

PyObject* environ_text(PyObject* raw) {
    if (PyUnicode_Check(raw)) return Py_NewRef(raw);
    if (!PyBytes_Check(raw)) return nullptr;
    PyObject* text = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw));
    if (!text) PyErr_Clear();
    return text;
}

void snapshot_value(PyObject* value, schema::Value::Builder out, const SnapshotLimits& limits, int depth) {
    PyObject *type, *val, *tb;
    PyErr_Fetch(&type, &val, &tb);  // never disturb an exception in flight
    Walk w{limits, {}};
    walk(value, out, w, depth);
    PyErr_Clear();
    PyErr_Restore(type, val, tb);
}

void snapshot_redacted(PyObject* value, schema::Value::Builder out, const SnapshotLimits& limits, int depth) {
    SnapshotLimits whole = limits;
    whole.redactor = nullptr;  // the fingerprint covers the secret's every byte
    auto words = snapshot_canonical(value, whole, depth);
    out.setRedacted(limits.redactor ? limits.redactor->fingerprint(words.begin(), words.size() * sizeof(capnp::word))
                                    : 0);
}

kj::Array<capnp::word> snapshot_canonical(PyObject* value, const SnapshotLimits& limits, int depth) {
    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<schema::Value>();
    snapshot_value(value, root, limits, depth);
    return capnp::canonicalize(root.asReader());
}

bool leaf_equal(PyObject* a, PyObject* b, const SnapshotLimits& limits, int depth) {
    if (a == b) return true;
    if (Py_TYPE(a) != Py_TYPE(b)) return false;
    // Exact builtins compare without user code, whatever their length (a
    // change past the stored cut of a long str is still a change).
    if (PyUnicode_CheckExact(a)) return PyUnicode_Compare(a, b) == 0;
    if (PyBytes_CheckExact(a)) {
        return PyBytes_GET_SIZE(a) == PyBytes_GET_SIZE(b) &&
               std::memcmp(PyBytes_AS_STRING(a), PyBytes_AS_STRING(b), PyBytes_GET_SIZE(a)) == 0;
    }
    if (PyLong_CheckExact(a)) {
        int eq = PyObject_RichCompareBool(a, b, Py_EQ);
        if (eq < 0) PyErr_Clear();
        return eq == 1;
    }
    if (PyFloat_CheckExact(a)) {
        double x = PyFloat_AS_DOUBLE(a), y = PyFloat_AS_DOUBLE(b);
        return std::memcmp(&x, &y, sizeof x) == 0;
    }
    auto x = snapshot_canonical(a, limits, depth);
    auto y = snapshot_canonical(b, limits, depth);
    return x.size() == y.size() && std::memcmp(x.begin(), y.begin(), x.size() * sizeof(capnp::word)) == 0;
}

}  // namespace spyrec::recorder
