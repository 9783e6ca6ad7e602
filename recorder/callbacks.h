// The sys.monitoring callbacks: plain CPython C API functions (METH_FASTCALL).
#pragma once
#include <Python.h>

#include <vector>

namespace spyrec::recorder {

struct MonitoringCallback {
    const char* event_name;  // attribute of sys.monitoring.events
    PyObject* function;      // a builtin function object, created once
};

// The callbacks to register, one per event. Created on first use; they live
// for the process.
const std::vector<MonitoringCallback>& monitoring_callbacks();

}  // namespace spyrec::recorder
