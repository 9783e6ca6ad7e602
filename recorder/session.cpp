// The cold half of a recording session: everything that runs once per
// change, exception, thread or code object, never once per event.
#include "session.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string_view>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "callbacks.h"
#include "format.h"
#include "keys.h"
#include "spyrec.capnp.h"

namespace spyrec::recorder {

Session* Session::active_ = nullptr;

// The C callback CPython's dict watcher calls.
static int on_dict_watcher_event(PyDict_WatchEvent event, PyObject* dict, PyObject* key, PyObject* new_value) {
    Session* s = Session::active();
    return s ? s->on_dict_event(event, dict, key, new_value) : 0;
}
thread_local uint64_t Session::tls_generation_ __attribute__((tls_model("initial-exec"))) = 0;
thread_local ThreadState* Session::tls_state_ __attribute__((tls_model("initial-exec"))) = nullptr;
thread_local bool Session::tls_busy_ __attribute__((tls_model("initial-exec"))) = false;

ColdSection::ColdSection(Session& s) : session(s), was_busy(Session::tls_busy_) {
    Session::tls_busy_ = true;
    if (!was_busy) ++session.cold_threads_;
}

ColdSection::~ColdSection() {
    Session::tls_busy_ = was_busy;
    if (!was_busy) --session.cold_threads_;
}

namespace {

uint64_t next_generation() {
    static uint64_t generation = 0;
    return ++generation;
}

std::string message_bytes(capnp::MessageBuilder& message) {
    auto words = capnp::messageToFlatArray(message);
    auto bytes = words.asBytes();
    return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

template <size_t N>
std::string key_bytes(const std::array<uint8_t, N>& key) {
    return std::string(reinterpret_cast<const char*>(key.data()), N);
}

std::string utf8_of(PyObject* str) {
    if (!str || !PyUnicode_Check(str)) return "";
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(str, &n);
    if (!s) {
        PyErr_Clear();
        return "";
    }
    return std::string(s, n);
}

// A snapshot kept in canonical form (one segment, no segment table) read
// back as a Value. The recorder made these words itself; they are trusted.
schema::Value::Reader canonical_value(const kj::Array<capnp::word>& words) {
    return capnp::readMessageUnchecked<schema::Value>(words.begin());
}

double now_seconds() {
    using namespace std::chrono;
    return duration_cast<duration<double>>(system_clock::now().time_since_epoch()).count();
}

// Runs a cold-path Python call without disturbing an exception in flight in
// the monitored program.
struct SavedError {
    PyObject *type, *value, *tb;
    SavedError() { PyErr_Fetch(&type, &value, &tb); }
    ~SavedError() {
        PyErr_Clear();
        PyErr_Restore(type, value, tb);
    }
};

}  // namespace

Session::Session(SessionOptions options, std::vector<WatchSpec> watches)
    : options_(std::move(options)),
      writer_(options_.out_dir, options_.max_size),
      generation_(next_generation()) {
    if (!load_opcode_table(opcodes_)) throw std::runtime_error("cannot read the opcode table from dis");
    if (!codes_.init(&opcodes_)) throw std::runtime_error("cannot reserve a code-object extra slot");
    codes_.set_hidden_prefixes(options_.hidden_prefixes);
    uint32_t id = 1;
    for (auto& spec : watches) {
        watches_.push_back(
            std::make_unique<Watch>(id++, spec.expr, spec.root_module, std::move(spec.steps), &dicts_, &options_.limits));
    }
    Py_XINCREF(options_.on_change);
}

Session::~Session() {
    if (active_ == this) active_ = nullptr;
    for (auto& t : threads_) {
        for (auto& entry : t->trail) Py_XDECREF(entry.first);
    }
    forget_dict_culprits();
    watches_.clear();
    dicts_.close();
    Py_XDECREF(options_.on_change);
    Py_XDECREF(disable_);
    Py_XDECREF(linecache_);
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
    linecache_ = PyImport_ImportModule("linecache");
    if (!linecache_) PyErr_Clear();
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
        check_watches(t);
        unregister_callbacks();
        active_ = nullptr;
    }
    forget_dict_culprits();
    for (auto& w : watches_) {
        write_watch(*w, true);
        final_notes_.push_back(WatchNotes{w->expr(), w->ever_resolved(), w->unresolved_reason(), w->tree().notes()});
    }
    watches_.clear();   // releases every watched dict
    dicts_.close();
    capnp::MallocMessageBuilder message;
    auto ending = message.initRoot<schema::Ending>();
    if (how == "exception") ending.setHow(schema::Ending::How::EXCEPTION);
    else if (how == "signal") ending.setHow(schema::Ending::How::SIGNAL);
    else if (how == "stopped") ending.setHow(schema::Ending::How::STOPPED);
    else ending.setHow(schema::Ending::How::EXITED);
    ending.setExitStatus(exit_status);
    ending.setSignal(signal);
    ending.setEndTime(now_seconds());
    // Whether (and where) --max-size or a full disk cut the recording is known
    // only when the writer commits; it fills that in (Writer::with_cut_ending).
    ending.setMessage(reason);
    ending.setChanges(changes_);
    ending.setExceptions(exceptions_);
    writer_.enqueue(Record{Table::kMeta, std::string(schema::kEndingKey), message_bytes(message)});
    writer_.close();
}

void Session::abandon_after_fork() {
    stopped_ = true;
    if (active_ == this) active_ = nullptr;
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
    tls_state_ = state.get();
    tls_generation_ = generation_;
    threads_.push_back(std::move(state));
    return tls_state_;
}

void Session::resync(ThreadState* t) {
    // Rebuild the shadow stack from CPython's frames. Cold: only for a new
    // thread, or when events were missed (a generator closed from C code, a
    // frame switched by a greenlet).
    t->stack.clear();
    std::vector<ShadowFrame> reversed;
    PyFrameObject* frame = PyEval_GetFrame();   // borrowed
    Py_XINCREF(frame);
    while (frame) {
        PyCodeObject* code = PyFrame_GetCode(frame);   // new reference; the frame keeps one too
        reversed.push_back(ShadowFrame{reinterpret_cast<PyObject*>(code), PyFrame_GetLasti(frame)});
        Py_DECREF(code);
        PyFrameObject* back = PyFrame_GetBack(frame);
        Py_DECREF(frame);
        frame = back;
    }
    t->stack.assign(reversed.rbegin(), reversed.rend());
}

void Session::on_probe_fired(Watch& w, ThreadState& culprit) {
    SavedError saved;
    ColdSection cold(*this);
    // The whole value before, only for the live hook (--print, --break).
    kj::Array<capnp::word> before;
    if (options_.on_change && w.exists()) before = w.tree().canonical();
    Delta delta;
    Watch::Outcome outcome = w.update(delta);
    if (outcome != Watch::Outcome::kNone) record_change(w, outcome, delta, culprit, before);
}

int Session::on_dict_event(PyDict_WatchEvent event, PyObject* dict, PyObject* key, PyObject* new_value) {
    if (event == PyDict_EVENT_DEALLOCATED) return 0;
    if (busy() || stopped_) {
        dicts_.bump(dict);
        return 0;
    }
    bool fresh;
    ThreadState* t = thread_state(&fresh);
    PyObject* code = nullptr;
    int offset = 0;
    bool known = current_instruction(&code, &offset);
    if (known) {
        CodeInfo* info = codes_.get(code);
        while (offset > 0 && info->opcode_at(offset) == kCacheOpcode) offset -= 2;
    }
    // Changes made before this mutation belong to earlier instructions:
    // settle them first, so two mutations by two instructions stay two
    // changes. One instruction storing several keys (dict.update) is one
    // change; the same instruction storing the same key again is running
    // again (a loop with no other event), so that settles too.
    bool same_execution = false;
    if (known && !dict_culprits_.empty()) {
        const DictCulprit& last = dict_culprits_.back();
        if (last.thread == t && last.code == code && last.offset == offset) {
            same_execution = true;
            for (const auto& c : dict_culprits_) {
                if (c.dict == dict && c.key == key) same_execution = false;
            }
        }
    }
    if (!same_execution) check_watches(t);
    dicts_.bump(dict);
    if (known) dict_culprits_.push_back(DictCulprit{t, code, offset, dict, key});
    if (new_value && (event == PyDict_EVENT_ADDED || event == PyDict_EVENT_MODIFIED)) {
        SavedError saved;
        ColdSection cold(*this);
        for (auto& w : watches_) {
            if (w->depends_on(dict)) w->before_store(dict, key, new_value);
        }
    }
    return 0;
}

void Session::forget_dict_culprits() {
    for (auto& c : dict_culprits_) Py_XDECREF(c.code);
    dict_culprits_.clear();
}

const Session::DictCulprit* Session::dict_culprit_for(const Watch& w) const {
    for (size_t i = dict_culprits_.size(); i-- > 0;) {
        if (w.depends_on(dict_culprits_[i].dict)) return &dict_culprits_[i];
    }
    return nullptr;
}

uint64_t Session::ensure_code(PyObject* code) {
    CodeInfo* info = codes_.get(code);
    if (info->recorded_generation == generation_ && info->recorded_id) return info->recorded_id;
    auto* co = reinterpret_cast<PyCodeObject*>(code);
    uint64_t id = next_code_id_++;
    info->recorded_id = id;
    info->recorded_generation = generation_;
    capnp::MallocMessageBuilder message;
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
        for (size_t i = 0; i < n; ++i) lines.set(i, PyCode_Addr2Line(co, static_cast<int>(2 * i)));
        Py_DECREF(bytes);
    }
    PyErr_Clear();
    writer_.enqueue(Record{Table::kCode, key_bytes(schema::code_key(id)), message_bytes(message)});
    store_source(co->co_filename);
    return id;
}

void Session::store_source(PyObject* filename) {
    std::string name = utf8_of(filename);
    if (name.empty() || !stored_sources_.insert(name).second) return;
    // No Python bytecode runs here: bytecode could let the GIL go to another
    // thread in the middle of the cold half. linecache's cache (which IPython
    // fills with notebook cells) is read as a dict; files are read from disk.
    std::string text;
    PyObject* cache = linecache_ ? PyObject_GetAttrString(linecache_, "cache") : nullptr;
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
            if (text.size() > (size_t{16} << 20)) text.clear();   // not a source file worth keeping
        }
    }
    if (!text.empty()) writer_.enqueue(Record{Table::kSources, name, text});
}

std::string Session::thread_name(unsigned long ident) {
    std::string name;
    PyObject* threading = PyDict_GetItemString(PyImport_GetModuleDict(), "threading");   // borrowed
    if (threading) {
        PyObject* active = PyObject_GetAttrString(threading, "_active");
        PyObject* key = PyLong_FromUnsignedLong(ident);
        PyObject* thread = (active && key && PyDict_Check(active)) ? PyDict_GetItemWithError(active, key) : nullptr;
        if (thread) {
            // Thread._name, not the .name property: no user code runs.
            PyObject* dict = PyObject_GenericGetDict(thread, nullptr);
            if (dict) {
                name = utf8_of(PyDict_GetItemString(dict, "_name"));
                Py_DECREF(dict);
            }
        }
        Py_XDECREF(key);
        Py_XDECREF(active);
    }
    PyErr_Clear();
    if (name.empty()) name = threading ? "Thread-" + std::to_string(ident) : "MainThread";
    return name;
}

void Session::write_stack(capnp::List<schema::Frame>::Builder out, const std::vector<ShadowFrame>& frames) {
    for (size_t i = 0; i < frames.size(); ++i) {
        auto* co = reinterpret_cast<PyCodeObject*>(frames[i].code);
        int offset = frames[i].offset < 0 ? 0 : frames[i].offset;
        out[i].setCodeId(ensure_code(frames[i].code));
        out[i].setOffset(static_cast<uint32_t>(offset));
        // A frame that has not run a checked instruction yet is at its first line.
        out[i].setLine(frames[i].offset < 0 ? co->co_firstlineno : PyCode_Addr2Line(co, offset));
    }
}

std::vector<ShadowFrame> Session::reported_stack(ThreadState& t, const DictCulprit* exact) {
    // Innermost first. spyrec's own frames (runpy, the spyrec package, the
    // `spyrec` console script) are left out; the innermost frame is always kept.
    std::vector<ShadowFrame> frames;
    for (size_t i = t.stack.size(); i-- > 0;) {
        const ShadowFrame& f = t.stack[i];
        if (!frames.empty() && codes_.get(f.code)->hidden) continue;
        frames.push_back(f);
    }
    if (exact) {
        // The dict watcher saw the mutating instruction itself. Its frame is the
        // shadow stack's top, unless it runs code that raises no frame events.
        if (!frames.empty() && frames[0].code == exact->code) {
            frames[0].offset = exact->offset;
        } else {
            frames.insert(frames.begin(), ShadowFrame{exact->code, exact->offset});
        }
    }
    return frames;
}

void Session::record_change(Watch& w, Watch::Outcome outcome, const Delta& delta, ThreadState& culprit_thread,
                            const kj::Array<capnp::word>& before) {
    uint64_t seq = ++seq_;
    ++changes_;
    const DictCulprit* exact = dict_culprit_for(w);
    ThreadState& culprit = exact ? *exact->thread : culprit_thread;
    // The culprit's stack, innermost first. spyrec's own frames (runpy, the
    // spyrec package) are left out, except the culprit itself.
    std::vector<ShadowFrame> frames = reported_stack(culprit, exact);
    std::string thread = thread_name(culprit.thread_id);

    capnp::MallocMessageBuilder message;
    auto change = message.initRoot<schema::Change>();
    change.setSeq(seq);
    change.setWatchId(w.id());
    change.setThreadId(culprit.thread_id);
    change.setThreadName(thread);
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
            auto* co = reinterpret_cast<PyCodeObject*>(frames[0].code);
            int culprit_line = PyCode_Addr2Line(co, frames[0].offset < 0 ? 0 : frames[0].offset);
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
        }
    }
    delta.copy_into(change.initOps(static_cast<unsigned>(delta.size())));
    bool keyframe = w.wants_keyframe(outcome, delta.bytes());
    change.setHasKeyframe(keyframe);
    std::string value = message_bytes(message);
    if (!writer_.enqueue(Record{Table::kChanges, key_bytes(schema::change_key(w.id(), seq)), std::move(value)})) {
        recording_cut_ = writer_.cut();
    }
    if (!frames.empty()) {
        uint64_t code_id = ensure_code(frames[0].code);
        uint32_t offset = static_cast<uint32_t>(frames[0].offset < 0 ? 0 : frames[0].offset);
        writer_.enqueue(Record{Table::kByCode, key_bytes(schema::by_code_key(code_id, offset, seq)), ""});
    }
    // After the change it belongs to: a reader that sees the keyframe sees the change.
    if (keyframe) write_keyframe(w, seq);
    if (options_.on_change) call_on_change(w, outcome, culprit, seq, frames, thread, before);
}

void Session::write_keyframe(Watch& w, uint64_t seq) {
    capnp::MallocMessageBuilder message;
    w.tree().serialize(message.initRoot<schema::Value>());
    std::string bytes = message_bytes(message);
    w.keyframe_written(bytes.size());
    writer_.enqueue(Record{Table::kKeyframes, key_bytes(schema::keyframe_key(w.id(), seq)), std::move(bytes)});
}

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
        // A failing hook must not break the program: report once on stderr.
        PyErr_WriteUnraisable(options_.on_change);
    }
    Py_XDECREF(result);
    Py_DECREF(info);
}

void Session::record_exception(ThreadState* t, PyObject* code, int offset, PyObject* exc, bool reraised) {
    if (!reraised && exc == t->last_exception) return;   // the same raise, one frame out
    t->last_exception = exc;
    // Exceptions spyrec's own machinery raises and handles are not the program's.
    if (codes_.get(code)->hidden) return;
    SavedError saved;
    ColdSection cold(*this);
    note_instruction(t, code, offset);
    uint64_t seq = ++seq_;
    ++exceptions_;
    capnp::MallocMessageBuilder message;
    auto out = message.initRoot<schema::RaisedException>();
    out.setSeq(seq);
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
    PyErr_Clear();
    if (text.size() > 2000) text.resize(2000);
    out.setMessage(text);
    std::vector<ShadowFrame> frames = reported_stack(*t);
    write_stack(out.initStack(frames.size()), frames);
    out.setOpcode(codes_.get(code)->opcode_at(offset));
    writer_.enqueue(Record{Table::kExceptions, key_bytes(schema::seq_key(seq)), message_bytes(message)});
}

void Session::write_meta() {
    auto version = schema::format_value(schema::kFormatVersion);
    writer_.enqueue(Record{Table::kMeta, std::string(schema::kFormatKey),
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
    meta.setSpyrecVersion("0.1.0");
    meta.setPid(getpid());
    writer_.enqueue(Record{Table::kMeta, std::string(schema::kMetaKey), message_bytes(message)});
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
    writer_.enqueue(Record{Table::kWatches, key_bytes(schema::watch_key(w.id())), message_bytes(message)});
    if (!at_end && w.exists()) write_keyframe(w, 0);
}

void Session::register_callbacks() {
    PyObject* monitoring = PySys_GetObject("monitoring");   // borrowed
    if (!monitoring) throw std::runtime_error("this Python has no sys.monitoring (spyrec needs 3.12 or newer)");
    // Tool ids 0 and 1 are the debugger's and coverage's by convention.
    for (int id = 2; id <= 5 && tool_id_ < 0; ++id) {
        PyObject* holder = PyObject_CallMethod(monitoring, "get_tool", "i", id);
        if (holder == Py_None) {
            PyObject* ok = PyObject_CallMethod(monitoring, "use_tool_id", "is", id, "spyrec");
            if (ok) tool_id_ = id;
            Py_XDECREF(ok);
        }
        Py_XDECREF(holder);
        PyErr_Clear();
    }
    if (tool_id_ < 0) {
        throw std::runtime_error("no free sys.monitoring tool id (2-5 are all taken by other tools)");
    }
    disable_ = PyObject_GetAttrString(monitoring, "DISABLE");
    PyObject* events = PyObject_GetAttrString(monitoring, "events");
    if (!disable_ || !events) {
        Py_XDECREF(events);
        throw std::runtime_error("sys.monitoring is missing DISABLE or events");
    }
    long mask = 0;
    for (const auto& cb : monitoring_callbacks()) {
        if (std::string_view(cb.event_name) == "LINE" && options_.trail <= 0) continue;
        PyObject* bit = PyObject_GetAttrString(events, cb.event_name);
        long value = bit ? PyLong_AsLong(bit) : 0;
        Py_XDECREF(bit);
        PyObject* r = PyObject_CallMethod(monitoring, "register_callback", "ilO", tool_id_, value, cb.function);
        if (!r) {
            Py_DECREF(events);
            throw std::runtime_error(std::string("cannot register the ") + cb.event_name + " callback");
        }
        Py_DECREF(r);
        mask |= value;
    }
    Py_DECREF(events);
    PyObject* r = PyObject_CallMethod(monitoring, "set_events", "il", tool_id_, mask);
    if (!r) throw std::runtime_error("cannot enable sys.monitoring events");
    Py_DECREF(r);
}

void Session::unregister_callbacks() {
    SavedError saved;
    PyObject* monitoring = PySys_GetObject("monitoring");
    if (!monitoring || tool_id_ < 0) return;
    PyObject* r = PyObject_CallMethod(monitoring, "set_events", "ii", tool_id_, 0);
    Py_XDECREF(r);
    PyObject* events = PyObject_GetAttrString(monitoring, "events");
    for (const auto& cb : monitoring_callbacks()) {
        PyObject* bit = events ? PyObject_GetAttrString(events, cb.event_name) : nullptr;
        if (bit) {
            r = PyObject_CallMethod(monitoring, "register_callback", "iOO", tool_id_, bit, Py_None);
            Py_XDECREF(r);
        }
        Py_XDECREF(bit);
    }
    Py_XDECREF(events);
    r = PyObject_CallMethod(monitoring, "free_tool_id", "i", tool_id_);
    Py_XDECREF(r);
    tool_id_ = -1;
}

}  // namespace spyrec::recorder
