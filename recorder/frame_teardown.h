// Whether returning from the innermost frame can run code before the
// caller's next instruction: docs/exactness.md, rule 3.
#pragma once
#include <Python.h>

#include "python_version.h"
#include "quiet_objects.h"

namespace spyrec::recorder {

// True when the innermost frame, at its PY_RETURN and running `code`,
// returns straight into a Python frame (not through the C stack's entry
// frame: nothing in C resumes after it, unlike sorted(key=) or map) and its
// teardown frees nothing whose freeing can run code. The teardown drops the
// frame's references to its locals, cells and free variables, its function
// and its code; each object it drops must be held elsewhere too (more
// references than this frame's own: `a = b = Token()` holds two) or free
// silently, and there must be no frame object or locals dict to drop. Then
// nothing runs between this event and the caller's next instruction. Only
// when frame_layout_matches(); false whenever unsure.
inline bool returns_quietly(PyObject* code) {
    constexpr char kOwnedByCStack = 3;  // FRAME_OWNED_BY_CSTACK, 3.12 and 3.13
    constexpr int kMostSlots = 32;      // bounds the cost: more locals than this is never quiet
    auto* frame = reinterpret_cast<FrameLayout*>(innermost_frame());
    if (!frame || frame->executable != code || frame->frame_obj || frame->locals) return false;
    auto* caller = static_cast<FrameLayout*>(frame->previous);
    if (!caller || caller->owner == kOwnedByCStack) return false;
    const int slots = reinterpret_cast<PyCodeObject*>(code)->co_nlocalsplus;
    if (slots > kMostSlots) return false;
    // How many of the references the teardown drops point at `held`.
    auto dropped = [&](PyObject* held) {
        Py_ssize_t n = (held == frame->funcobj) + (held == code);
        for (int i = 0; i < slots; ++i) n += frame->localsplus[i] == held;
        return n;
    };
    // More references than the frame can hold (None and small ints are
    // immortal), else more than it holds: an argument the caller still holds.
    auto held_elsewhere = [&](PyObject* held) {
        return Py_REFCNT(held) > slots + 2 || Py_REFCNT(held) > dropped(held);
    };
    // The types last: a temporary that dies with the frame (a float, a
    // string) is rarer than an argument that outlives it, and a function
    // is never of those types.
    auto survives = [&](PyObject* held) { return !held || held_elsewhere(held) || frees_silently(held); };
    PyObject* function = frame->funcobj;
    if (function && !held_elsewhere(function)) return false;
    // A function that lives on holds its code.
    bool code_held = function && PyFunction_Check(function) && PyFunction_GET_CODE(function) == code;
    if (!code_held && !survives(code)) return false;
    for (int i = 0; i < slots; ++i) {
        if (!survives(frame->localsplus[i])) return false;
    }
    return true;
}

}  // namespace spyrec::recorder
