// Every difference between the Pythons spyrec supports (3.12, 3.13) lives
// here, so the rest of the recorder reads as if there were one Python.
//
// - Opcode numbers differ between versions, so opcode classes are derived
//   from opcode.opname at start, by name.
// - Dicts are watched with a dict watcher (PyDict_AddWatcher). On 3.13 a
//   store through an object's inline values (STORE_ATTR, setattr, del on a
//   plain instance) reaches neither the watcher nor the version tag of the
//   object's materialized __dict__, even though that dict shows the new
//   value. Setting the object's __dict__ to that same dict (a no-op for the
//   program) makes the dict own the values, after which every store goes
//   through it: own_instance_dict() below (checked on 3.12.1 and 3.13.0 by
//   tests/cases/object_attrs.py).
// - How to reach the innermost frame without creating a frame object
//   (tstate->cframe->current_frame on 3.12, tstate->current_frame on 3.13),
//   and where its value stack is (FrameLayout: the same leading fields in
//   both, checked at start by frame_layout_matches()).
// - The bytecode's metadata spyrec walks (stack_depth.cpp reads both forms):
//   opcode._inline_cache_entries is a list by opcode on 3.12 and a dict by
//   name on 3.13; 3.12's stack effect of RETURN_GENERATOR is 0, not 1.
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
    // A call instruction (CALL, CALL_KW): sys.monitoring's
    // CALL event, which hands over the callable and its first argument, does
    // the work, so its INSTRUCTION event is disabled.
    kCall = 2,
};

struct OpcodeTable {
    std::array<OpcodeClass, 256> by_opcode{};
    uint8_t binary_op = 0;  // BINARY_OP's number (its oparg says in-place or not)
    std::array<bool, 256> inplace_binary_oparg{};
    std::vector<std::string> names;  // opcode.opname (= dis.opname), index = opcode

    OpcodeClass classify(uint8_t opcode, uint8_t oparg) const {
        if (opcode == binary_op) {
            return inplace_binary_oparg[oparg] ? OpcodeClass::kMayMutate : OpcodeClass::kPure;
        }
        return by_opcode[opcode];
    }
};

// Builds the table from the running Python's `opcode` module. Cold; raises a
// Python exception and returns false on failure.
bool load_opcode_table(OpcodeTable& table);

inline struct _PyInterpreterFrame* innermost_frame_of(PyThreadState* tstate) {
#if PY_VERSION_HEX >= 0x030D0000
    return tstate->current_frame;
#else
    return tstate->cframe ? tstate->cframe->current_frame : nullptr;
#endif
}

inline struct _PyInterpreterFrame* innermost_frame() { return innermost_frame_of(PyThreadState_Get()); }

// The leading fields of CPython's _PyInterpreterFrame
// (Include/internal/pycore_frame.h), laid out alike in 3.12 and 3.13. The
// internal header itself does not compile as C++ (C11 atomics).
struct FrameLayout {
    PyObject* executable;  // f_code (3.12), f_executable (3.13)
    void* previous;
    PyObject* funcobj;
    PyObject* globals;
    PyObject* builtins;
    PyObject* locals;
    PyObject* frame_obj;
    void* instruction;  // prev_instr (3.12), instr_ptr (3.13)
    int stacktop;       // not kept up to date while the frame runs
    uint16_t return_offset;
    char owner;
    PyObject* localsplus[1];  // locals, cells, free variables, then the value stack
};

// The bottom of the value stack of the innermost frame, when that frame runs
// `code` (nullptr otherwise). Between two instructions every stack item is
// in this memory; only the stack pointer lives in a C local of the
// interpreter, so callers find the top from a static depth (stack_depth.h).
inline PyObject** operand_stack(PyObject* code) {
    auto* frame = reinterpret_cast<FrameLayout*>(innermost_frame());
    if (!frame || frame->executable != code) return nullptr;
    return frame->localsplus + reinterpret_cast<PyCodeObject*>(code)->co_nlocalsplus;
}

// Cold: whether FrameLayout matches this interpreter, checked on the frame
// of a small Python function (its code, and its locals against PyFrame_GetVar).
bool frame_layout_matches();

// The innermost Python frame's code (a new reference) and the offset of the
// instruction it is running, without creating a frame object. Used inside a
// dict watcher, which CPython calls in the middle of the mutating instruction.
// On 3.12 the offset can point into the inline cache after the instruction
// (during a call); callers round it down to the owning instruction.
inline bool current_instruction(PyObject** code, int* offset) {
    struct _PyInterpreterFrame* frame = innermost_frame();
    if (!frame) return false;
    *code = PyUnstable_InterpreterFrame_GetCode(frame);
    if (!*code) return false;
    *offset = PyUnstable_InterpreterFrame_GetLasti(frame);
    return true;
}

// The offset of the instruction that the nearest frame running `code` is
// at, from `frame` outwards, looking at most a few frames out (a C call in
// between adds an entry frame); -1 when none is that close. Frames are
// compared by their code only, never created. From the innermost frame's
// caller, it finds the caller of a frame that has just started, even when
// both run `code` (recursion).
inline int offset_in_frames_from(FrameLayout* frame, PyObject* code) {
    for (int hops = 0; frame && hops < 4; ++hops) {
        if (frame->executable == code) {
            return PyUnstable_InterpreterFrame_GetLasti(reinterpret_cast<struct _PyInterpreterFrame*>(frame));
        }
        frame = static_cast<FrameLayout*>(frame->previous);
    }
    return -1;
}
// Whether `frame` is one that PyFrame_GetBack / PyEval_GetFrame show: not
// the C stack's entry frame, and past its prologue (_PyFrame_IsIncomplete in
// Include/internal/pycore_frame.h, 3.12 and 3.13). Only when
// frame_layout_matches().
inline bool is_complete_frame(const FrameLayout* frame) {
    constexpr char kOwnedByGenerator = 1;
    constexpr char kOwnedByCStack = 3;
    if (frame->owner == kOwnedByCStack) return false;
    if (frame->owner == kOwnedByGenerator) return true;
    auto* code = reinterpret_cast<PyCodeObject*>(frame->executable);
    // A code unit is two bytes (_Py_CODEUNIT, not public on 3.13).
    const char* first = code->co_code_adaptive + 2 * static_cast<size_t>(code->_co_firsttraceable);
    return static_cast<const char*>(frame->instruction) >= first;
}

inline int running_offset_of(PyObject* code) {
    return offset_in_frames_from(reinterpret_cast<FrameLayout*>(innermost_frame()), code);
}

// Makes `dict` (obj's materialized __dict__) the only home of obj's
// attributes, so the dict watcher sees every attribute store. Only 3.13 needs
// it; on 3.12 a materialized dict already is.
inline void own_instance_dict(PyObject* obj, PyObject* dict) {
#if PY_VERSION_HEX >= 0x030D0000
    // Through the type's own __dict__ descriptor (what `obj.__dict__ = d` runs;
    // PyObject_GenericSetDict would only swap the pointer), and only when that
    // descriptor is CPython's, so no user code runs.
    if (!(Py_TYPE(obj)->tp_flags & Py_TPFLAGS_INLINE_VALUES)) return;
    static PyObject* name = PyUnicode_InternFromString("__dict__");
    PyObject* descr = name ? _PyType_Lookup(Py_TYPE(obj), name) : nullptr;  // borrowed
    if (descr && Py_IS_TYPE(descr, &PyGetSetDescr_Type) && Py_TYPE(descr)->tp_descr_set) {
        if (Py_TYPE(descr)->tp_descr_set(descr, obj, dict) < 0) PyErr_Clear();
    }
#else
    (void)obj;
    (void)dict;
#endif
}

// The CACHE pseudo-opcode fills inline caches in co_code; it is 0 in 3.12 and 3.13.
constexpr uint8_t kCacheOpcode = 0;

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
