// CALL events that are disabled for good under a guard (issue 10, "fewer
// kept events where it is provably safe").
//
// Why a CALL can go without its event: when the callee is a Python function,
// binding the arguments changes nothing and the callee's PY_START checks the
// watches before its first instruction (and takes the caller's instruction,
// this CALL, from CPython's frame: Session::note_guarded_caller). An
// allow-listed builtin (len, isinstance: clean_calls.h) changes nothing by
// itself. Either way the CALL's own event only re-states what the next event
// finds.
//
// Why it needs a guard: sys.monitoring's DISABLE is per code location and
// lasts until sys.monitoring.restart_events(), but the callee is a runtime
// fact. So only a CALL whose callable was loaded by a LOAD_GLOBAL of the same
// expression (found in the bytecode: find_global_callees) is disabled, and
// only while that name keeps naming such a callee:
// - a dict watcher on the frame's globals and builtins sees the name rebound,
//   deleted, or the dict cleared, replaced or freed; unless the new value is
//   again such a callee, every disabled event comes back (restart_events);
// - the code must run with the globals and builtins it was decided for:
//   checked on every frame of every thread that runs it when the decision is
//   made, and at each later entry into it (PY_START, PY_RESUME, PY_THROW).
// A (dict, name) that once tripped, or a code seen with other globals, is
// never guarded again, so restarts are few.
#pragma once
#include <Python.h>

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "py_ref.h"
#include "stack_depth.h"

namespace spyrec::recorder {

// How many stack items an instruction pops, for the few opcodes that may
// stand between a call's callable and the call (loads, operators, builds,
// nested calls). Anything else ends the search: when unsure, keep the event.
class CalleeScanTable {
public:
    // Cold; raises a Python exception and returns false on failure.
    bool load();
    // -1: not an opcode the search knows.
    int popped(uint8_t opcode, int oparg) const;
    bool is_load_global(uint8_t opcode) const { return opcode == load_global_; }
    // The callable's slot below a call's stack top (depth before it), -1: not a call.
    int callable_slot(uint8_t opcode, int oparg, int depth) const;

private:
    enum Pops : uint8_t { kUnknown, k0, k1, k2, k3, kOparg, kTwiceOparg, kOpargPlus1, kCall, kCallKw, kFormatValue };
    std::array<Pops, 256> pops_{};
    int load_global_ = -1;
    int call_ = -1;
    int call_kw_ = -1;
};

// By unit (offset / 2): the co_names index of the global a CALL there calls,
// or -1. A CALL qualifies when, in straight-line code with no jump in or out,
// its callable's slot was filled by a LOAD_GLOBAL that pushed a NULL with it
// (the compiler's form for `name(...)`) and no instruction in between popped
// down to that slot.
std::vector<int32_t> find_global_callees(PyObject* code, const std::vector<int16_t>& depths, const BytecodeFlow& flow,
                                         const CalleeScanTable& table);

// The dict side of the guards: which names of which globals and builtins
// dicts the disabled CALLs rely on, and the dict watcher that sees them change.
class CallGuards {
public:
    using Callback = int (*)(PyDict_WatchEvent, PyObject*, PyObject*, PyObject*);
    bool open(Callback callback);  // cold
    void close();                  // cold: unwatches every dict
    bool is_open() const { return watcher_ >= 0; }

    // Cold: `name` of `dict` must keep naming a stable callee.
    bool watch(PyObject* dict, PyObject* name);
    // Cold: this (dict, name) tripped once; never guarded again.
    bool is_volatile(PyObject* dict, PyObject* name) const;

    // The watcher's event on a watched dict: whether a disabled CALL may now
    // call something else. `stable` says whether a value is a stable callee.
    template <typename Stable>
    bool trips(PyDict_WatchEvent event, PyObject* dict, PyObject* key, PyObject* new_value, Stable stable) {
        auto found = names_.find(dict);
        if (found == names_.end()) return false;
        if (event == PyDict_EVENT_DEALLOCATED) {
            names_.erase(found);  // a new dict at this address is not watched
            return true;
        }
        if (event != PyDict_EVENT_ADDED && event != PyDict_EVENT_MODIFIED && event != PyDict_EVENT_DELETED) {
            remember_volatile(dict, nullptr);
            return true;  // cleared, or cloned from another dict
        }
        if (!guarded_name(found->second, key)) return false;
        if (new_value && stable(new_value)) return false;
        remember_volatile(dict, key);
        return true;
    }

    // Bumped by every restart: a code's guard decisions are valid only in
    // the epoch they were made in (CodeInfo::guard_epoch).
    uint64_t epoch() const { return epoch_; }
    void next_epoch() { ++epoch_; }

private:
    bool guarded_name(const std::vector<PyRef>& names, PyObject* key) const;
    void remember_volatile(PyObject* dict, PyObject* key);

    int watcher_ = -1;
    std::unordered_map<PyObject*, std::vector<PyRef>> names_;  // watched dict (borrowed) -> guarded names
    std::set<std::pair<PyObject*, std::string>> volatile_;     // "" = every name of that dict
    uint64_t epoch_ = 1;
};

}  // namespace spyrec::recorder
