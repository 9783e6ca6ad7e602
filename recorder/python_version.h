// Every difference between the Pythons spyrec supports (3.12, 3.13) lives
// here, so the rest of the recorder reads as if there were one Python.
//
// - Opcode numbers differ between versions, so opcode classes are derived
//   from dis.opname at start, by name.
// - The dict version tag (ma_version_tag) is deprecated since 3.12 but still
//   bumped on every mutation in 3.12 and 3.13 (it is gone in 3.14); it is how
//   a dict is checked for change in one load. Except one case: on 3.13 a
//   store through an object's inline values (STORE_ATTR on a plain instance)
//   notifies dict watchers but does not bump the version of the object's
//   materialized __dict__. Instance dicts are therefore compared item by item
//   (watch.cpp), on both versions, so there is one code path.
#pragma once
#include <Python.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#if PY_VERSION_HEX < 0x030C0000 || PY_VERSION_HEX >= 0x030E0000
#error "spyrec supports CPython 3.12 and 3.13"
#endif

namespace spyrec::recorder {

// What an instruction can do to a watched value, decided once per code
// location (sys.monitoring's DISABLE is per location, for good).
enum class OpcodeClass : uint8_t {
    // Pure stack, local-variable, constant and jump traffic, and reads that
    // call only C code without side effects. Anything Python code they call
    // (a __bool__, a property) raises its own events. Safe to DISABLE.
    kPure = 0,
    // Can change a watched value directly or through C code it calls: calls,
    // stores, deletes, in-place binary ops, imports, iteration.
    kMayMutate = 1,
};

struct OpcodeTable {
    std::array<OpcodeClass, 256> by_opcode{};
    uint8_t binary_op = 0;               // BINARY_OP's number (its oparg says in-place or not)
    std::array<bool, 256> inplace_binary_oparg{};
    std::vector<std::string> names;      // dis.opname, index = opcode

    OpcodeClass classify(uint8_t opcode, uint8_t oparg) const {
        if (opcode == binary_op) {
            return inplace_binary_oparg[oparg] ? OpcodeClass::kMayMutate : OpcodeClass::kPure;
        }
        return by_opcode[opcode];
    }
};

// Builds the table from the running Python's `dis` module. Cold; raises a
// Python exception and returns false on failure.
bool load_opcode_table(OpcodeTable& table);

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
inline uint64_t dict_version(PyObject* dict) {
    return reinterpret_cast<PyDictObject*>(dict)->ma_version_tag;
}
#pragma GCC diagnostic pop

// A cheap fingerprint of a set's contents: the sum of the entry pointers of
// its hash table (a removal leaves a dummy entry, which changes the sum).
inline uintptr_t set_fingerprint(PyObject* set) {
    auto* s = reinterpret_cast<PySetObject*>(set);
    uintptr_t sum = static_cast<uintptr_t>(s->used) * 0x9E3779B97F4A7C15ull;
    for (Py_ssize_t i = 0; i <= s->mask; ++i) {
        sum += reinterpret_cast<uintptr_t>(s->table[i].key) * 31 + static_cast<uintptr_t>(i);
    }
    return sum;
}

}  // namespace spyrec::recorder
