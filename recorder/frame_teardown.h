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
// teardown frees nothing whose freeing can run code: each local, cell and
// free variable is held elsewhere or frees silently, there is no frame
// object or locals dict to drop, and its function is held elsewhere. Then
// nothing runs between this event and the caller's next instruction. Only
// when frame_layout_matches(); false whenever unsure.
inline bool returns_quietly(PyObject* code) {
    constexpr char kOwnedByCStack = 3;  // FRAME_OWNED_BY_CSTACK, 3.12 and 3.13
    auto* frame = reinterpret_cast<FrameLayout*>(innermost_frame());
    if (!frame || frame->executable != code || frame->frame_obj || frame->locals) return false;
    auto* caller = static_cast<FrameLayout*>(frame->previous);
    if (!caller || caller->owner == kOwnedByCStack) return false;
    if (frame->funcobj && Py_REFCNT(frame->funcobj) == 1) return false;
    const int slots = reinterpret_cast<PyCodeObject*>(code)->co_nlocalsplus;
    for (int i = 0; i < slots; ++i) {
        PyObject* held = frame->localsplus[i];
        if (held && Py_REFCNT(held) == 1 && !frees_silently(held)) return false;
    }
    return true;
}

}  // namespace spyrec::recorder
