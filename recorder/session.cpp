// The session's lifecycle: start, stop, threads and their shadow stacks, and
// what happens when a probe fires. The records it writes are encoded in
// session_records.cpp, dict-watcher culprits are in session_dicts.cpp, the
// live --print/--break hook in live_report.cpp, and the sys.monitoring
// registration in monitoring_registration.cpp.
#include "session.h"

#include <capnp/message.h>

#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "keys.h"
#include "session_helpers.h"

namespace spyrec::recorder {

Session* Session::active_ = nullptr;
constinit thread_local Session::ThreadSlot Session::tls_ __attribute__((tls_model("initial-exec")));

ColdSection::ColdSection(Session& s) : session(s), was_busy(Session::tls_.busy) {
    Session::tls_.busy = true;
    if (!was_busy) ++session.cold_threads_;
}

ColdSection::~ColdSection() {
    Session::tls_.busy = was_busy;
    if (!was_busy) --session.cold_threads_;
}

namespace {

uint64_t next_generation() {
    static uint64_t generation = 0;
    return ++generation;
}

}  // namespace

Session::Session(SessionOptions options, std::vector<WatchSpec> watches)
    : options_(std::move(options)),
      redactor_(options_.redact_patterns),
      writer_(options_.out_dir, options_.max_size),
      generation_(next_generation()) {
    options_.limits.redactor = redactor_.active() ? &redactor_ : nullptr;
    if (!load_opcode_table(opcodes_)) throw std::runtime_error("cannot read the opcode table from dis");
    if (!codes_.init(&opcodes_)) throw std::runtime_error("cannot reserve a code-object extra slot");
    if (!clean_calls_.init()) throw std::runtime_error("cannot read the builtin method tables");
    if (!load_bytecode_flow(flow_)) throw std::runtime_error("cannot read the bytecode metadata from dis");
    if (!operand_effects_.init(OperandEffects::rules_by_name(opcodes_.names), &clean_calls_)) {
        throw std::runtime_error("cannot set up the operand rules");
    }
    // Without a frame layout it can trust, the recorder compares every watch
    // after each mutating instruction, as if no operand were known.
    operands_readable_ = frame_layout_matches();
    const char* floor = std::getenv("SPYREC_BENCH_FLOOR");
    floor_ = floor && std::string_view(floor) == "1";
    codes_.set_hidden_prefixes(options_.hidden_prefixes);
    uint32_t id = 1;
    for (auto& spec : watches) {
        watches_.push_back(std::make_unique<Watch>(id++, spec.expr, spec.root_module, std::move(spec.steps), &dicts_,
                                                   &watched_, &options_.limits));
    }
}

void Session::compute_depths(CodeInfo& info, PyObject* code) {
    info.depths_ready = true;
    SavedError saved;
    compute_stack_depths(code, flow_, info.depths);
}

Session::~Session() {
    if (active_ == this) active_ = nullptr;
    for (auto& t : threads_) {
        for (auto& entry : t->trail) Py_XDECREF(entry.first);
    }
    forget_dict_culprits();
    guards_.close();
    watches_.clear();
    dicts_.close();
}

void Session::start() {
    if (active_) throw std::runtime_error("spyrec is already recording in this process");
    start_time_ = now_seconds();
    if (!dicts_.open(on_dict_watcher_event)) {
        PyErr_Clear();
        throw std::runtime_error("no free dict watcher (CPython allows 8 per interpreter)");
    }
    writer_.start();
    write_meta();
    for (auto& w : watches_) {
        Delta initial;
        w->update(initial);
        write_watch(*w);
    }
    probe_table_stale_ = true;
    active_ = this;
    try {
        register_callbacks();
    } catch (...) {
        active_ = nullptr;
        throw;
    }
    // The thread that starts recording is already deep in frames that will
    // never raise PY_START: build its shadow stack from the real frames now.
    bool fresh = false;
    last_thread_ = thread_state(&fresh);
}

void Session::stop(const std::string& how, int exit_status, int signal, const std::string& reason) {
    if (stopped_) return;
    stopped_ = true;
    if (active_ == this) {
        // Changes made since the last event (by C code at exit) still count.
        bool fresh = false;
        ThreadState* t = thread_state(&fresh);
        check_watches(t, true);
        unregister_callbacks();
        active_ = nullptr;
    }
    forget_dict_culprits();
    for (auto& w : watches_) {
        write_watch(*w, true);
        final_notes_.push_back(WatchNotes{w->expr(), w->ever_resolved(), w->unresolved_reason(), w->tree().notes()});
    }
    watches_.clear();  // releases every watched dict
    dicts_.close();
    capnp::MallocMessageBuilder message;
    auto ending = message.initRoot<schema::Ending>();
    if (how == "exception")
        ending.setHow(schema::Ending::How::EXCEPTION);
    else if (how == "signal")
        ending.setHow(schema::Ending::How::SIGNAL);
    else if (how == "stopped")
        ending.setHow(schema::Ending::How::STOPPED);
    else
        ending.setHow(schema::Ending::How::EXITED);
    ending.setExitStatus(exit_status);
    ending.setSignal(signal);
    ending.setEndTime(now_seconds());
    // Whether (and where) --max-size or a full disk cut the recording is known
    // only when the writer commits; it fills that in (Writer::with_cut_ending).
    ending.setMessage(reason);
    ending.setChanges(changes_);
    ending.setExceptions(exceptions_);
    writer_.enqueue(RecordView{Table::kMeta, schema::kEndingKey, message_bytes(message)});
    writer_.close();
}

void Session::abandon_after_fork() {
    stopped_ = true;
    if (active_ == this) {
        // Give back the monitoring tool and the dict watcher, so the child can
        // record into a recording of its own (CPython has few of either).
        unregister_callbacks();
        active_ = nullptr;
    }
    dicts_.close();
    writer_.abandon_after_fork();
}

ThreadState* Session::new_thread_state() {
    auto state = std::make_unique<ThreadState>();
    state->thread_id = PyThread_get_thread_ident();
    state->stack.reserve(128);
    // Two spare slots: a change is seen up to a line after its culprit, and
    // the lines after the culprit are cut off when it is recorded.
    if (options_.trail > 0) state->trail.assign(static_cast<size_t>(options_.trail) + 2, {nullptr, 0});
    resync(state.get());
    tls_.state = state.get();
    tls_.generation = generation_;
    threads_.push_back(std::move(state));
    return tls_.state;
}

std::vector<ShadowFrame> Session::python_frames() {
    std::vector<ShadowFrame> frames;
    python_frames_into(frames);
    return frames;
}

void Session::python_frames_into(std::vector<ShadowFrame>& frames) {
    // Innermost first. Read from CPython's interpreter frames where their
    // layout is known: the frames PyFrame_GetBack would show, without
    // creating a frame object for each (this runs for every recorded change).
    frames.clear();
    if (operands_readable_) {
        for (auto* f = reinterpret_cast<FrameLayout*>(innermost_frame()); f;
             f = static_cast<FrameLayout*>(f->previous)) {
            if (!is_complete_frame(f)) continue;
            int lasti = PyUnstable_InterpreterFrame_GetLasti(reinterpret_cast<struct _PyInterpreterFrame*>(f));
            frames.push_back(ShadowFrame{f->executable, lasti < 0 ? -1 : lasti});
        }
        return;
    }
    PyFrameObject* frame = PyEval_GetFrame();  // borrowed
    Py_XINCREF(frame);
    frame_objects_into(frames, frame);
}

void Session::other_thread_frames_into(std::vector<ShadowFrame>& frames, unsigned long thread_ident) {
    // Cold: a change first seen by another thread's event. sys._current_frames
    // walks the threads under CPython's own lock (a thread state may be
    // deleted without the GIL); it makes frame objects for them, as a
    // debugger does. A thread id reused by a newer thread gives frames whose
    // code does not pair with the shadow stack's: refresh_callers stops there.
    frames.clear();
    SavedError saved;
    PyObject* all = nullptr;
    if (PyObject* current_frames = PySys_GetObject("_current_frames")) {  // borrowed
        all = PyObject_CallNoArgs(current_frames);
    }
    PyObject* ident = all && PyDict_Check(all) ? PyLong_FromUnsignedLong(thread_ident) : nullptr;
    PyObject* frame = ident ? PyDict_GetItemWithError(all, ident) : nullptr;  // borrowed
    if (frame && !PyFrame_Check(frame)) frame = nullptr;
    Py_XINCREF(frame);
    Py_XDECREF(ident);
    Py_XDECREF(all);
    PyErr_Clear();
    frame_objects_into(frames, reinterpret_cast<PyFrameObject*>(frame));
}

void Session::frame_objects_into(std::vector<ShadowFrame>& frames, PyFrameObject* frame) {
    // Innermost first, from `frame` (a new reference, consumed) outwards.
    while (frame) {
        PyCodeObject* code = PyFrame_GetCode(frame);  // new reference; the frame keeps one too
        frames.push_back(ShadowFrame{reinterpret_cast<PyObject*>(code), PyFrame_GetLasti(frame)});
        Py_DECREF(code);
        PyFrameObject* back = PyFrame_GetBack(frame);
        Py_DECREF(frame);
        frame = back;
    }
}

void Session::resync(ThreadState* t) {
    // Rebuild the shadow stack from CPython's frames. Cold: only for a new
    // thread, or when events were missed (a generator closed from C code, a
    // frame switched by a greenlet).
    std::vector<ShadowFrame> innermost_first = python_frames();
    t->stack.assign(innermost_first.rbegin(), innermost_first.rend());
    t->settled_callers = 0;
    // Each frame's info now, so no frame event has to look it up (which
    // would also evict the code-info cache) for the frames running at start.
    for (auto& f : t->stack) f.info = codes_.get(f.code);
}

void Session::rebuild_probe_table() {
    probe_table_.clear();
    for (auto& w : watches_) w->add_probes_to(probe_table_);
    probe_table_stale_ = false;
}

bool Session::on_probe_fired(Watch& w, ThreadState& culprit) {
    SavedError saved;
    ColdSection cold(*this);
    probe_table_stale_ = true;
    // The whole value before, only for the live hook (--print, --break).
    kj::Array<capnp::word> before;
    if (options_.on_change && w.exists()) before = w.tree().canonical();
    Delta delta;
    Watch::Outcome outcome = w.update(delta);
    if (outcome != Watch::Outcome::kNone) record_change(w, outcome, delta, culprit, before);
    return w.take_freed();
}

}  // namespace spyrec::recorder
