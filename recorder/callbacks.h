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
// The same events, for SPYREC_BENCH_FLOOR=1: DISABLE decided as above, no
// other work (callbacks.cpp). Registered instead, so the real callbacks
// carry no test for it.
const std::vector<MonitoringCallback>& floor_callbacks();

}  // namespace spyrec::recorder
