#include "clean_calls.h"

#include <initializer_list>

namespace spyrec::recorder {
namespace {

struct TypeMethods {
    PyTypeObject* type;
    std::initializer_list<const char*> names;
};

// A type of an extension module (new reference), or nullptr.
PyTypeObject* module_type(const char* module, const char* name) {
    PyObject* mod = PyImport_ImportModule(module);
    PyObject* type = mod ? PyObject_GetAttrString(mod, name) : nullptr;
    Py_XDECREF(mod);
    if (type && !PyType_Check(type)) Py_CLEAR(type);
    PyErr_Clear();
    return reinterpret_cast<PyTypeObject*>(type);
}

}  // namespace

bool CleanCalls::init() {
    // Methods that read, or change only their own object, and never iterate
    // an argument. Comparing items (index, count, remove) has the status of
    // COMPARE_OP: Python __eq__ raises events.
    // From _collections, the C module collections re-exports it from: the
    // Python module would cost every recorded program ~1.5 ms of imports.
    PyTypeObject* deque = module_type("_collections", "deque");
    PyTypeObject* random = module_type("_random", "Random");
    const TypeMethods tables[] = {
        {&PyList_Type,
         {"append", "insert", "pop", "remove", "index", "count", "clear", "copy", "reverse", "__getitem__", "__len__",
          "__contains__"}},
        {&PyDict_Type,
         {"get", "setdefault", "pop", "popitem", "keys", "values", "items", "copy", "clear", "__getitem__",
          "__contains__"}},
        {&PySet_Type, {"add", "discard", "remove", "pop", "copy", "clear", "__contains__"}},
        {&PyUnicode_Type,
         {"startswith", "endswith",     "split",  "rsplit",       "strip",        "lstrip",     "rstrip",
          "replace",    "lower",        "upper",  "find",         "rfind",        "index",      "rindex",
          "partition",  "rpartition",   "encode", "splitlines",   "isdigit",      "isalpha",    "isalnum",
          "isspace",    "isidentifier", "count",  "casefold",     "title",        "capitalize", "zfill",
          "ljust",      "rjust",        "center", "removeprefix", "removesuffix", "expandtabs", "format"}},
        {&PyBytes_Type,
         {"decode", "startswith", "endswith", "split", "strip", "find", "replace", "hex", "index", "rfind", "rindex",
          "count"}},
        {&PyByteArray_Type,
         {"decode", "startswith", "endswith", "find", "rfind", "index", "rindex", "count", "hex", "append", "insert",
          "pop", "remove", "clear", "reverse", "copy"}},
        {deque,
         {"append", "appendleft", "pop", "popleft", "clear", "rotate", "index", "count", "remove", "reverse", "copy",
          "insert"}},
        // Change only the generator's C state, which no watch can see.
        {random, {"getrandbits", "random"}},
        {&PyLong_Type, {"to_bytes", "bit_length"}},
        {&PyTuple_Type, {"index", "count"}},
        // Resumes the generator's Python frame, whose events check.
        {&PyGen_Type, {"send"}},
    };
    for (const auto& table : tables) {
        if (!table.type) continue;
        for (const char* name : table.names) {
            // Static builtin types keep their dict per interpreter (3.12+): not tp_dict.
            PyObject* dict = PyType_GetDict(table.type);
            PyObject* descr = dict ? PyDict_GetItemString(dict, name) : nullptr;  // borrowed
            if (descr && Py_IS_TYPE(descr, &PyMethodDescr_Type)) {
                methods_.insert(reinterpret_cast<PyMethodDescrObject*>(descr)->d_method);
            }
            Py_XDECREF(dict);
        }
    }
    Py_XDECREF(deque);  // the method tables are static C data of their modules
    Py_XDECREF(random);
    PyObject* builtins = PyEval_GetBuiltins();  // borrowed
    for (const char* name : {"len", "isinstance", "issubclass", "id", "hash", "abs", "callable", "chr", "ord", "repr",
                             "print", "getattr", "hasattr", "iter", "format", "divmod"}) {
        PyObject* f = builtins ? PyDict_GetItemString(builtins, name) : nullptr;
        if (f && PyCFunction_Check(f)) builtins_.insert(f);
    }
    next_ = builtins ? PyDict_GetItemString(builtins, "next") : nullptr;
    for (const char* name : {"sum", "any", "all"}) {
        PyObject* f = builtins ? PyDict_GetItemString(builtins, name) : nullptr;
        if (f && PyCFunction_Check(f)) consumers_.insert(f);
    }
    for (PyTypeObject* t :
         {&PyList_Type, &PyTuple_Type, &PySet_Type, &PyFrozenSet_Type, &PyBytes_Type, &PyByteArray_Type}) {
        consumers_.insert(t);
    }
    // The iterators of the builtin containers, strings and range: a step reads.
    // Taken from objects made here, not from the exported iterator types: str
    // has private ones (ASCII, 3.12+). Not by evaluating `iter([])` and the
    // like: compiling 13 expressions was a third of this session's set-up.
    auto iterator_of = [this](PyObject* container, bool reversed) {
        PyObject* it = nullptr;
        if (container) {
            it = reversed ? PyObject_CallOneArg(reinterpret_cast<PyObject*>(&PyReversed_Type), container)
                          : PyObject_GetIter(container);
        }
        if (it) iterator_types_.insert(Py_TYPE(it));  // static builtin types: the pointer stays valid
        Py_XDECREF(it);
        Py_XDECREF(container);
        PyErr_Clear();
    };
    auto dict_view = [](const char* method) {
        PyObject* dict = PyDict_New();
        PyObject* view = dict ? PyObject_CallMethod(dict, method, nullptr) : nullptr;
        Py_XDECREF(dict);
        return view;
    };
    PyObject* huge = PyLong_FromString("1180591620717411303424", nullptr, 10);  // 1 << 70: the long range iterator
    iterator_of(PyList_New(0), false);
    iterator_of(PyTuple_New(0), false);
    iterator_of(PyObject_CallFunction(reinterpret_cast<PyObject*>(&PyRange_Type), "i", 1), false);
    iterator_of(huge ? PyObject_CallOneArg(reinterpret_cast<PyObject*>(&PyRange_Type), huge) : nullptr, false);
    Py_XDECREF(huge);
    iterator_of(PyDict_New(), false);
    iterator_of(dict_view("values"), false);
    iterator_of(dict_view("items"), false);
    iterator_of(PyList_New(0), true);
    iterator_of(PySet_New(nullptr), false);
    iterator_of(PyUnicode_FromString(""), false);
    iterator_of(PyUnicode_FromString("\xe2\x82\xac"), false);  // a non-ASCII str: '\u20ac'
    iterator_of(PyBytes_FromString(""), false);
    iterator_of(PyDict_New(), true);
    // Constructing these iterates nothing: map/zip/filter/enumerate only take
    // iterators, which run later, at a FOR_ITER or call that is checked.
    for (PyTypeObject* t :
         {&PyLong_Type, &PyFloat_Type, &PyUnicode_Type, &PyBool_Type, &PyComplex_Type, &PyBaseObject_Type,
          &PyRange_Type, &PyMap_Type, &PyZip_Type, &PyFilter_Type, &PyEnum_Type, &PySlice_Type, &PySuper_Type,
          &PyProperty_Type, &PyStaticMethod_Type, &PyClassMethod_Type}) {
        types_.insert(t);
    }
    // Every class a class statement makes shares one tp_dealloc (CPython's
    // subtype_dealloc, not exported): learn it from a class of our own.
    PyObject* probe = PyObject_CallFunction(reinterpret_cast<PyObject*>(&PyType_Type), "s(O){}", "SpyrecProbe",
                                            reinterpret_cast<PyObject*>(&PyBaseObject_Type));
    if (!probe) {
        PyErr_Clear();
        return false;
    }
    python_class_dealloc_ = reinterpret_cast<PyTypeObject*>(probe)->tp_dealloc;
    Py_DECREF(probe);
    return true;
}

bool CleanCalls::clean_class(PyTypeObject* cls) const {
    if (types_.contains(cls)) return true;
    // A class written in Python deriving only from other such classes, object
    // or builtin exceptions: its __new__/__init__ are Python (events) or
    // object's/BaseException's, which store their arguments and iterate nothing.
    PyObject* mro = cls->tp_mro;
    if (!mro || !PyTuple_Check(mro)) return false;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); ++i) {
        auto* base = reinterpret_cast<PyTypeObject*>(PyTuple_GET_ITEM(mro, i));
        if (base == &PyBaseObject_Type) continue;
        if (base->tp_dealloc == python_class_dealloc_ && python_class_dealloc_) continue;
        if (!(base->tp_flags & Py_TPFLAGS_HEAPTYPE) &&
            PyType_IsSubtype(base, reinterpret_cast<PyTypeObject*>(PyExc_BaseException)))
            continue;
        return false;
    }
    return true;
}

}  // namespace spyrec::recorder
