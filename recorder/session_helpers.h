// Small helpers the session's cold half shares: reading text out of CPython
// objects, canonical values, saving an exception in flight. Cold path only.
// (Keys and message bytes come from schema/: keys.h, message_bytes.h.)
#pragma once
#include <Python.h>

#include <capnp/message.h>

#include <array>
#include <cstdint>
#include <string>

#include "keys.h"
#include "message_bytes.h"
#include "spyrec.capnp.h"

namespace spyrec::recorder {

using schema::key_bytes;
using schema::message_bytes;
using schema::message_bytes_into;

// The UTF-8 text of a str ("" for anything else), never raising.
std::string utf8_of(PyObject* str);

// A snapshot kept in canonical form (one segment, no segment table) read
// back as a Value. The recorder made these words itself; they are trusted.
schema::Value::Reader canonical_value(const kj::Array<capnp::word>& words);

double now_seconds();
// Nanoseconds on CLOCK_MONOTONIC (shared by every process on the machine).
uint64_t monotonic_ns();

// Runs a cold-path Python call without disturbing an exception in flight in
// the monitored program.
struct SavedError {
    PyObject *type, *value, *tb;
    SavedError() { PyErr_Fetch(&type, &value, &tb); }
    ~SavedError() {
        PyErr_Clear();
        PyErr_Restore(type, value, tb);
    }
};

}  // namespace spyrec::recorder
