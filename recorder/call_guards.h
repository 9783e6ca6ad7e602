// CALL and FOR_ITER events that are disabled for good under a guard (issue
// 10, "fewer kept events where it is provably safe"). Loops: see
// find_loop_sources below.
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
    bool is_call(int opcode) const { return opcode == call_ || opcode == call_kw_; }
    bool is_for_iter(int opcode) const { return opcode == for_iter_; }
    bool is_get_iter(int opcode) const { return opcode == get_iter_; }
    bool is_load_const(int opcode) const { return opcode == load_const_; }

private:
    enum Pops : uint8_t { kUnknown, k0, k1, k2, k3, kOparg, kTwiceOparg, kOpargPlus1, kCall, kCallKw, kFormatValue };
    std::array<Pops, 256> pops_{};
    int load_global_ = -1;
    int call_ = -1;
    int call_kw_ = -1;
    int for_iter_ = -1;
    int get_iter_ = -1;
    int load_const_ = -1;
};

// By unit (offset / 2): the co_names index of the global a CALL there calls,
// or -1. A CALL qualifies when, in straight-line code with no jump in or out,
// its callable's slot was filled by a LOAD_GLOBAL that pushed a NULL with it
// (the compiler's form for `name(...)`) and no instruction in between popped
// down to that slot.
// `loads`, when given, gets by unit the unit of the LOAD_GLOBAL each such
// CALL's callable came from (-1 elsewhere).
std::vector<int32_t> find_global_callees(PyObject* code, const std::vector<int16_t>& depths, const BytecodeFlow& flow,
                                         const CalleeScanTable& table, std::vector<int32_t>* loads = nullptr);

// Loops. A FOR_ITER's event can go too when no step can run code: when its
// iterator is always a constant's or a range's. (A list's or tuple's
// iterator drops its container when it runs out, and freeing the items may
// run a C weakref callback inside that step.) Its iterator is made by the
// GET_ITER right before it (a `for` statement's shape), from the value of the
// instruction right before that, when no jump or handler enters between
// them. A LOAD_CONST needs no guard. A CALL of a global must keep naming
// exactly range: a guard pins the name (CallGuards::watch, `pinned`).
// By unit, for each FOR_ITER: kLoopConstant (a constant), the unit of that
// CALL, or kLoopUnknown (also every other unit).
constexpr int32_t kLoopUnknown = -1;
constexpr int32_t kLoopConstant = -2;
constexpr int32_t kLoopRefused = -3;  // set by the recorder: decided once, no guard
std::vector<int32_t> find_loop_sources(PyObject* code, const BytecodeFlow& flow, const CalleeScanTable& table);

// The dict side of the guards: which names of which globals and builtins
// dicts the disabled CALLs rely on, and the dict watcher that sees them change.
class CallGuards {
public:
    using Callback = int (*)(PyDict_WatchEvent, PyObject*, PyObject*, PyObject*);
    bool open(Callback callback);  // cold: a new epoch
    void close();                  // cold: unwatches every dict
    bool is_open() const { return watcher_ >= 0; }

    // Cold: `name` of `dict` must keep naming a stable callee for `code`'s
    // disabled CALLs, in this epoch; `pinned`: exactly the value it names
    // now (a guarded loop's range), so any store or delete of it trips.
    bool watch(PyObject* dict, PyObject* name, PyObject* code, bool pinned = false);
    // Cold: this (dict, name) tripped once; never guarded again.
    bool is_volatile(PyObject* dict, PyObject* name) const;

    enum class Trip : uint8_t {
        kNone,
        kRestart,   // a disabled CALL may now call something else
        kDictGone,  // the dict is being freed: forget_dict() names the codes that relied on it
    };
    // The watcher's event on a watched dict. `stable` says whether a value is
    // a stable callee. A name trips once: it is then unwatched and volatile.
    template <typename Stable>
    Trip trips(PyDict_WatchEvent event, PyObject* dict, PyObject* key, PyObject* new_value, Stable stable) {
        auto found = dicts_.find(dict);
        if (found == dicts_.end()) return Trip::kNone;
        Guarded& g = found->second;
        if (event == PyDict_EVENT_DEALLOCATED) return Trip::kDictGone;
        if (event != PyDict_EVENT_ADDED && event != PyDict_EVENT_MODIFIED && event != PyDict_EVENT_DELETED) {
            // Cleared, or cloned from another dict: every name at once.
            bool current = false;
            for (const auto& n : g.names) current = current || n.epoch == epoch_;
            g.names.clear();
            if (!current) return Trip::kNone;
            remember_volatile(dict, nullptr);
            return Trip::kRestart;
        }
        bool exact = PyUnicode_CheckExact(key);
        bool tripped = false;
        for (size_t i = g.names.size(); i-- > 0;) {
            if (exact && !same_name(g.names[i].name.get(), key)) continue;
            // Not an exact str: it may equal any name through its own __eq__.
            if (g.names[i].epoch == epoch_ && (g.names[i].pinned || !(new_value && stable(new_value)))) {
                remember_volatile(dict, g.names[i].name.get());
                tripped = true;
            }
            if (tripped || g.names[i].epoch != epoch_) g.names.erase(g.names.begin() + static_cast<long>(i));
        }
        return tripped ? Trip::kRestart : Trip::kNone;
    }
    // After kDictGone: the codes that relied on `dict` (their CodeInfo must
    // stop trusting its address), and the dict forgotten.
    std::vector<PyRef> forget_dict(PyObject* dict);

    // A guard decision holds only in the epoch it was made in
    // (CodeInfo::guard_epoch). Process-wide: CodeInfo outlives a recording.
    uint64_t epoch() const { return epoch_; }
    void next_epoch() { ++epoch_; }

private:
    struct Name {
        PyRef name;
        uint64_t epoch;
        bool pinned;  // in this epoch, some guard needs exactly the current value
    };
    struct Guarded {
        std::vector<Name> names;
        std::vector<PyRef> codes;  // whose guard_globals or guard_builtins is this dict
    };
    static bool same_name(PyObject* a, PyObject* b) { return a == b || PyUnicode_Compare(a, b) == 0; }
    void remember_volatile(PyObject* dict, PyObject* key);

    int watcher_ = -1;
    std::unordered_map<PyObject*, Guarded> dicts_;          // watched dict (borrowed) -> what relies on it
    std::set<std::pair<PyObject*, std::string>> volatile_;  // "" = every name of that dict
    static inline uint64_t epoch_ = 1;
};

}  // namespace spyrec::recorder
