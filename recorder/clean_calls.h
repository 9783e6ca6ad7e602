// Which calls cannot change a watched value by themselves, decided from the
// callable and its first argument (what sys.monitoring's CALL event hands
// over). After such a call, the next event needs no comparison: whatever
// changes while it runs is made by Python code it calls, whose own events
// check.
//
// Why it is safe to skip the check, and what is not clean:
// - A Python function or a bound method of one: its frame raises PY_START;
//   binding the arguments mutates nothing.
// - A method of list, dict, set, str, bytes, int or tuple on an object that
//   is not one of the watched containers, from a fixed list that never
//   iterates an argument: iterating can run C code that mutates a watched
//   value with no Python frame in between (`other.extend(map(WATCHED.append,
//   xs))`), so `extend`, `update`, `join`, `sort(key=)` are not clean.
// - Builtins that only read or build (len, isinstance, print...), and types
//   whose construction iterates nothing (int, str, range, map, zip...;
//   classes written in Python that derive only from object or exceptions).
// - Everything else (unknown C functions, C types, `next`, `sorted`,
//   `list(...)`) is not clean: the next event compares.
//
// WatchedContainers is a filter over the addresses of every container the
// watches hold: "maybe watched" can be wrong only towards checking.
#pragma once
#include <Python.h>

#include <array>
#include <cstdint>
#include <vector>

namespace spyrec::recorder {

class WatchedContainers {
public:
    void add(PyObject* obj) {
        size_t bit = slot(obj);
        bits_[bit / 64] |= uint64_t{1} << (bit % 64);
    }
    bool may_contain(PyObject* obj) const {
        size_t bit = slot(obj);
        return (bits_[bit / 64] >> (bit % 64)) & 1;
    }

private:
    static size_t slot(PyObject* obj) {
        auto p = reinterpret_cast<uintptr_t>(obj);
        return ((p >> 4) ^ (p >> 20)) % (kWords * 64);
    }
    static constexpr size_t kWords = 1024;   // 65536 bits
    std::array<uint64_t, kWords> bits_{};
};

class CleanCalls {
public:
    // Cold: collects the method tables and builtins of the allow-lists.
    bool init();

    // Hot: true unless the call is known clean. `arg0` may be sys.monitoring.MISSING.
    bool may_mutate(PyObject* callable, PyObject* arg0, const WatchedContainers& watched) const {
        PyTypeObject* type = Py_TYPE(callable);
        if (type == &PyFunction_Type) return false;
        if (type == &PyMethod_Type) return !PyFunction_Check(PyMethod_GET_FUNCTION(callable));
        if (type == &PyMethodDescr_Type) {
            auto* descr = reinterpret_cast<PyMethodDescrObject*>(callable);
            return !clean_method(descr->d_method) || watched.may_contain(arg0);
        }
        if (PyCFunction_Check(callable)) {
            auto* f = reinterpret_cast<PyCFunctionObject*>(callable);
            if (f->m_self && PyModule_Check(f->m_self)) return !clean_builtin(callable);
            return !clean_method(f->m_ml) || !f->m_self || watched.may_contain(f->m_self);
        }
        if (type == &PyType_Type) return !clean_class(reinterpret_cast<PyTypeObject*>(callable));
        return true;
    }

private:
    bool clean_method(const PyMethodDef* def) const {
        for (const PyMethodDef* d : methods_) {
            if (d == def) return true;
        }
        return false;
    }
    bool clean_builtin(PyObject* f) const {
        for (PyObject* b : builtins_) {
            if (b == f) return true;
        }
        return false;
    }
    bool clean_class(PyTypeObject* cls) const;

    std::vector<const PyMethodDef*> methods_;
    std::vector<PyObject*> builtins_;        // borrowed: builtins live as long as the interpreter
    std::vector<PyTypeObject*> types_;       // builtin types whose construction iterates nothing
    destructor python_class_dealloc_ = nullptr;   // tp_dealloc of every class made by a class statement
};

}  // namespace spyrec::recorder
