// The live hook of `spyrec run --print/--break`: each change handed to a
// Python callable as a dict, with the culprit's live frame.
#include "session.h"

#include <capnp/message.h>

#include "session_helpers.h"

namespace spyrec::recorder {

void Session::call_on_change(Watch& w, Watch::Outcome outcome, ThreadState& culprit, uint64_t seq,
                             const std::vector<ShadowFrame>& frames, const std::string& thread,
                             const kj::Array<capnp::word>& before) {
    PyObject* info = PyDict_New();
    if (!info) {
        PyErr_Clear();
        return;
    }
    auto set = [&](const char* key, PyObject* value) {
        if (value) PyDict_SetItemString(info, key, value);
        Py_XDECREF(value);
    };
    set("expr", PyUnicode_FromString(w.expr().c_str()));
    set("seq", PyLong_FromUnsignedLongLong(seq));
    set("thread", PyUnicode_FromString(thread.c_str()));
    set("kind", PyUnicode_FromString(outcome == Watch::Outcome::kAppeared   ? "appeared"
                                     : outcome == Watch::Outcome::kVanished ? "vanished"
                                     : outcome == Watch::Outcome::kRebound  ? "rebound"
                                                                            : "modified"));
    PyObject* stack = PyList_New(0);
    for (const auto& f : frames) {
        auto* co = reinterpret_cast<PyCodeObject*>(f.code);
        int offset = f.offset < 0 ? 0 : f.offset;
        PyObject* frame = Py_BuildValue("{s:O,s:i,s:O,s:i,s:s}", "file", co->co_filename, "line",
                                        PyCode_Addr2Line(co, offset), "function", co->co_qualname, "offset", offset,
                                        "opname", opcodes_.names[codes_.get(f.code)->opcode_at(offset)].c_str());
        if (frame) PyList_Append(stack, frame);
        Py_XDECREF(frame);
    }
    if (PyList_GET_SIZE(stack) > 0) {
        PyObject* top = PyList_GET_ITEM(stack, 0);
        PyDict_Update(info, top);
    }
    set("stack", stack);
    // A framed single-Value message, as the replayer's value renderer reads.
    auto words_to_bytes = [](const kj::Array<capnp::word>& words) {
        capnp::MallocMessageBuilder framed;
        framed.setRoot(canonical_value(words));
        std::string b = message_bytes(framed);
        return PyBytes_FromStringAndSize(b.data(), b.size());
    };
    set("before_bytes", before.size() ? words_to_bytes(before) : Py_NewRef(Py_None));
    set("after_bytes", w.exists() ? words_to_bytes(w.tree().canonical()) : Py_NewRef(Py_None));
    // The culprit's live frame, for --break: the innermost frame running its
    // code, when the culprit is this thread (else None).
    PyObject* live = nullptr;
    if (culprit.thread_id == PyThread_get_thread_ident() && !frames.empty()) {
        PyFrameObject* frame = PyEval_GetFrame();
        Py_XINCREF(frame);
        while (frame) {
            PyCodeObject* code = PyFrame_GetCode(frame);
            bool match = reinterpret_cast<PyObject*>(code) == frames[0].code;
            Py_DECREF(code);
            if (match) break;
            PyFrameObject* back = PyFrame_GetBack(frame);
            Py_DECREF(frame);
            frame = back;
        }
        live = reinterpret_cast<PyObject*>(frame);
    }
    PyDict_SetItemString(info, "frame", live ? live : Py_None);
    Py_XDECREF(live);
    PyObject* result = PyObject_CallOneArg(options_.on_change, info);
    if (!result) {
        if (PyErr_ExceptionMatches(PyExc_SystemExit) && !pending_exit_) {
            // `q` at a --break prompt: raised into the program at the next
            // event (callbacks.cpp), which then ends as pdb's quit would.
            pending_exit_ = PyErr_GetRaisedException();
        } else {
            // A failing hook must not break the program: report once on stderr.
            PyErr_WriteUnraisable(options_.on_change);
        }
    }
    Py_XDECREF(result);
    Py_DECREF(info);
}

}  // namespace spyrec::recorder
