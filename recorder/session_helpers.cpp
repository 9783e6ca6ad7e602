#include "session_helpers.h"

#include <capnp/serialize.h>

#include <chrono>
#include <ctime>

namespace spyrec::recorder {

std::string utf8_of(PyObject* str) {
    if (!str || !PyUnicode_Check(str)) return "";
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(str, &n);
    if (!s) {
        PyErr_Clear();
        return "";
    }
    return std::string(s, n);
}

// A snapshot kept in canonical form (one segment, no segment table) read
// back as a Value. The recorder made these words itself; they are trusted.
schema::Value::Reader canonical_value(const kj::Array<capnp::word>& words) {
    return capnp::readMessageUnchecked<schema::Value>(words.begin());
}

double now_seconds() {
    using namespace std::chrono;
    return duration_cast<duration<double>>(system_clock::now().time_since_epoch()).count();
}

uint64_t monotonic_ns() {
    // CLOCK_MONOTONIC is one clock for every process on the machine, so the
    // changes of a parent and its children can be put in one order.
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace spyrec::recorder
