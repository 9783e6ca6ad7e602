// Encoding what the session records: changes (ops and keyframes), raised
// exceptions, code objects and their sources, stacks, the meta and watch
// records. Everything is handed to the writer as finished bytes.
#include "session.h"

#include <capnp/message.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "format.h"
#include "keys.h"
#include "scratch_message.h"
#include "session_helpers.h"

namespace spyrec::recorder {

uint64_t Session::ensure_code(PyObject* code) {
    CodeInfo* info = codes_.get(code);
    if (info->recorded_generation == generation_ && info->recorded_id) return info->recorded_id;
    uint64_t id = next_code_id_++;
    info->recorded_id = id;
    info->recorded_generation = generation_;
    writer_.enqueue(RecordView{Table::kCode, key_bytes(schema::code_key(id)), code_record(code)});
    store_source(reinterpret_cast<PyCodeObject*>(code)->co_filename);
    return id;
}

std::string Session::code_record(PyObject* code) {
    auto* co = reinterpret_cast<PyCodeObject*>(code);
    ScratchMessage scratch;  // a first segment from the pool, not a zeroed 8 KiB one
    auto& message = scratch.builder();
    auto out = message.initRoot<schema::Code>();
    out.setFilename(utf8_of(co->co_filename));
    out.setQualname(utf8_of(co->co_qualname));
    out.setFirstLine(co->co_firstlineno);
    PyObject* bytes = PyCode_GetCode(co);
    if (bytes) {
        out.setBytecode(kj::arrayPtr(reinterpret_cast<const kj::byte*>(PyBytes_AS_STRING(bytes)),
                                     static_cast<size_t>(PyBytes_GET_SIZE(bytes))));
        size_t n = static_cast<size_t>(PyBytes_GET_SIZE(bytes)) / 2;
        auto lines = out.initLines(n);
        const auto& known = codes_.lines(code);
        for (size_t i = 0; i < n; ++i) lines.set(i, i < known.size() ? known[i] : -1);
        Py_DECREF(bytes);
    }
    PyErr_Clear();
    return message_bytes(message);
}

void Session::store_source(PyObject* filename) {
    std::string name = utf8_of(filename);
    if (name.empty() || !stored_sources_.insert(name).second) return;
    // No Python bytecode runs here: bytecode could let the GIL go to another
    // thread in the middle of the cold half. linecache's cache (which IPython
    // fills with notebook cells) is read as a dict; files are read from disk.
    std::string text;
    // Only a linecache the program imported can hold cells: spyrec does not
    // import it (every recorded program would pay for tokenize and re).
    PyObject* linecache = PyDict_GetItemString(PyImport_GetModuleDict(), "linecache");  // borrowed
    PyObject* cache = linecache ? PyObject_GetAttrString(linecache, "cache") : nullptr;
    PyObject* entry = cache && PyDict_Check(cache) ? PyDict_GetItemWithError(cache, filename) : nullptr;
    if (entry && PyTuple_Check(entry) && PyTuple_GET_SIZE(entry) >= 3 && PyList_Check(PyTuple_GET_ITEM(entry, 2))) {
        PyObject* lines = PyTuple_GET_ITEM(entry, 2);
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines); ++i) text += utf8_of(PyList_GET_ITEM(lines, i));
    }
    Py_XDECREF(cache);
    PyErr_Clear();
    if (text.empty() && name[0] != '<') {
        std::ifstream file(name, std::ios::binary);
        if (file) {
            std::ostringstream content;
            content << file.rdbuf();
            text = content.str();
            if (text.size() > (size_t{16} << 20)) text.clear();  // not a source file worth keeping
        }
    }
    if (!text.empty()) writer_.enqueue(RecordView{Table::kSources, name, text});
}

namespace {

// A name looked up at every recorded change: made and hashed once, not per
// lookup as PyDict_GetItemString and PyObject_GetAttrString do. Interned
// strings live as long as the interpreter.
PyObject* interned(PyObject*& slot, const char* text) {
    if (!slot) slot = PyUnicode_InternFromString(text);
    return slot;
}

PyObject* loaded_module(PyObject*& slot, const char* name) {
    PyObject* key = interned(slot, name);
    return key ? PyDict_GetItemWithError(PyImport_GetModuleDict(), key) : nullptr;  // borrowed
}

PyObject *threading_name, *active_name, *name_name, *asyncio_name, *task_name, *get_loop_name, *current_task_name,
    *get_name_name;

}  // namespace

std::string Session::thread_name(unsigned long ident) {
    std::string name;
    PyObject* threading = loaded_module(threading_name, "threading");
    if (threading) {
        PyObject* active = interned(active_name, "_active") ? PyObject_GetAttr(threading, active_name) : nullptr;
        PyObject* key = PyLong_FromUnsignedLong(ident);
        PyObject* thread = (active && key && PyDict_Check(active)) ? PyDict_GetItemWithError(active, key) : nullptr;
        if (thread) {
            // Thread._name, not the .name property: no user code runs.
            PyObject* dict = PyObject_GenericGetDict(thread, nullptr);
            if (dict && interned(name_name, "_name")) {
                name = utf8_of(PyDict_GetItemWithError(dict, name_name));
            }
            Py_XDECREF(dict);
        }
        Py_XDECREF(key);
        Py_XDECREF(active);
    }
    PyErr_Clear();
    if (name.empty()) name = threading ? "Thread-" + std::to_string(ident) : "MainThread";
    return name;
}

std::string Session::running_task_name() {
    // asyncio's C accelerator is asked directly: _get_running_loop,
    // current_task and the C Task's get_name run no bytecode, so the GIL
    // cannot pass to another thread here. A Task of another type is not named.
    std::string name;
    PyObject* asyncio = loaded_module(asyncio_name, "_asyncio");
    if (!asyncio || !interned(task_name, "Task") || !interned(get_loop_name, "_get_running_loop") ||
        !interned(current_task_name, "current_task") || !interned(get_name_name, "get_name")) {
        PyErr_Clear();
        return name;
    }
    PyObject* task_type = PyObject_GetAttr(asyncio, task_name);
    PyObject* loop = PyObject_CallMethodNoArgs(asyncio, get_loop_name);
    PyObject* task = loop && loop != Py_None ? PyObject_CallMethodOneArg(asyncio, current_task_name, loop) : nullptr;
    if (task && task_type && Py_IS_TYPE(task, reinterpret_cast<PyTypeObject*>(task_type))) {
        PyObject* got = PyObject_CallMethodNoArgs(task, get_name_name);
        name = utf8_of(got);
        Py_XDECREF(got);
    }
    Py_XDECREF(task);
    Py_XDECREF(loop);
    Py_XDECREF(task_type);
    PyErr_Clear();
    return name;
}

void Session::write_stack(capnp::List<schema::Frame>::Builder out, const std::vector<ShadowFrame>& frames) {
    for (size_t i = 0; i < frames.size(); ++i) {
        auto* co = reinterpret_cast<PyCodeObject*>(frames[i].code);
        int offset = frames[i].offset < 0 ? 0 : frames[i].offset;
        out[i].setCodeId(ensure_code(frames[i].code));
        out[i].setOffset(static_cast<uint32_t>(offset));
        // A frame that has not run a checked instruction yet is at its first line.
        out[i].setLine(frames[i].offset < 0 ? co->co_firstlineno : codes_.line_at(frames[i].code, offset));
    }
}

bool Session::has_guarded_caller(const ThreadState& t) {
    // Ever, not only under the current guards: a CALL disabled before a
    // guard was refused may still be running (its callee raising now).
    for (size_t i = 0; i + 1 < t.stack.size(); ++i) {
        const ShadowFrame& f = t.stack[i];
        if ((f.info ? f.info : codes_.get(f.code))->ever_guarded()) return true;
    }
    return false;
}

void Session::refresh_callers(ThreadState& t) {
    // A caller's shadow offset is its last instruction that raised an event.
    // A call made by an instruction whose events are disabled (`del x` running
    // __del__, `obj.v = 1` running a property setter, a weakref callback) left
    // it at the instruction before, a line early. So take each caller's
    // current instruction from CPython, pairing frames from the outermost;
    // never the innermost shadow frame: that is the culprit, and CPython may
    // have moved past it or into a callee already. Callers settled by an
    // earlier refresh have not moved since (ThreadState::settled_callers).
    std::vector<ShadowFrame>& stack = t.stack;
    const size_t callers = stack.empty() ? 0 : stack.size() - 1;
    if (t.settled_callers >= callers) return;
    std::vector<ShadowFrame>& live = live_frames_;  // innermost first
    if (t.thread_id == PyThread_get_thread_ident()) {
        python_frames_into(live);
    } else {
        other_thread_frames_into(live, t.thread_id);
    }
    // A caller has a CPython frame above it (its callee): the innermost live
    // frame is never one, even when the shadow holds a frame too many.
    const size_t paired = std::min(callers, live.empty() ? 0 : live.size() - 1);
    size_t i = 0;
    for (; i < paired; ++i) {
        const ShadowFrame& now = live[live.size() - 1 - i];
        if (stack[i].code != now.code) break;
        CodeInfo* info = stack[i].info ? stack[i].info : codes_.get(now.code);
        if (now.offset >= 0) stack[i].offset = info->instruction_start(now.offset);
    }
    // Only callers paired with CPython's frames are settled; past a frame
    // that does not pair, the next change tries again.
    t.settled_callers = i;
}

std::vector<ShadowFrame> Session::reported_stack(ThreadState& t, const DictCulprit* exact, bool exact_callers) {
    // Innermost first. spyrec's own frames (runpy, the spyrec package, the
    // `spyrec` console script) are left out; the innermost frame is always kept.
    // Per change, not per raise: a program that raises in a loop would pay a
    // walk of CPython's frames at every RAISE event (unless a caller's CALL
    // raised no event: record_exception). The culprit's thread may be
    // another one (its change seen at this thread's event).
    if (exact_callers) refresh_callers(t);
    const std::vector<ShadowFrame>& stack = t.stack;
    std::vector<ShadowFrame> frames;
    frames.reserve(stack.size() + 1);
    for (size_t i = stack.size(); i-- > 0;) {
        const ShadowFrame& f = stack[i];
        if (!frames.empty() && (f.info ? f.info : codes_.get(f.code))->hidden) continue;
        frames.push_back(f);
    }
    if (exact) {
        // The dict watcher saw the mutating instruction itself. Its frame is the
        // shadow stack's top, unless it runs code that raises no frame events.
        if (!frames.empty() && frames[0].code == exact->code.get()) {
            frames[0].offset = exact->offset;
        } else {
            // Then the shadow's top is its caller, which may have run on
            // since: its instruction as the watcher saw it.
            if (!frames.empty() && frames[0].code == exact->caller_code && exact->caller_offset >= 0) {
                frames[0].offset = codes_.get(frames[0].code)->instruction_start(exact->caller_offset);
            }
            frames.insert(frames.begin(), ShadowFrame{exact->code.get(), exact->offset});
        }
    }
    return frames;
}

void Session::record_change(Watch& w, Watch::Outcome outcome, Delta& delta, ThreadState& culprit_thread,
                            const kj::Array<capnp::word>& before) {
    uint64_t seq = ++seq_;
    ++changes_;
    const DictCulprit* exact = dict_culprit_for(w);
    ThreadState& culprit = exact ? *exact->thread : culprit_thread;
    // The culprit's stack, innermost first. spyrec's own frames (runpy, the
    // spyrec package) are left out, except the culprit itself.
    std::vector<ShadowFrame> frames = reported_stack(culprit, exact, true);
    std::string thread = thread_name(culprit.thread_id);

    const size_t delta_bytes = delta.bytes();
    ScratchMessage spare;  // for a change whose ops are copied (see Delta::init_change)
    auto change = delta.init_change(spare);
    change.setSeq(seq);
    change.setMonotonicNs(monotonic_ns());
    change.setWatchId(w.id());
    change.setThreadId(culprit.thread_id);
    change.setThreadName(thread);
    if (culprit.thread_id == PyThread_get_thread_ident()) change.setTaskName(running_task_name());
    switch (outcome) {
        case Watch::Outcome::kAppeared: change.setKind(schema::Change::Kind::APPEARED); break;
        case Watch::Outcome::kVanished: change.setKind(schema::Change::Kind::VANISHED); break;
        case Watch::Outcome::kRebound: change.setKind(schema::Change::Kind::REBOUND); break;
        default: change.setKind(schema::Change::Kind::MODIFIED); break;
    }
    write_stack(change.initStack(frames.size()), frames);
    if (!frames.empty()) {
        int offset = frames[0].offset < 0 ? 0 : frames[0].offset;
        change.setOpcode(codes_.get(frames[0].code)->opcode_at(offset));
    }
    std::vector<PyObject*> trail_codes;  // for the live hook
    if (!culprit.trail.empty()) {
        // Oldest first, starting after the newest entry.
        std::vector<std::pair<PyObject*, int>> lines;
        for (size_t i = 0; i < culprit.trail.size(); ++i) {
            const auto& entry = culprit.trail[(culprit.trail_next + i) % culprit.trail.size()];
            if (entry.first) lines.push_back(entry);
        }
        // The change is seen after the culprit's line, sometimes after a LINE
        // event of the next line: the trail ends at the culprit's line.
        if (!frames.empty()) {
            int culprit_line = codes_.line_at(frames[0].code, frames[0].offset < 0 ? 0 : frames[0].offset);
            for (size_t i = lines.size(); i-- > 0;) {
                if (lines[i].first == frames[0].code && lines[i].second == culprit_line) {
                    lines.resize(i + 1);
                    break;
                }
            }
        }
        size_t keep = static_cast<size_t>(options_.trail);
        if (lines.size() > keep) lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(keep));
        auto recent = change.initRecentLines(lines.size());
        for (size_t i = 0; i < lines.size(); ++i) {
            recent[i].setCodeId(ensure_code(lines[i].first));
            recent[i].setLine(lines[i].second);
            trail_codes.push_back(lines[i].first);
        }
    }
    bool keyframe = w.wants_keyframe(outcome, delta_bytes);
    change.setHasKeyframe(keyframe);
    // Serialized into a buffer kept from change to change: the writer copies it.
    message_bytes_into(delta.change_message(), change_bytes_);
    const auto key = schema::change_key(w.id(), seq);
    RecordView record{Table::kChanges, schema::key_view(key), change_bytes_};
    // The change and its keyframe are committed together or not at all, so a
    // recording cut short (--max-size, a full disk) never holds one without the other.
    std::optional<Attachment> attached;
    if (keyframe) {
        attached = keyframe_record(w, seq);
        record.attach(*attached);
    }
    schema::ByCodeKey by_code{};
    RecordView index{Table::kByCode, schema::key_view(by_code), ""};
    if (!frames.empty()) {
        uint64_t code_id = ensure_code(frames[0].code);
        uint32_t offset = static_cast<uint32_t>(frames[0].offset < 0 ? 0 : frames[0].offset);
        by_code = schema::by_code_key(code_id, offset, seq);
    }
    if (!writer_.enqueue(record, frames.empty() ? nullptr : &index)) {
        recording_cut_ = writer_.cut();
    }
    if (options_.on_change) call_on_change(w, change_bytes_, trail_codes, culprit, frames, before);
}

Attachment Session::keyframe_record(Watch& w, uint64_t seq) {
    capnp::MallocMessageBuilder message;
    w.tree().serialize(message.initRoot<schema::Value>());
    std::string bytes = message_bytes(message);
    w.keyframe_written(bytes.size());
    return Attachment{Table::kKeyframes, key_bytes(schema::keyframe_key(w.id(), seq)), std::move(bytes)};
}

void Session::record_exception(ThreadState* t, PyObject* code, int offset, PyObject* exc, bool reraised) {
    // CPython adds the frame's traceback entry before RAISE fires, so an
    // exception propagating into a caller has a traceback whose next entry
    // is the one seen at its last RAISE.
    PyObject* tb = PyException_GetTraceback(exc);
    const void* next = tb && PyTraceBack_Check(tb) ? reinterpret_cast<PyTracebackObject*>(tb)->tb_next : nullptr;
    bool propagated = exc == t->last_exception && next != nullptr && next == t->last_traceback;
    t->last_exception = exc;
    t->last_traceback = tb;
    Py_XDECREF(tb);                       // compared by address only from here on
    if (!reraised && propagated) return;  // the same raise, one frame out
    // Exceptions spyrec's own machinery raises and handles are not the program's.
    if (codes_.get(code)->hidden) return;
    // Iteration's and generators' own signals are control flow, not errors:
    // a test suite closing generators raises tens of thousands of them (seen:
    // 83,000 GeneratorExit and 3,000 StopIteration in more-itertools' tests),
    // which would make most of a recording. docs/reliability.md says so.
    if (PyErr_GivenExceptionMatches(exc, PyExc_GeneratorExit) ||
        PyErr_GivenExceptionMatches(exc, PyExc_StopIteration) ||
        PyErr_GivenExceptionMatches(exc, PyExc_StopAsyncIteration)) {
        return;
    }
    SavedError saved;
    ColdSection cold(*this);
    offset = codes_.get(code)->instruction_start(offset);
    note_instruction(t, code, offset, true);
    uint64_t seq = ++seq_;
    ++exceptions_;
    ScratchMessage scratch;  // as in code_record: raises can come by the thousand
    auto& message = scratch.builder();
    auto out = message.initRoot<schema::RaisedException>();
    out.setSeq(seq);
    out.setMonotonicNs(monotonic_ns());
    out.setThreadId(t->thread_id);
    out.setThreadName(thread_name(t->thread_id));
    out.setReraised(reraised);
    out.setTypeName(type_name(Py_TYPE(exc)));
    // The message: str() only for builtin exception types (no user code);
    // for user-defined ones, their first argument when it is a str.
    std::string text;
    if (!(Py_TYPE(exc)->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        PyObject* s = PyObject_Str(exc);
        text = utf8_of(s);
        Py_XDECREF(s);
    } else if (PyExceptionInstance_Check(exc)) {
        PyObject* args = PyException_GetArgs(exc);
        if (args && PyTuple_Check(args) && PyTuple_GET_SIZE(args) > 0 && PyUnicode_Check(PyTuple_GET_ITEM(args, 0))) {
            text = utf8_of(PyTuple_GET_ITEM(args, 0));
        }
        Py_XDECREF(args);
    }
    // str() runs the program's signal handlers (PyErr_CheckSignals): what a
    // handler raised (KeyboardInterrupt, a SystemExit) is the program's, and
    // exception_event raises it into it. Clearing it lost Ctrl-C for good.
    if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_Exception) && !pending_exit_) {
        pending_exit_ = PyRef::steal(PyErr_GetRaisedException());
    }
    PyErr_Clear();
    if (text.size() > 2000) text.resize(2000);
    out.setMessage(text);
    std::vector<ShadowFrame> frames = reported_stack(*t, nullptr, has_guarded_caller(*t));
    // Every raise is stored, but an instruction that raises in a loop (a test
    // suite's thousands of KeyErrors) keeps its whole stack only for its first
    // kFullStackRaises raises; after that, its innermost frame and how many
    // outer frames were left out. (Code objects are keyed by address: a reused
    // address only shares a counter, which decides nothing but stack length.)
    uint32_t& raised_here = raises_at_[reinterpret_cast<uintptr_t>(code) * 65599u + static_cast<uintptr_t>(offset)];
    if (++raised_here > kFullStackRaises && frames.size() > 1) {
        out.setFramesLeftOut(static_cast<uint32_t>(frames.size() - 1));
        frames.resize(1);
    }
    write_stack(out.initStack(frames.size()), frames);
    out.setOpcode(codes_.get(code)->opcode_at(offset));
    writer_.enqueue(RecordView{Table::kExceptions, key_bytes(schema::seq_key(seq)), message_bytes(message)});
    // Pure code is never on the shadow stack (its return raises no event to
    // pop it): note_instruction's resync put this frame there so the raise
    // is reported from it. It comes off again, or it would stay on top of
    // its caller under every change the caller makes afterwards.
    if (codes_.get(code)->pure && t->top() && t->top()->code == code) t->pop();
}

void Session::mark(const std::string& test, schema::Mark::Phase phase) {
    if (stopped_) return;
    if (active_ == this) {
        // Whatever changed since the last event belongs before the mark.
        bool fresh = false;
        check_watches(thread_state(&fresh), true);
    }
    uint64_t seq = ++seq_;
    capnp::MallocMessageBuilder message;
    auto out = message.initRoot<schema::Mark>();
    out.setSeq(seq);
    out.setTest(test);
    out.setPhase(phase);
    writer_.enqueue(RecordView{Table::kMarks, key_bytes(schema::seq_key(seq)), message_bytes(message)});
}

void Session::label_file(const std::string& filename, const std::string& label) {
    if (!stopped_ && !filename.empty()) writer_.enqueue(RecordView{Table::kFileLabels, filename, label});
}

void Session::write_meta() {
    auto version = schema::format_value(schema::kFormatVersion);
    writer_.enqueue(RecordView{Table::kMeta, schema::kFormatKey,
                               std::string(reinterpret_cast<const char*>(version.data()), version.size())});
    capnp::MallocMessageBuilder message;
    auto meta = message.initRoot<schema::Meta>();
    meta.setFormatVersion(schema::kFormatVersion);
    meta.setPythonVersion(Py_GetVersion());
    auto argv = meta.initArgv(options_.argv.size());
    for (size_t i = 0; i < options_.argv.size(); ++i) argv.set(i, options_.argv[i]);
    char cwd[4096];
    meta.setCwd(getcwd(cwd, sizeof cwd) ? cwd : "");
    meta.setStartTime(start_time_);
    auto names = meta.initOpnames(opcodes_.names.size());
    for (size_t i = 0; i < opcodes_.names.size(); ++i) names.set(i, opcodes_.names[i]);
    meta.setSpyrecVersion(SPYREC_VERSION);  // from pyfrontend/spyrec/__init__.py (CMakeLists.txt)
    meta.setPid(getpid());
    meta.setParentPid(options_.parent_pid);
    meta.setRedactionKnown(true);
    auto patterns = meta.initRedactPatterns(redactor_.patterns().size());
    for (size_t i = 0; i < redactor_.patterns().size(); ++i) patterns.set(i, redactor_.patterns()[i]);
    writer_.enqueue(RecordView{Table::kMeta, schema::kMetaKey, message_bytes(message)});
}

void Session::write_watch(Watch& w, bool at_end) {
    // At the start: the watch and its first keyframe (seq 0). At the end, the
    // same record again with what only the end knows (the notes).
    capnp::MallocMessageBuilder message;
    auto out = message.initRoot<schema::Watch>();
    out.setId(w.id());
    out.setExpr(w.expr());
    out.setResolvedAtStart(at_end ? resolved_at_start_.count(w.id()) > 0 : w.exists());
    out.setStartSeq(0);
    out.setFollowDepth(static_cast<uint32_t>(options_.limits.follow_depth));
    if (at_end) {
        out.setEverResolved(w.ever_resolved());
        if (!w.ever_resolved()) out.setUnresolvedReason(w.unresolved_reason());
        const auto& notes = w.tree().notes();
        auto list = out.initOpaque(static_cast<unsigned>(notes.size()));
        size_t i = 0;
        for (const auto& [type, tracked] : notes) {
            list[i].setTypeName(type);
            list[i].setTracked(tracked);
            ++i;
        }
    } else {
        out.setEverResolved(w.exists());
        if (w.exists()) resolved_at_start_.insert(w.id());
    }
    const std::string value = message_bytes(message);
    const auto key = schema::watch_key(w.id());
    RecordView record{Table::kWatches, schema::key_view(key), value};
    std::optional<Attachment> attached;
    if (!at_end && w.exists()) {
        attached = keyframe_record(w, 0);
        record.attach(*attached);
    }
    writer_.enqueue(record);
}

}  // namespace spyrec::recorder
