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
// - sum/any/all and the constructors of list, tuple, set, frozenset, bytes
//   and bytearray, when their first argument only reads as it is iterated
//   (a builtin container, a range, a generator); next() of a generator.
// - Methods of deque, bytearray and random.Random that change only their
//   own object's C state and iterate nothing.
// - Everything else (unknown C functions, C types, `sorted` (its key= is
//   not visible here), `list(map(...))`) is not clean: the next event compares.
//
// WatchedContainers is a filter over the addresses of every container the
// watches hold: "maybe watched" can be wrong only towards checking.
#pragma once
#include <Python.h>

#include <array>
#include <cstdint>

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
    static constexpr size_t kWords = 1024;  // 65536 bits
    std::array<uint64_t, kWords> bits_{};
};

// What a call can change by itself.
struct CallEffect {
    enum Kind : uint8_t { kNothing, kOnlySelf, kUnknown };
    Kind kind;
    PyObject* self = nullptr;  // kOnlySelf: the one (maybe watched) container it can change
};

// A fixed set of addresses with a lookup of one or two probes: the CALL
// event asks it once per call, so no linear scan and no allocation.
class PointerSet {
public:
    void insert(const void* p) {
        size_t i = slot(p);
        while (slots_[i] && slots_[i] != p) i = (i + 1) % kSlots;
        slots_[i] = p;
    }
    bool contains(const void* p) const {
        for (size_t i = slot(p);; i = (i + 1) % kSlots) {
            if (slots_[i] == p) return true;
            if (!slots_[i]) return false;
        }
    }

private:
    static constexpr size_t kSlots = 512;  // the allow-lists hold about 100 entries
    static size_t slot(const void* p) { return (reinterpret_cast<uintptr_t>(p) >> 4) % kSlots; }
    std::array<const void*, kSlots> slots_{};
};

class CleanCalls {
public:
    // Cold: collects the method tables and builtins of the allow-lists.
    bool init();

    // Hot. `arg0` may be sys.monitoring.MISSING.
    CallEffect effect(PyObject* callable, PyObject* arg0, const WatchedContainers& watched) const {
        PyTypeObject* type = Py_TYPE(callable);
        if (type == &PyFunction_Type) return {CallEffect::kNothing};
        if (type == &PyMethod_Type) {
            return {PyFunction_Check(PyMethod_GET_FUNCTION(callable)) ? CallEffect::kNothing : CallEffect::kUnknown};
        }
        if (type == &PyMethodDescr_Type) {
            auto* descr = reinterpret_cast<PyMethodDescrObject*>(callable);
            return method_effect(descr->d_method, arg0, watched);
        }
        if (PyCFunction_Check(callable)) {
            auto* f = reinterpret_cast<PyCFunctionObject*>(callable);
            if (f->m_self && PyModule_Check(f->m_self)) {
                if (clean_builtin(callable)) return {CallEffect::kNothing};
                if (consumers_.contains(callable) && reading_iterable(arg0)) return {CallEffect::kNothing};
                // next() of a generator resumes its Python frame, whose events check.
                if (callable == next_ && reading_iterator(arg0)) return {CallEffect::kNothing};
                return {CallEffect::kUnknown};
            }
            if (!f->m_self) return {CallEffect::kUnknown};
            return method_effect(f->m_ml, f->m_self, watched);
        }
        // A class, called through type.__call__ (its metaclass, such as
        // ABCMeta, does not define __call__).
        if (type == &PyType_Type || type->tp_call == PyType_Type.tp_call) {
            if (consumers_.contains(callable) && (arg0 == missing_ || reading_iterable(arg0))) {
                return {CallEffect::kNothing};
            }
            return {clean_class(reinterpret_cast<PyTypeObject*>(callable)) ? CallEffect::kNothing
                                                                           : CallEffect::kUnknown};
        }
        return {CallEffect::kUnknown};
    }

    // Hot: a step of this iterator only reads (the builtin containers', str's,
    // range's), or resumes a Python frame, whose events check (generators,
    // coroutines).
    bool reading_iterator(PyObject* it) const {
        return PyGen_CheckExact(it) || PyCoro_CheckExact(it) || plain_iterator(it);
    }
    // A builtin container's, string's or range's iterator (not a generator).
    bool plain_iterator(PyObject* it) const { return iterator_types_.contains(Py_TYPE(it)); }
    // Hot: iterating this runs no C code that could change a watched value.
    bool reading_iterable(PyObject* o) const {
        return PyTuple_CheckExact(o) || PyList_CheckExact(o) || PyUnicode_CheckExact(o) || PyBytes_CheckExact(o) ||
               PyRange_Check(o) || PyDict_CheckExact(o) || PySet_CheckExact(o) || PyFrozenSet_CheckExact(o) ||
               PyLong_CheckExact(o) || reading_iterator(o);
    }
    void set_missing(PyObject* missing) { missing_ = missing; }
    // Hot: an allow-listed builtin function, clean whatever its arguments.
    bool always_clean(PyObject* callable) const { return PyCFunction_Check(callable) && clean_builtin(callable); }

private:
    // An allow-listed method changes at most its own object.
    CallEffect method_effect(const PyMethodDef* def, PyObject* self, const WatchedContainers& watched) const {
        if (!clean_method(def)) return {CallEffect::kUnknown};
        if (!watched.may_contain(self)) return {CallEffect::kNothing};
        return {CallEffect::kOnlySelf, self};
    }
    bool clean_method(const PyMethodDef* def) const { return methods_.contains(def); }
    bool clean_builtin(PyObject* f) const { return builtins_.contains(f); }
    bool clean_class(PyTypeObject* cls) const;

    PointerSet methods_;        // PyMethodDef of allow-listed methods
    PointerSet builtins_;       // allow-listed builtin functions (they live as long as the interpreter)
    PointerSet types_;          // builtin types whose construction iterates nothing
    PyObject* next_ = nullptr;  // builtins.next, borrowed (lives as long as the interpreter)
    // Builtins and types that consume their first argument and do nothing
    // else a watch can see (sum, any, all; list, tuple, set, bytes... built
    // from it): clean when iterating that argument is (reading_iterable).
    PointerSet consumers_;
    PointerSet iterator_types_;
    PyObject* missing_ = nullptr;                // sys.monitoring.MISSING: a call with no arguments
    destructor python_class_dealloc_ = nullptr;  // tp_dealloc of every class made by a class statement
};

}  // namespace spyrec::recorder
