// HOT PATH. Every function here runs on every enabled sys.monitoring event.
// Never, in this file: allocate, create a Python object, call into Python,
// touch LMDB, take a lock, or leave a Python exception set. Anything rare
// (a change, an exception, a new thread) is handed to Session's cold half.
//
// CPython behaviours relied on (3.12 and 3.13):
// - INSTRUCTION fires *before* the instruction runs. So a change seen at an
//   event was made by the thread's previous enabled instruction, or by C code
//   it called: the shadow stack's top still names that instruction.
// - Returning sys.monitoring.DISABLE from INSTRUCTION disables that one code
//   location for good (until sys.monitoring.restart_events). We return it
//   only for instructions that cannot mutate (OpcodeClass::kPure), decided
//   from the opcode, never from whether anything changed this time.
// - PY_START / PY_RESUME / PY_THROW fire in the new frame before its first
//   instruction; PY_RETURN / PY_YIELD / PY_UNWIND fire in the leaving frame.
//   Between a frame leaving and the next event, only C code runs, on behalf
//   of the caller's current instruction (sorted(key=), list.extend(gen)).
// - While a callback runs, CPython delivers no events (tstate->tracing), so
//   the cold half may call Python freely. The dict watcher is not such a
//   callback: while spyrec runs Python from it, Session::busy() is set and
//   every callback returns at once.
// - PY_THROW and PY_UNWIND are not local events: returning DISABLE from them
//   is an error, so they return None even for code that needs no events.
//
// Session::floor() (SPYREC_BENCH_FLOOR=1, benchmarks only) registers the
// floor_* callbacks below instead: the same DISABLE decisions, then nothing
// (the dict watcher only counts); `spyrec run` says so on stderr. What remains is
// CPython's dispatch of exactly the events spyrec keeps: the floor the
// benchmarks print beside spyrec (docs/benchmarks.md).
#include "callbacks.h"

#include "session.h"

namespace spyrec::recorder {
namespace {

inline int small_int_of(PyObject* offset) {
    // Offsets and lines are small non-negative ints: read in place when compact (one
    // digit), without PyLong_AsLong's call; no object is created either way.
    if (PyUnstable_Long_IsCompact(reinterpret_cast<PyLongObject*>(offset))) {
        return static_cast<int>(PyUnstable_Long_CompactValue(reinterpret_cast<PyLongObject*>(offset)));
    }
    return static_cast<int>(PyLong_AsLong(offset));
}

PyObject* none() { return Py_NewRef(Py_None); }

// Live mode only (Session::live): an instruction that cannot mutate still
// checks what the previous one did, so the hook runs right after the change.
PyObject* live_instruction(Session* s, CodeInfo* info, PyObject* code, int offset) {
    bool fresh;
    ThreadState* t = s->thread_state(&fresh);
    s->check_watches(t);
    if (s->exit_pending()) return s->raise_pending_exit();
    // Pure code is never on the shadow stack (see on_frame_enter).
    if (!info->pure) s->note_instruction(t, code, offset, false);
    return none();
}

PyObject* on_instruction(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    Session* s = Session::active();
    if (!s || nargs < 2 || s->busy()) return none();
    PyObject* code = args[0];
    int offset = small_int_of(args[1]);
    // Calls are handled by their CALL event, which knows the callable.
    CodeInfo* info = s->code_info(code);
    if (info->class_at(offset) != OpcodeClass::kMayMutate) {
        if (!s->live()) return Py_NewRef(s->disable());
        return live_instruction(s, info, code, offset);
    }
    bool fresh;
    ThreadState* t = s->thread_state(&fresh);
    s->check_watches(t);
    if (s->exit_pending()) return s->raise_pending_exit();
    CallEffect effect = s->instruction_effect(info, code, offset);
    s->note_instruction(t, code, offset, effect.kind != CallEffect::kNothing, effect.self);
    // A loop over a range or a constant: its later steps need no event
    // while what made its iterator stays the same (call_guards.h, "Loops").
    if (effect.kind == CallEffect::kNothing && s->guard_loop(info, code, offset)) return Py_NewRef(s->disable());
    return none();
}

// CALL (code, offset, callable, arg0): fires right before a call instruction
// calls, after its arguments are evaluated, where INSTRUCTION would have.
PyObject* on_call(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    Session* s = Session::active();
    if (!s || nargs < 4 || s->busy()) return none();
    bool fresh;
    ThreadState* t = s->thread_state(&fresh);
    s->check_watches(t);
    if (s->exit_pending()) return s->raise_pending_exit();
    int offset = small_int_of(args[1]);
    CallEffect effect = s->call_effect(args[2], args[3]);
    s->note_instruction(t, args[0], offset, effect.kind != CallEffect::kNothing, effect.self);
    // A CALL of a global Python function or clean builtin: its later runs
    // need no event of their own while a guard holds (call_guards.h).
    if (s->guard_call(args[0], offset, args[2])) return Py_NewRef(s->disable());
    return none();
}

// PY_START, PY_RESUME and PY_THROW: never disabled, even for pure code (see below).
PyObject* on_frame_enter(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    Session* s = Session::active();
    if (!s || nargs < 2 || s->busy()) return none();
    bool fresh;
    ThreadState* t = s->thread_state(&fresh);
    // Whatever changed since the caller's last event was done by the caller's
    // instruction (the CALL, SEND or FOR_ITER that got here), still on top.
    // Checked even for pure code: a C caller (sorted, list.extend(map(...)))
    // may have changed a value between two calls, and each is its own change.
    s->check_watches(t);
    if (s->exit_pending()) return s->raise_pending_exit();
    CodeInfo* info = s->code_info(args[0]);
    if (s->guards_open()) s->guarded_entry(t, info, fresh);
    if (fresh) return none();
    // Pure code is not pushed (its return raises no event to pop it): its
    // caller stays on top, which is where anything it triggers is blamed.
    if (!info->pure) s->push_frame(t, args[0], info);
    return none();
}

// PY_RETURN, PY_YIELD (local) and PY_UNWIND (not).
PyObject* frame_leave(PyObject* const* args, Py_ssize_t nargs, bool local, bool yielded) {
    Session* s = Session::active();
    if (!s || nargs < 2 || s->busy()) return none();
    // The frame on top of the shadow stack brings its code's info: no
    // lookup. (Pure code is pushed only by a resync; popping it is right too.)
    ThreadState* t = s->known_thread_state();
    ShadowFrame* top = t ? t->top() : nullptr;
    CodeInfo* info = top && top->code == args[0] ? top->info : nullptr;
    if (!info) {
        info = s->code_info(args[0]);
        if (info->pure) return local ? Py_NewRef(s->disable()) : none();
        bool fresh;
        t = s->thread_state(&fresh);
    }
    s->check_watches(t);
    // PY_UNWIND is not local: an exception raised there would replace the
    // one unwinding; the next event raises it.
    if (local && s->exit_pending()) return s->raise_pending_exit();
    s->pop_frame(t, args[0], yielded, local && !yielded && s->quiet_return(info, args[0]));
    return none();
}

PyObject* on_return(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    return frame_leave(args, nargs, true, false);
}
PyObject* on_yield(PyObject*, PyObject* const* args, Py_ssize_t nargs) { return frame_leave(args, nargs, true, true); }
PyObject* on_unwind(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    return frame_leave(args, nargs, false, false);
}

// RAISE and RERAISE: the instruction that raised is in the arguments.
PyObject* exception_event(PyObject* const* args, Py_ssize_t nargs, bool reraised) {
    Session* s = Session::active();
    if (!s || nargs < 3 || s->busy()) return none();
    bool fresh;
    ThreadState* t = s->thread_state(&fresh);
    s->record_exception(t, args[0], small_int_of(args[1]), args[2], reraised);
    // A signal handler's exception, raised while recording this one: it
    // replaces the exception in flight, as at the next eval-breaker check.
    if (s->exit_pending()) return s->raise_pending_exit();
    return none();
}

PyObject* on_raise(PyObject*, PyObject* const* args, Py_ssize_t nargs) { return exception_event(args, nargs, false); }
PyObject* on_reraise(PyObject*, PyObject* const* args, Py_ssize_t nargs) { return exception_event(args, nargs, true); }

// LINE (only registered with --trail): LINE fires before the first
// instruction of each line, for every line, so it is opt-in.
PyObject* on_line(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    Session* s = Session::active();
    if (!s || nargs < 2 || s->busy()) return none();
    bool fresh;
    ThreadState* t = s->thread_state(&fresh);
    s->note_line(t, args[0], small_int_of(args[1]));
    return none();
}

// The benchmark floor (see the top of this file): CPython's dispatch of the
// events the callbacks above keep, and nothing of spyrec's own work.
PyObject* floor_instruction(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    Session* s = Session::active();
    if (!s || nargs < 2) return none();
    CodeInfo* info = s->code_info(args[0]);
    int offset = small_int_of(args[1]);
    bool keep = info->class_at(offset) == OpcodeClass::kMayMutate && !s->guard_loop(info, args[0], offset);
    return keep ? none() : Py_NewRef(s->disable());
}
PyObject* floor_leave(PyObject* const* args, Py_ssize_t nargs, bool local) {
    Session* s = Session::active();
    if (!s || nargs < 2 || !local || !s->code_info(args[0])->pure) return none();
    return Py_NewRef(s->disable());
}
PyObject* floor_local_leave(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    return floor_leave(args, nargs, true);
}
PyObject* floor_unwind(PyObject*, PyObject* const* args, Py_ssize_t nargs) { return floor_leave(args, nargs, false); }
PyObject* floor_nothing(PyObject*, PyObject* const*, Py_ssize_t) { return none(); }
PyObject* floor_call(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    Session* s = Session::active();
    if (!s || nargs < 4) return none();
    bool keep = !s->guard_call(args[0], small_int_of(args[1]), args[2]);
    return keep ? none() : Py_NewRef(s->disable());
}
PyObject* floor_enter(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    Session* s = Session::active();
    if (!s || nargs < 2 || !s->guards_open()) return none();
    CodeInfo* info = s->code_info(args[0]);
    if (s->guarded_code(info)) s->check_entry_globals(info, reinterpret_cast<FrameLayout*>(innermost_frame()));
    return none();
}

// A METH_FASTCALL function stored in PyMethodDef's PyCFunction slot, cast
// through void(*)(void) as CPython documents (a direct cast trips -Wcast-function-type).
template <typename Fn>
PyCFunction fastcall(Fn fn) {
    return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(fn));
}

PyMethodDef kCall{"spyrec_call", fastcall(on_call), METH_FASTCALL, nullptr};
PyMethodDef kInstruction{"spyrec_instruction", fastcall(on_instruction), METH_FASTCALL, nullptr};
PyMethodDef kFrameEnter{"spyrec_frame_enter", fastcall(on_frame_enter), METH_FASTCALL, nullptr};
PyMethodDef kReturn{"spyrec_return", fastcall(on_return), METH_FASTCALL, nullptr};
PyMethodDef kYield{"spyrec_yield", fastcall(on_yield), METH_FASTCALL, nullptr};
PyMethodDef kLine{"spyrec_line", fastcall(on_line), METH_FASTCALL, nullptr};
PyMethodDef kUnwind{"spyrec_unwind", fastcall(on_unwind), METH_FASTCALL, nullptr};
PyMethodDef kRaise{"spyrec_raise", fastcall(on_raise), METH_FASTCALL, nullptr};
PyMethodDef kReraise{"spyrec_reraise", fastcall(on_reraise), METH_FASTCALL, nullptr};
PyMethodDef kFloorInstruction{"spyrec_floor_instruction", fastcall(floor_instruction), METH_FASTCALL, nullptr};
PyMethodDef kFloorLeave{"spyrec_floor_leave", fastcall(floor_local_leave), METH_FASTCALL, nullptr};
PyMethodDef kFloorUnwind{"spyrec_floor_unwind", fastcall(floor_unwind), METH_FASTCALL, nullptr};
PyMethodDef kFloorCall{"spyrec_floor_call", fastcall(floor_call), METH_FASTCALL, nullptr};
PyMethodDef kFloorEnter{"spyrec_floor_enter", fastcall(floor_enter), METH_FASTCALL, nullptr};
PyMethodDef kFloorNothing{"spyrec_floor_nothing", fastcall(floor_nothing), METH_FASTCALL, nullptr};

}  // namespace

const std::vector<MonitoringCallback>& monitoring_callbacks() {
    static const std::vector<MonitoringCallback> callbacks = [] {
        PyObject* instruction = PyCFunction_New(&kInstruction, nullptr);
        PyObject* call = PyCFunction_New(&kCall, nullptr);
        PyObject* enter = PyCFunction_New(&kFrameEnter, nullptr);
        PyObject* return_ = PyCFunction_New(&kReturn, nullptr);
        PyObject* yield = PyCFunction_New(&kYield, nullptr);
        PyObject* line = PyCFunction_New(&kLine, nullptr);
        PyObject* unwind = PyCFunction_New(&kUnwind, nullptr);
        PyObject* raise = PyCFunction_New(&kRaise, nullptr);
        PyObject* reraise = PyCFunction_New(&kReraise, nullptr);
        return std::vector<MonitoringCallback>{
            {"INSTRUCTION", instruction}, {"CALL", call},        {"PY_START", enter},
            {"PY_RESUME", enter},         {"PY_THROW", enter},   {"PY_RETURN", return_},
            {"PY_YIELD", yield},          {"PY_UNWIND", unwind}, {"RAISE", raise},
            {"RERAISE", reraise},         {"LINE", line},
        };
    }();
    return callbacks;
}

const std::vector<MonitoringCallback>& floor_callbacks() {
    static const std::vector<MonitoringCallback> callbacks = [] {
        PyObject* instruction = PyCFunction_New(&kFloorInstruction, nullptr);
        PyObject* leave = PyCFunction_New(&kFloorLeave, nullptr);
        PyObject* unwind = PyCFunction_New(&kFloorUnwind, nullptr);
        PyObject* call = PyCFunction_New(&kFloorCall, nullptr);
        PyObject* enter = PyCFunction_New(&kFloorEnter, nullptr);
        PyObject* nothing = PyCFunction_New(&kFloorNothing, nullptr);
        return std::vector<MonitoringCallback>{
            {"INSTRUCTION", instruction}, {"CALL", call},       {"PY_START", enter}, {"PY_RESUME", enter},
            {"PY_THROW", enter},          {"PY_RETURN", leave}, {"PY_YIELD", leave}, {"PY_UNWIND", unwind},
            {"RAISE", nothing},           {"RERAISE", nothing}, {"LINE", nothing},
        };
    }();
    return callbacks;
}

}  // namespace spyrec::recorder
