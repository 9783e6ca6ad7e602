// The cold half of guarded CALLs and loops (call_guards.h): deciding that an
// event can go, and giving every event back when what it relied on changes.
#include <climits>

#include "session.h"
#include "session_helpers.h"

namespace spyrec::recorder {

int on_guard_watcher_event(PyDict_WatchEvent event, PyObject* dict, PyObject* key, PyObject* new_value) {
    Session* s = Session::active();
    return s ? s->on_guard_event(event, dict, key, new_value) : 0;
}

int Session::on_guard_event(PyDict_WatchEvent event, PyObject* dict, PyObject* key, PyObject* new_value) {
    switch (guards_.trips(event, dict, key, new_value, [this](PyObject* v) { return stable_callee(v); })) {
        case CallGuards::Trip::kNone: break;
        case CallGuards::Trip::kRestart: restart_events(); break;
        case CallGuards::Trip::kDictGone:
            // No frame runs with a freed dict, but a new dict may take its
            // address: the codes that relied on it match no frame any more, so
            // their next entry restarts (guarded_entry), and only if they run.
            for (const PyRef& code : guards_.forget_dict(dict)) {
                CodeInfo* info = codes_.get(code.get());
                if (info->guard_globals == dict) info->guard_globals = nullptr;
                if (info->guard_builtins == dict) info->guard_builtins = nullptr;
            }
            break;
    }
    return 0;
}

bool Session::open_guards() {
    // Live mode keeps every event; without a trusted frame layout the
    // frames' globals cannot be read.
    if (live() || !operands_readable_) return false;
    if (!callee_scan_.load()) {
        PyErr_Clear();
        return false;
    }
    // CPython's vectorcall of a plain Python function: one that an extension
    // replaced (PyFunction_SetVectorcall) may not raise PY_START.
    PyObject* globals = PyDict_New();
    PyObject* function = globals ? PyRun_String("lambda: None", Py_eval_input, globals, globals) : nullptr;
    if (function && PyFunction_Check(function)) {
        function_vectorcall_ = reinterpret_cast<PyFunctionObject*>(function)->vectorcall;
    }
    Py_XDECREF(function);
    Py_XDECREF(globals);
    PyErr_Clear();
    return function_vectorcall_ && guards_.open(on_guard_watcher_event);
}

void Session::scan_callees(CodeInfo* info, PyObject* code) {
    if (info->callees_ready) return;
    info->callees_ready = true;
    if (!info->depths_ready) compute_depths(*info, code);
    info->global_callees = find_global_callees(code, info->depths, flow_, callee_scan_, &info->global_loads);
    info->loop_sources = find_loop_sources(code, flow_, callee_scan_);
}

bool Session::guard_call_cold(CodeInfo* info, PyObject* code, int offset, PyObject* callable) {
    SavedError saved;
    size_t unit = static_cast<size_t>(offset) / 2;
    scan_callees(info, code);
    if (unit >= info->global_callees.size() || info->global_callees[unit] < 0) return false;
    PyObject* names = reinterpret_cast<PyCodeObject*>(code)->co_names;
    int32_t index = info->global_callees[unit];
    GuardVerdict verdict = GuardVerdict::kRefused;
    if (PyTuple_Check(names) && index < PyTuple_GET_SIZE(names)) {
        // The callable on the stack is what the name gives now, as LOAD_GLOBAL
        // looked it up: the bytecode search found the right load. A frame of
        // this code between that load and this CALL (a caller still
        // evaluating the arguments that led here) holds the old value.
        int load = unit < info->global_loads.size() ? info->global_loads[unit] : -1;
        if (load >= 0)
            verdict = guard_global(info, code, PyTuple_GET_ITEM(names, index), callable, false, 2 * load, offset);
    }
    if (verdict == GuardVerdict::kRefused) info->global_callees[unit] = -2;
    if (verdict != GuardVerdict::kGuarded) return false;
    info->call_disabled[unit] = true;
    return true;
}

bool Session::guard_loop_cold(CodeInfo* info, PyObject* code, int offset) {
    SavedError saved;
    size_t unit = static_cast<size_t>(offset) / 2;
    scan_callees(info, code);
    if (unit >= info->loop_sources.size()) return false;
    int32_t source = info->loop_sources[unit];
    auto refuse = [&] {
        info->loop_sources[unit] = kLoopRefused;
        return false;
    };
    if (source == kLoopUnknown || source == kLoopRefused) return false;
    // The iterator now is a builtin one (never a generator's), and what
    // this loop always gets when its source says so.
    int depth = info->depth_at(offset);
    PyObject** stack = depth > 0 ? operand_stack(code) : nullptr;
    if (!stack || !clean_calls_.plain_iterator(stack[depth - 1])) return refuse();
    if (source == kLoopConstant) return true;  // a constant's iterator, for good
    // A suspended generator or coroutine of this code may hold an iterator
    // made before the decision; no thread's stack shows it.
    constexpr int kSuspends = CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR | CO_ITERABLE_COROUTINE;
    if (reinterpret_cast<PyCodeObject*>(code)->co_flags & kSuspends) return refuse();
    size_t call = static_cast<size_t>(source);
    if (call >= info->global_callees.size() || info->global_callees[call] < 0) return refuse();
    PyObject* names = reinterpret_cast<PyCodeObject*>(code)->co_names;
    int32_t index = info->global_callees[call];
    if (!PyTuple_Check(names) || index >= PyTuple_GET_SIZE(names)) return refuse();
    // range() makes a range whatever its arguments, whose iterator frees
    // only ints when it runs out; the global must keep naming it: pinned.
    // Another frame of this code (recursion, another thread) may be in this
    // loop or about to enter it with an iterator made before the decision.
    auto* range = reinterpret_cast<PyObject*>(&PyRange_Type);
    GuardVerdict verdict = guard_global(info, code, PyTuple_GET_ITEM(names, index), range, true, 0, INT_MAX);
    if (verdict == GuardVerdict::kRefused) return refuse();
    return verdict == GuardVerdict::kGuarded;
}

Session::GuardVerdict Session::guard_global(CodeInfo* info, PyObject* code, PyObject* name, PyObject* wanted,
                                            bool pinned, int busy_from, int busy_to) {
    if (info->mixed_globals) return GuardVerdict::kRefusedForCode;  // seen with other globals: never again
    auto* frame = reinterpret_cast<FrameLayout*>(innermost_frame());
    if (!frame || frame->executable != code) return GuardVerdict::kRefused;
    if (code_running_between(code, frame, busy_from, busy_to)) return GuardVerdict::kRefused;
    PyObject* globals = frame->globals;
    PyObject* builtins = frame->builtins;
    if (!globals || !builtins || !PyDict_CheckExact(globals) || !PyDict_CheckExact(builtins)) {
        return GuardVerdict::kRefused;
    }
    if (info->guard_epoch == guards_.epoch() && (info->guard_globals != globals || info->guard_builtins != builtins)) {
        refuse_guards(info);
        return GuardVerdict::kRefusedForCode;
    }
    if (guards_.is_volatile(globals, name) || guards_.is_volatile(builtins, name)) return GuardVerdict::kRefused;
    ColdSection cold(*this);
    PyObject* value = PyDict_GetItemWithError(globals, name);  // borrowed
    bool from_builtins = false;
    if (!value && !PyErr_Occurred()) {
        value = PyDict_GetItemWithError(builtins, name);
        from_builtins = true;
    }
    if (!value || value != wanted) return GuardVerdict::kRefused;
    if (!frames_agree(code, globals, builtins)) {
        if (info->guard_epoch == guards_.epoch()) {
            refuse_guards(info);  // other events of this code are disabled already
        } else {
            info->mixed_globals = true;
        }
        return GuardVerdict::kRefusedForCode;
    }
    // The globals are watched for the name even when it comes from the
    // builtins: a global of that name would shadow it.
    if (!guards_.watch(globals, name, code, pinned) ||
        (from_builtins && !guards_.watch(builtins, name, code, pinned))) {
        return GuardVerdict::kRefused;
    }
    if (info->guard_epoch != guards_.epoch()) {
        info->call_disabled.assign(info->opcodes.size(), false);
        info->guard_epoch = guards_.epoch();
        info->guard_globals = globals;
        info->guard_builtins = builtins;
    }
    return GuardVerdict::kGuarded;
}

bool Session::frames_agree(PyObject* code, PyObject* globals, PyObject* builtins) {
    // Every frame running this code now, in every thread: the ones that
    // start later are checked at their entry (check_guarded_entry).
    PyInterpreterState* interp = PyInterpreterState_Get();
    for (PyThreadState* ts = PyInterpreterState_ThreadHead(interp); ts; ts = PyThreadState_Next(ts)) {
        auto* frame = reinterpret_cast<FrameLayout*>(innermost_frame_of(ts));
        for (; frame; frame = static_cast<FrameLayout*>(frame->previous)) {
            if (frame->executable == code && (frame->globals != globals || frame->builtins != builtins)) return false;
        }
    }
    return true;
}

bool Session::code_running_between(PyObject* code, const FrameLayout* self, int from, int to) {
    PyInterpreterState* interp = PyInterpreterState_Get();
    for (PyThreadState* ts = PyInterpreterState_ThreadHead(interp); ts; ts = PyThreadState_Next(ts)) {
        auto* frame = reinterpret_cast<FrameLayout*>(innermost_frame_of(ts));
        for (; frame; frame = static_cast<FrameLayout*>(frame->previous)) {
            if (frame == self || frame->executable != code || !is_complete_frame(frame)) continue;
            int lasti = PyUnstable_InterpreterFrame_GetLasti(reinterpret_cast<struct _PyInterpreterFrame*>(frame));
            if (lasti >= from && lasti < to) return true;
        }
    }
    return false;
}

void Session::refuse_guards(CodeInfo* info) {
    info->mixed_globals = true;
    restart_events();
}

void Session::restart_events() {
    // Every disabled event of every tool comes back, and each location is
    // decided again at its next event; this code's decisions are void.
    guards_.next_epoch();
    SavedError saved;
    ColdSection cold(*this);
    PyObject* monitoring = PySys_GetObject("monitoring");  // borrowed
    PyObject* r = monitoring ? PyObject_CallMethod(monitoring, "restart_events", nullptr) : nullptr;
    // A restart that fails (CPython's monitoring version is 24 bits) leaves
    // the disabled CALLs unguarded; no more are disabled from here on.
    if (!r) guards_.close();
    Py_XDECREF(r);
}

}  // namespace spyrec::recorder
