// An owned (strong) reference to a Python object, for what the recorder
// keeps (a dict change's culprit code object, the session's constants and
// modules; the hot path only reads them through get()): released
// when it goes, moved and never copied, so no error path leaks or
// double-releases it. Destroy it with the GIL held, like any Python object.
#pragma once
#include <Python.h>

#include <utility>

namespace spyrec::recorder {

class PyRef {
public:
    PyRef() = default;
    // Takes over a new reference (what most C API calls return).
    static PyRef steal(PyObject* object) {
        PyRef ref;
        ref.object_ = object;
        return ref;
    }
    // Adds a reference of its own to a borrowed one.
    static PyRef borrow(PyObject* object) { return steal(Py_XNewRef(object)); }

    PyRef(PyRef&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
    PyRef& operator=(PyRef&& other) noexcept {
        if (this != &other) {
            Py_XDECREF(object_);
            object_ = std::exchange(other.object_, nullptr);
        }
        return *this;
    }
    PyRef(const PyRef&) = delete;
    PyRef& operator=(const PyRef&) = delete;
    ~PyRef() { Py_XDECREF(object_); }

    PyObject* get() const { return object_; }
    // Hands the reference over (to a call that steals it).
    PyObject* release() { return std::exchange(object_, nullptr); }
    explicit operator bool() const { return object_ != nullptr; }

private:
    PyObject* object_ = nullptr;
};

}  // namespace spyrec::recorder
