// Taking a sys.monitoring tool id and registering spyrec's callbacks
// (callbacks.cpp) for their events, and giving both back.
#include "session.h"

#include <stdexcept>
#include <string_view>

#include "callbacks.h"
#include "session_helpers.h"

namespace spyrec::recorder {

void Session::register_callbacks() {
    PyObject* monitoring = PySys_GetObject("monitoring");  // borrowed
    if (!monitoring) throw std::runtime_error("this Python has no sys.monitoring (spyrec needs 3.12 or newer)");
    // Tool ids 0 and 1 are the debugger's and coverage's by convention.
    for (int id = 2; id <= 5 && tool_id_ < 0; ++id) {
        PyObject* holder = PyObject_CallMethod(monitoring, "get_tool", "i", id);
        if (holder == Py_None) {
            PyObject* ok = PyObject_CallMethod(monitoring, "use_tool_id", "is", id, "spyrec");
            if (ok) tool_id_ = id;
            Py_XDECREF(ok);
        }
        Py_XDECREF(holder);
        PyErr_Clear();
    }
    if (tool_id_ < 0) {
        throw std::runtime_error("no free sys.monitoring tool id (2-5 are all taken by other tools)");
    }
    disable_ = PyRef::steal(PyObject_GetAttrString(monitoring, "DISABLE"));
    missing_ = PyRef::steal(PyObject_GetAttrString(monitoring, "MISSING"));
    if (missing_) clean_calls_.set_missing(missing_.get());
    PyErr_Clear();
    PyObject* events = PyObject_GetAttrString(monitoring, "events");
    if (!disable_ || !events) {
        Py_XDECREF(events);
        throw std::runtime_error("sys.monitoring is missing DISABLE or events");
    }
    open_guards();  // before any event: it compiles a lambda
    long mask = 0;
    for (const auto& cb : floor_ ? floor_callbacks() : monitoring_callbacks()) {
        if (std::string_view(cb.event_name) == "LINE" && options_.trail <= 0) continue;
        PyObject* bit = PyObject_GetAttrString(events, cb.event_name);
        long value = bit ? PyLong_AsLong(bit) : 0;
        Py_XDECREF(bit);
        PyObject* r = PyObject_CallMethod(monitoring, "register_callback", "ilO", tool_id_, value, cb.function);
        if (!r) {
            Py_DECREF(events);
            throw std::runtime_error(std::string("cannot register the ") + cb.event_name + " callback");
        }
        Py_DECREF(r);
        mask |= value;
    }
    Py_DECREF(events);
    PyObject* r = PyObject_CallMethod(monitoring, "set_events", "il", tool_id_, mask);
    if (!r) throw std::runtime_error("cannot enable sys.monitoring events");
    Py_DECREF(r);
    // Locations an earlier recording in this process disabled stay disabled
    // for code that has not run since: its guards are gone, and live mode
    // needs every event. Give them back.
    r = PyObject_CallMethod(monitoring, "restart_events", nullptr);
    Py_XDECREF(r);
    PyErr_Clear();
}

void Session::unregister_callbacks() {
    SavedError saved;
    PyObject* monitoring = PySys_GetObject("monitoring");
    if (!monitoring || tool_id_ < 0) return;
    PyObject* r = PyObject_CallMethod(monitoring, "set_events", "ii", tool_id_, 0);
    Py_XDECREF(r);
    PyObject* events = PyObject_GetAttrString(monitoring, "events");
    for (const auto& cb : floor_ ? floor_callbacks() : monitoring_callbacks()) {
        PyObject* bit = events ? PyObject_GetAttrString(events, cb.event_name) : nullptr;
        if (bit) {
            r = PyObject_CallMethod(monitoring, "register_callback", "iOO", tool_id_, bit, Py_None);
            Py_XDECREF(r);
        }
        Py_XDECREF(bit);
    }
    Py_XDECREF(events);
    guards_.close();
    r = PyObject_CallMethod(monitoring, "free_tool_id", "i", tool_id_);
    Py_XDECREF(r);
    tool_id_ = -1;
}

}  // namespace spyrec::recorder
