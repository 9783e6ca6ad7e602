// What the recorder knows about one code object, attached to the code object
// itself through its co_extra slot (PyUnstable_Code_SetExtra). Attaching it
// there makes the hot-path lookup an index, and CPython frees it when the
// code object dies, so a reused address can never see stale information.
#pragma once
#include <Python.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "python_version.h"

namespace spyrec::recorder {

struct CodeInfo {
    std::vector<uint8_t> opcodes;      // base opcode of the instruction at offset 2*i
    std::vector<uint8_t> opargs;       // its oparg's low byte
    std::vector<OpcodeClass> classes;  // its class, oparg taken into account
    uint64_t recorded_id = 0;          // id in the recording's code db; 0 = not written yet
    uint64_t recorded_generation = 0;  // which recording that id belongs to
    bool hidden = false;               // spyrec's own machinery (runpy, the spyrec package)
    // No instruction can mutate: the code's frames need no frame events, since
    // the culprit of anything that happens while it runs is its caller's
    // instruction, which the shadow stack's top already names.
    bool pure = false;
    // Consecutive returns that were not quiet, and a counter for retesting
    // (Session::quiet_return); a cost heuristic, never a correctness one.
    uint8_t loud_returns = 0;
    uint8_t untested_returns = 0;

    // Line of the instruction at offset 2*i (-1: none), filled on first use
    // by line_at(); one pass over co_lines() instead of PyCode_Addr2Line per
    // offset, which scans the line table from its start each time.
    std::vector<int32_t> lines;
    bool lines_ready = false;

    // Value-stack depth before the instruction at offset 2*i (stack_depth.h),
    // computed on the first event that reads an operand in this code.
    std::vector<int16_t> depths;
    bool depths_ready = false;

    // Guarded CALLs (call_guards.h). By unit: the co_names index of the
    // global a CALL there calls (-1: none; -2: refused for good), filled on
    // the first CALL event of a stable callee in this code.
    std::vector<int32_t> global_callees;
    std::vector<int32_t> global_loads;  // by CALL unit: the unit of its callable's LOAD_GLOBAL
    // By unit, for each FOR_ITER: what made its iterator (find_loop_sources),
    // or kLoopRefused once a guard was refused there. Filled with global_callees.
    std::vector<int32_t> loop_sources;
    bool callees_ready = false;
    // Seen running with two different globals or builtins: never guarded.
    bool mixed_globals = false;
    // The CALLs disabled under a guard, by unit, and what they rely on; all
    // of it holds only while guard_epoch is CallGuards::epoch().
    std::vector<bool> call_disabled;
    uint64_t guard_epoch = 0;
    PyObject* guard_globals = nullptr;   // compared only
    PyObject* guard_builtins = nullptr;  // compared only
    // Some CALL here was disabled under a guard, maybe one still running:
    // call_disabled keeps the bits of the last guards that held.
    bool ever_guarded() const { return guard_epoch != 0; }
    bool call_disabled_at(int offset) const {
        size_t i = static_cast<size_t>(offset) / 2;
        return i < call_disabled.size() && call_disabled[i];
    }

    // The instruction an offset belongs to: 3.13 reports RAISE at the last of
    // an instruction's inline CACHE entries (its next_instr - 1).
    int instruction_start(int offset) const {
        while (offset > 0 && static_cast<size_t>(offset) / 2 < opcodes.size() &&
               opcodes[static_cast<size_t>(offset) / 2] == kCacheOpcode) {
            offset -= 2;
        }
        return offset;
    }
    uint8_t opcode_at(int offset) const {
        size_t i = static_cast<size_t>(offset) / 2;
        return i < opcodes.size() ? opcodes[i] : 0;
    }
    int depth_at(int offset) const {
        size_t i = static_cast<size_t>(offset) / 2;
        return i < depths.size() ? depths[i] : -1;
    }
    uint8_t oparg_at(int offset) const {
        size_t i = static_cast<size_t>(offset) / 2;
        return i < opargs.size() ? opargs[i] : 0;
    }
    OpcodeClass class_at(int offset) const {
        size_t i = static_cast<size_t>(offset) / 2;
        return i < classes.size() ? classes[i] : OpcodeClass::kMayMutate;
    }
};

struct CodeLookupCache {
    PyObject* code;
    CodeInfo* info;
};

class CodeInfoTable {
public:
    // Cold: once per interpreter.
    bool init(const OpcodeTable* opcodes);
    void set_hidden_prefixes(std::vector<std::string> prefixes) { hidden_prefixes_ = std::move(prefixes); }

    // Hot: the code object of the previous event (a loop's events are
    // mostly in one code object), else an index into co_extra; builds the
    // info the first time a code object is seen (once per code object).
    CodeInfo* get(PyObject* code) {
        if (code == last_.code) return last_.info;
        if (void* extra = attached(code)) {
            last_ = {code, static_cast<CodeInfo*>(extra)};
            return last_.info;
        }
        return build(code);
    }

    // The last lookup, for every table of the process (the co_extra index is
    // shared). Freeing a code object's info forgets it first, so a new code
    // object at the same address is never taken for the old one. The GIL
    // orders every use.
    static inline CodeLookupCache last_;

    // Cold: the line of the instruction at `offset` in `code` (-1: none).
    int line_at(PyObject* code, int offset);
    const std::vector<int32_t>& lines(PyObject* code);

private:
    // The layout co_extra points at (CPython's _PyCodeObjectExtra, internal,
    // alike in 3.12 and 3.13). Read in place on the hot path, not through
    // PyUnstable_Code_GetExtra's call: ~25 instructions per event that
    // changes code object. build() checks the layout against that API on
    // every code object it attaches to, and falls back to it for good on
    // a mismatch.
    struct CodeExtraLayout {
        Py_ssize_t size;
        void* extras[1];
    };
    void* in_place(PyObject* code) const {
        const auto* extra = static_cast<const CodeExtraLayout*>(reinterpret_cast<PyCodeObject*>(code)->co_extra);
        return extra && index_ < extra->size ? extra->extras[index_] : nullptr;
    }
    void* attached(PyObject* code) const {
        if (index_ < 0) return nullptr;
        if (extra_in_place_) return in_place(code);
        void* extra = nullptr;
        return PyUnstable_Code_GetExtra(code, index_, &extra) == 0 ? extra : nullptr;
    }
    CodeInfo* build(PyObject* code);
    Py_ssize_t index_ = -1;
    bool extra_in_place_ = true;
    const OpcodeTable* opcodes_ = nullptr;
    std::vector<std::string> hidden_prefixes_;
};

}  // namespace spyrec::recorder
