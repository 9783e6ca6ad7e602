// The live hook of `spyrec run --print/--break`: each change handed over as
// the records just written (live_change.h), with the culprit's live frame.
#include <capnp/message.h>

#include <algorithm>

#include "session.h"
#include "session_helpers.h"

namespace spyrec::recorder {

namespace {

// A framed single-Value message, as the keyframes table stores values.
std::string value_record(const kj::Array<capnp::word>& words) {
    capnp::MallocMessageBuilder framed;
    framed.setRoot(canonical_value(words));
    return message_bytes(framed);
}

// The innermost frame running `code` on this thread, as a new reference.
PyFrameObject* running_frame_of(PyObject* code) {
    PyFrameObject* frame = PyEval_GetFrame();
    Py_XINCREF(frame);
    while (frame) {
        PyCodeObject* running = PyFrame_GetCode(frame);
        bool match = reinterpret_cast<PyObject*>(running) == code;
        Py_DECREF(running);
        if (match) break;
        PyFrameObject* back = PyFrame_GetBack(frame);
        Py_DECREF(frame);
        frame = back;
    }
    return frame;
}

}  // namespace

void Session::call_on_change(const Watch& w, std::string change, const std::vector<PyObject*>& trail_codes,
                             const ThreadState& culprit, const std::vector<ShadowFrame>& frames,
                             const kj::Array<capnp::word>& before) {
    LiveChange live;
    live.expr = w.expr();
    live.change = std::move(change);
    if (before.size()) live.before = value_record(before);
    if (w.exists()) live.after = value_record(w.tree().canonical());
    std::vector<PyObject*> named;
    for (const auto& f : frames) named.push_back(f.code);
    named.insert(named.end(), trail_codes.begin(), trail_codes.end());
    std::sort(named.begin(), named.end());
    named.erase(std::unique(named.begin(), named.end()), named.end());
    for (PyObject* code : named) live.codes.emplace_back(ensure_code(code), code_record(code));
    live.opnames = &opcodes_.names;
    // For --break: pdb stops in the culprit's frame, when it is this thread's.
    PyFrameObject* frame = nullptr;
    if (culprit.thread_id == PyThread_get_thread_ident() && !frames.empty()) frame = running_frame_of(frames[0].code);
    live.frame = reinterpret_cast<PyObject*>(frame);
    bool ok = options_.on_change(live);
    Py_XDECREF(frame);
    if (ok) return;
    if (PyErr_ExceptionMatches(PyExc_SystemExit) && !pending_exit_) {
        // `q` at a --break prompt: raised into the program at the next
        // event (callbacks.cpp), which then ends as pdb's quit would.
        pending_exit_ = PyRef::steal(PyErr_GetRaisedException());
    } else {
        // A failing hook must not break the program: report it on stderr.
        PyErr_WriteUnraisable(nullptr);
    }
}

}  // namespace spyrec::recorder
