// Per-thread state of the recorder: a shadow of the thread's Python frame
// stack, with the offset of the last instruction each frame started.
//
// Why a shadow stack: sys.monitoring hands callbacks a code object and an
// offset, never a frame. The culprit of a change is the innermost active
// frame's current instruction; when a frame returns or yields into C code
// (sorted(key=f), list.extend(gen)), that is the *caller's* CALL, which the
// shadow stack still holds when the callee's frame is popped. Asking CPython
// for frames instead would create a frame object per event.
#pragma once
#include <Python.h>

#include <cstdint>
#include <vector>

namespace spyrec::recorder {

struct CodeInfo;

struct ShadowFrame {
    PyObject* code;  // borrowed: the frame itself holds it while it is on the stack
    int offset;      // offset of the last enabled instruction this frame started; -1 before any
    // The caller's dirty state when this frame started (ThreadState::dirty),
    // given back when this frame yields.
    bool caller_dirty = true;
    PyObject* caller_target = nullptr;
    CodeInfo* info = nullptr;  // code's info when pushed by a frame event (nullptr: look it up)
};

struct ThreadState {
    unsigned long thread_id = 0;
    std::vector<ShadowFrame> stack;
    // The thread's last instruction may have changed a watched value: the next
    // event compares. Cleared by a clean call and by entering a new frame; set
    // again when a frame is left (see Session::pop_frame).
    bool dirty = true;
    // stack[0, settled_callers) are callers whose offsets were read from
    // CPython's frames (Session::refresh_callers) while their callees ran: a
    // caller cannot move while a frame it called is alive, so they stay exact
    // until the frame above them is popped. Saves a walk of CPython's frames
    // at each change made under the same callers.
    size_t settled_callers = 0;
    // When set, the last instruction could change only this container (an
    // allow-listed method of a watched one; a dict the dict watcher saw
    // written): the next check compares only it, and the written dicts.
    // Compared by address, never dereferenced.
    PyObject* dirty_target = nullptr;
    // The exception last reported by RAISE in this thread. CPython fires RAISE
    // again in each frame an exception propagates into; those are one raise.
    // Compared by address only, never dereferenced.
    // and its traceback's head then: a RAISE whose traceback continues that
    // one is the same raise one frame out. (The address alone is not enough:
    // a new exception may reuse a freed one's.)
    const void* last_exception = nullptr;
    const void* last_traceback = nullptr;

    // The trail (`--trail N`, LINE events): the last N lines this thread ran,
    // a ring of (code, line). Code objects are held (strong references) so a
    // change can name them after they are gone; see Session::note_line.
    std::vector<std::pair<PyObject*, int>> trail;
    size_t trail_next = 0;

    ShadowFrame* top() { return stack.empty() ? nullptr : &stack.back(); }
    // Every pop goes through here: the new top runs on, so it is no longer a
    // settled caller.
    void pop() {
        stack.pop_back();
        if (settled_callers >= stack.size()) settled_callers = stack.empty() ? 0 : stack.size() - 1;
    }
};

}  // namespace spyrec::recorder
