// A recording session: the watches, the per-thread shadow stacks, the writer.
// One session is active per process at a time (sys.monitoring is per
// interpreter); `Session::active()` is what the callbacks consult.
//
// The hot half (check_watches, thread_state) is inline here because every
// enabled monitoring event runs it. What it must never do: allocate, create
// Python objects, call Python, touch LMDB, or take a lock. Everything else
// (a change, an exception, a new thread, a desynchronised stack) goes to the
// cold half in session.cpp.
#pragma once
#include <Python.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "call_guards.h"
#include "clean_calls.h"
#include "code_info.h"
#include "operand_effects.h"
#include "stack_depth.h"
#include "spyrec.capnp.h"
#include "dict_registry.h"
#include "frame_teardown.h"
#include "live_change.h"
#include "py_ref.h"
#include "python_version.h"
#include "snapshot.h"
#include "thread_state.h"
#include "watch.h"
#include "writer.h"

namespace spyrec::recorder {

struct WatchSpec {
    std::string expr;
    std::string root_module;
    std::vector<WatchStep> steps;  // keys are owned; ownership moves to the Watch
};

struct SessionOptions {
    std::string out_dir;
    std::vector<std::string> argv;
    uint64_t max_size = 0;
    std::vector<std::string> hidden_prefixes;  // code whose frames are left out of stacks
    LiveHook on_change;                        // --print/--break: called at each change
    int trail = 0;                             // lines kept per thread (LINE events); 0: off
    SnapshotLimits limits;
    std::vector<std::string> redact_patterns;  // names whose values are stored as fingerprints
    int64_t parent_pid = 0;                    // a followed child process: its parent's pid
};

class Session;

// The C callback CPython's dict watcher calls (session_dicts.cpp).
int on_dict_watcher_event(PyDict_WatchEvent event, PyObject* dict, PyObject* key, PyObject* new_value);
// The guards' dict watcher (session_guards.cpp).
int on_guard_watcher_event(PyDict_WatchEvent event, PyObject* dict, PyObject* key, PyObject* new_value);

// What a watch left to say when recording ended (`query watches`, run's warnings).
struct WatchNotes {
    std::string expr;
    bool ever_resolved = false;
    std::string unresolved_reason;
    OpaqueNotes opaque;  // type name -> what is tracked of it
};

// Marks the calling thread as inside spyrec's cold half for its lifetime.
struct ColdSection {
    explicit ColdSection(Session& s);
    ~ColdSection();
    Session& session;
    bool was_busy;
};

class Session {
public:
    explicit Session(SessionOptions options, std::vector<WatchSpec> watches);
    ~Session();

    static Session* active() { return active_; }

    void start();  // cold: writes meta and initial values, registers the callbacks
    void stop(const std::string& how, int exit_status, int signal, const std::string& message);
    void flush() { writer_.flush(); }
    // Cold: a point in the event order where the program says what it is doing
    // (a test's phase; schema Mark). Changes made before it are seen first.
    void mark(const std::string& test, schema::Mark::Phase phase);
    // What a reader calls `filename` (`In [3]` for a notebook cell).
    void label_file(const std::string& filename, const std::string& label);
    void abandon_after_fork();
    int tool_id() const { return tool_id_; }
    uint64_t changes() const { return changes_; }
    // Filled by stop().
    const std::vector<WatchNotes>& final_notes() const { return final_notes_; }

    // ---- hot path ----------------------------------------------------------
    CodeInfo* code_info(PyObject* code) { return codes_.get(code); }
    // True while this thread runs spyrec's own cold half (which may run Python:
    // linecache, the on_change hook): its events and dict mutations are not
    // the program's.
    bool busy() const { return tls_.busy; }
    PyObject* disable() const { return disable_.get(); }

    // Live mode (--print, --break: a hook runs at each change): every
    // instruction keeps its event, so a change is reported at the very next
    // instruction, with the frame right after it, even when the instructions
    // between it and the next mutating one would otherwise be disabled.
    bool live() const { return static_cast<bool>(options_.on_change); }
    // SPYREC_BENCH_FLOOR=1 (benchmarks only): callbacks decide DISABLE and
    // return, recording nothing; the cost of dispatch alone (callbacks.cpp).
    bool floor() const { return floor_; }
    // A SystemExit raised by the live hook (`q` at the pdb prompt), waiting to
    // be raised into the program by the next monitoring callback.
    bool exit_pending() const { return static_cast<bool>(pending_exit_); }
    PyObject* raise_pending_exit() {
        PyErr_SetRaisedException(pending_exit_.release());
        return nullptr;
    }

    // The calling thread's state, created (cold) on its first event.
    ThreadState* thread_state(bool* fresh) {
        if (ThreadState* known = known_thread_state()) {
            *fresh = false;
            return known;
        }
        *fresh = true;
        return new_thread_state();
    }
    // The calling thread's state if it has one in this session, else nullptr.
    ThreadState* known_thread_state() const {
        const ThreadSlot& slot = tls_;
        return slot.generation == generation_ ? slot.state : nullptr;
    }

    // Called before the event's own bookkeeping: anything that changed since
    // the previous check was done by the current culprit (see culprit_thread).
    // Skipped when that culprit cannot have changed anything (`dirty` clear:
    // a clean call, or a frame that has run nothing yet), unless `force`.
    void check_watches(ThreadState* current, bool force = false) {
        // The common case, inline in every callback: the same thread, clean.
        if (__builtin_expect(!force && last_thread_ == current && !current->dirty, 1)) return;
        check_watches_now(current, force);
    }
    __attribute__((noinline)) void check_watches_now(ThreadState* current, bool force) {
        ThreadState* culprit = current;
        bool needed = force || current->dirty;
        if (last_thread_ != current) {
            // The first event after a thread switch. A change seen now was made
            // by the thread that ran last, after its last event: a GIL switch
            // happens only at an eval-breaker point, right after the instruction
            // (typically a CALL) that made the change. See docs/exactness.md.
            // This thread's own flag is stale: its last instruction's changes
            // were seen when it was switched out.
            if (last_thread_) {
                culprit = last_thread_;
                needed = force || last_thread_->dirty;
            } else {
                needed = true;
            }
            last_thread_ = current;
        }
        if (!needed) return;
        PyObject* target = force ? nullptr : culprit->dirty_target;
        // Another thread is in the cold half (Python code there can let the GIL
        // go): leave the watches to it; this thread's changes are seen at its
        // next check.
        if (recording_cut_ || cold_threads_) return;
        uint64_t epoch = dicts_.epoch();
        if (!target) {
            // The common case: nothing changed. One pass over the flat table.
            if (probe_table_stale_) rebuild_probe_table();
            if (epoch == probe_table_epoch_ && !probe_table_.differs()) return;
        }
        for (int pass = 0;; ++pass) {
            bool freed = false;
            for (auto& w : watches_) {
                if (w->probes_fired(target)) freed = on_probe_fired(*w, *culprit) || freed;
            }
            // Freeing what a picture dropped ran code where no event fires (a
            // finalizer, a C weakref callback), within the culprit's
            // instruction as far as the program knows: compare every watch again.
            if (!freed || pass == kFreeingPasses) break;
            target = nullptr;
        }
        // Every watch has compared the dicts written before `epoch`
        // (probes_fired, or update() when a probe fired).
        dicts_.settle(epoch);
        if (!target) probe_table_epoch_ = epoch;
        if (!dict_culprits_.empty()) forget_dict_culprits();
    }

    // Keeps the shadow stack's top in step with the instruction about to run.
    void note_instruction(ThreadState* t, PyObject* code, int offset, bool dirty, PyObject* target = nullptr) {
        t->dirty = dirty;
        t->dirty_target = target;
        ShadowFrame* top = t->top();
        if (!top || top->code != code) {
            resync(t);
            top = t->top();
            if (!top) return;
        }
        top->offset = offset;
    }

    // INSTRUCTION event of an instruction that may mutate: what it can
    // change, from its operands on the frame's value stack (operand_effects.h).
    CallEffect instruction_effect(CodeInfo* info, PyObject* code, int offset) {
        OperandRule rule = operand_effects_.rule(info->opcode_at(offset));
        if (rule == OperandRule::kNone || !operands_readable_) return {CallEffect::kUnknown};
        if (!info->depths_ready) compute_depths(*info, code);
        int depth = info->depth_at(offset);
        if (depth < OperandEffects::operands(rule)) return {CallEffect::kUnknown};
        PyObject** stack = operand_stack(code);
        if (!stack) return {CallEffect::kUnknown};
        return operand_effects_.effect(rule, info->oparg_at(offset), stack + depth, watched_);
    }

    // CALL event: what the call about to run can change by itself (clean_calls.h).
    CallEffect call_effect(PyObject* callable, PyObject* arg0) const {
        return clean_calls_.effect(callable, arg0, watched_);
    }

    // CALL event: whether this CALL's event can be disabled for good, under a
    // guard (call_guards.h). The common refusals are decided here, inline.
    bool guard_call(PyObject* code, int offset, PyObject* callable) {
        // The callee first: most CALL events end here, with no code lookup.
        if (!guards_.is_open() || !stable_callee(callable)) return false;
        CodeInfo* info = codes_.get(code);
        if (info->mixed_globals) return false;
        size_t unit = static_cast<size_t>(offset) / 2;
        if (info->callees_ready && (unit >= info->global_callees.size() || info->global_callees[unit] < 0)) {
            return false;
        }
        return guard_call_cold(info, code, offset, callable);
    }
    // INSTRUCTION event of a FOR_ITER: whether its event can be disabled for
    // good, its iterator being a range's or a constant's, and always so
    // (call_guards.h, "Loops"). The common refusal is decided here, inline.
    bool guard_loop(CodeInfo* info, PyObject* code, int offset) {
        if (!guards_.is_open() || !callee_scan_.is_for_iter(info->opcode_at(offset))) return false;
        size_t unit = static_cast<size_t>(offset) / 2;
        if (info->callees_ready && (unit >= info->loop_sources.size() || info->loop_sources[unit] == kLoopUnknown ||
                                    info->loop_sources[unit] == kLoopRefused)) {
            return false;
        }
        return guard_loop_cold(info, code, offset);
    }
    // A callee whose CALL needs no event: a Python function (CPython's own
    // call path, so its frame raises PY_START) or an allow-listed builtin.
    bool stable_callee(PyObject* callable) const {
        if (Py_IS_TYPE(callable, &PyFunction_Type)) {
            return reinterpret_cast<PyFunctionObject*>(callable)->vectorcall == function_vectorcall_;
        }
        return clean_calls_.always_clean(callable);
    }
    // Frame entry (PY_START, PY_RESUME, PY_THROW), after the check:
    // - when the caller is at a CALL whose event is disabled, that CALL
    //   becomes its instruction, as its event would have made it (the stack
    //   of a raise in the callee names the call's line). Its dirty state is
    //   left alone: this frame may be a __del__ run while a callee's frame is
    //   torn down, after which the caller must still compare;
    // - code with guarded CALLs must run with the globals and builtins they
    //   were decided for; otherwise every event comes back.
    // One read of CPython's innermost frame serves both.
    void guarded_entry(ThreadState* t, CodeInfo* info, bool fresh) {
        uint64_t epoch = guards_.epoch();
        // A pure callee is never pushed: its caller stays on top, the culprit
        // of whatever the callee leads to, so it takes its CALL's offset now.
        // A pushed callee's caller takes it when the callee leaves
        // (pop_frame), and a reported stack refreshes callers meanwhile.
        ShadowFrame* top = fresh || !info->pure ? nullptr : t->top();
        CodeInfo* caller = top ? (top->info ? top->info : codes_.get(top->code)) : nullptr;
        bool own = info->guard_epoch == epoch;
        bool caller_guarded = caller && caller->guard_epoch == epoch;
        if (!own && !caller_guarded) return;
        auto* frame = reinterpret_cast<FrameLayout*>(innermost_frame());
        if (caller_guarded && frame) take_call_offset(*top, caller, frame);
        if (own) check_entry_globals(info, frame);
    }
    // The caller of `callee_frame` made a CALL that raised no event (rule 8):
    // its shadow offset is its previous event's. Take it from CPython.
    void take_call_offset(ShadowFrame& caller_top, CodeInfo* caller, FrameLayout* callee_frame) {
        int offset = offset_in_frames_from(static_cast<FrameLayout*>(callee_frame->previous), caller_top.code);
        if (offset >= 0) offset = caller->instruction_start(offset);
        if (offset >= 0 && caller->call_disabled_at(offset)) caller_top.offset = offset;
    }
    // The globals half alone (the benchmark floor keeps no shadow stack).
    void check_entry_globals(CodeInfo* info, FrameLayout* frame) {
        if (frame && frame->globals == info->guard_globals && frame->builtins == info->guard_builtins) return;
        refuse_guards(info);
    }
    bool guarded_code(CodeInfo* info) const { return info->guard_epoch == guards_.epoch(); }
    bool guards_open() const { return guards_.is_open(); }

    // LINE event: remember the line in the thread's trail. One reference swap,
    // no allocation (the ring is sized once per thread).
    void note_line(ThreadState* t, PyObject* code, int line) {
        if (t->trail.empty()) return;
        auto& slot = t->trail[t->trail_next];
        PyObject* old = slot.first;
        slot.first = Py_NewRef(code);
        slot.second = line;
        t->trail_next = (t->trail_next + 1) % t->trail.size();
        Py_XDECREF(old);  // a code object dying here runs no Python code
    }
    int trail_length() const { return options_.trail; }

    void push_frame(ThreadState* t, PyObject* code, CodeInfo* info) {
        t->stack.push_back(ShadowFrame{code, -1, t->dirty, t->dirty_target, info});
        t->dirty = false;
        t->dirty_target = nullptr;
    }

    // `yielded`: PY_YIELD, the frame lives on; else it returns or unwinds.
    // `quiet`: a return after which nothing runs before the caller's next
    // instruction (returns_quietly, frame_teardown.h).
    void pop_frame(ThreadState* t, PyObject* code, bool yielded, bool quiet = false) {
        ShadowFrame* top = t->top();
        if (!top || top->code != code) {
            resync(t);
            top = t->top();
        }
        // Back in the caller, whose current instruction runs on: C code that
        // called us (sorted(key=)), and after a return, the teardown of the
        // callee's frame (a local's weakref callback, a C __del__), none of
        // which raises an event. A yield tears nothing down: the caller's
        // instruction is as clean as it was when it resumed this frame
        // (FOR_ITER or next() on a generator). A quiet return leaves its
        // caller's CALL done, everything it led to checked already.
        bool dirty = !quiet;
        PyObject* target = nullptr;
        if (top && top->code == code) {
            if (yielded) {
                dirty = top->caller_dirty;
                target = top->caller_target;
            }
            t->pop();
            // The next check blames the caller: its CALL, if that raised no event.
            if (dirty && !yielded) caller_takes_call_offset(t);
        }
        t->dirty = dirty;
        t->dirty_target = target;
    }
    void caller_takes_call_offset(ThreadState* t) {
        ShadowFrame* caller_top = t->top();
        if (!caller_top) return;
        CodeInfo* caller = caller_top->info ? caller_top->info : codes_.get(caller_top->code);
        if (!caller->ever_guarded()) return;
        // The leaving frame is still CPython's innermost at PY_RETURN and PY_UNWIND.
        if (auto* frame = reinterpret_cast<FrameLayout*>(innermost_frame()))
            take_call_offset(*caller_top, caller, frame);
    }

    // Whether this PY_RETURN is quiet (returns_quietly). Only ever a saving:
    // a return taken as not quiet makes the next event compare, which finds
    // anything its teardown did. So code whose returns keep failing the test
    // (a method that drops a temporary) is tested once in kLoudRetest
    // returns, not every time.
    bool quiet_return(CodeInfo* info, PyObject* code) const {
        if (!operands_readable_) return false;
        if (info->loud_returns >= kLoudStreak && ++info->untested_returns % kLoudRetest != 0) return false;
        bool quiet = returns_quietly(code);
        info->loud_returns = quiet ? 0 : static_cast<uint8_t>(std::min(info->loud_returns + 1, 255));
        return quiet;
    }
    static constexpr uint8_t kLoudStreak = 8;
    static constexpr uint8_t kLoudRetest = 64;

    // ---- cold path ---------------------------------------------------------
    // The dict watcher: `dict` is about to change, in this thread, made by the
    // innermost frame's current instruction.
    int on_dict_event(PyDict_WatchEvent event, PyObject* dict, PyObject* key, PyObject* new_value);
    // The guards' dict watcher: a name a disabled CALL relies on may have changed.
    int on_guard_event(PyDict_WatchEvent event, PyObject* dict, PyObject* key, PyObject* new_value);
    void record_exception(ThreadState* t, PyObject* code, int offset, PyObject* exc, bool reraised);
    void resync(ThreadState* t);
    std::vector<ShadowFrame> python_frames();
    // This thread's frames, innermost first, replacing its contents.
    void python_frames_into(std::vector<ShadowFrame>& frames);
    void other_thread_frames_into(std::vector<ShadowFrame>& frames, unsigned long thread_ident);
    void frame_objects_into(std::vector<ShadowFrame>& frames, PyFrameObject* frame);
    void refresh_callers(ThreadState& t);
    bool has_guarded_caller(const ThreadState& t);

private:
    // A dict mutation seen by the dict watcher, with its exact culprit, waiting
    // for the next check to compare the watches that depend on that dict.
    struct DictCulprit {
        ThreadState* thread;
        PyRef code;
        int offset;
        PyObject* dict;  // borrowed, compared only
        PyObject* key;   // borrowed, compared only
        // When the mutating frame raises no frame events (it is not on the
        // shadow stack), the shadow's top frame and the instruction it was
        // running then (a STORE_ATTR whose property setter mutates).
        PyObject* caller_code = nullptr;  // borrowed, compared only
        int caller_offset = -1;           // CPython's lasti: may point into an inline cache
    };
    void forget_dict_culprits();
    const DictCulprit* dict_culprit_for(const Watch& w) const;

    ThreadState* new_thread_state();
    void rebuild_probe_table();
    void compute_depths(CodeInfo& info, PyObject* code);
    // session_guards.cpp
    bool open_guards();
    bool guard_call_cold(CodeInfo* info, PyObject* code, int offset, PyObject* callable);
    bool guard_loop_cold(CodeInfo* info, PyObject* code, int offset);
    void scan_callees(CodeInfo* info, PyObject* code);
    enum class GuardVerdict : uint8_t { kGuarded, kRefused, kRefusedForCode };
    // `name` as `code`'s frame looks it up (globals, then builtins) must give
    // `wanted` now; then it is watched so that it keeps giving it (pinned) or
    // another stable callee while this epoch's guards hold. No other frame
    // of `code` may be at an offset in [busy_from, busy_to): one that took
    // the name's old value before the decision and acts on it after.
    GuardVerdict guard_global(CodeInfo* info, PyObject* code, PyObject* name, PyObject* wanted, bool pinned,
                              int busy_from, int busy_to);
    bool code_running_between(PyObject* code, const FrameLayout* self, int from, int to);
    bool frames_agree(PyObject* code, PyObject* globals, PyObject* builtins);
    void refuse_guards(CodeInfo* info);
    void restart_events();
    // Returns whether updating the watch freed objects whose freeing can run code.
    bool on_probe_fired(Watch& w, ThreadState& culprit);
    static constexpr int kFreeingPasses = 8;
    void record_change(Watch& w, Watch::Outcome outcome, Delta& delta, ThreadState& culprit,
                       const kj::Array<capnp::word>& before);
    Attachment keyframe_record(Watch& w, uint64_t seq);  // the value after `seq`, to commit with it
    std::vector<ShadowFrame> reported_stack(ThreadState& t, const DictCulprit* exact = nullptr,
                                            bool exact_callers = false);
    void write_stack(capnp::List<schema::Frame>::Builder out, const std::vector<ShadowFrame>& frames);
    uint64_t ensure_code(PyObject* code);
    std::string code_record(PyObject* code);
    void store_source(PyObject* filename);
    std::string thread_name(unsigned long ident);
    std::string running_task_name();
    void write_meta();
    void write_watch(Watch& w, bool at_end = false);
    void register_callbacks();
    void unregister_callbacks();
    void call_on_change(const Watch& w, std::string change, const std::vector<PyObject*>& trail_codes,
                        const ThreadState& culprit, const std::vector<ShadowFrame>& frames,
                        const kj::Array<capnp::word>& before);

    static Session* active_;
    // This thread's recorder state, in one thread-local block. initial-exec:
    // read from the thread pointer, not through a __tls_get_addr call
    // (spyrec's few TLS words fit glibc's static TLS reserve for dlopen);
    // one block: one offset to load for all three. constinit: other files
    // know no dynamic initialization can be pending, so no TLS-init-wrapper
    // check precedes each read (~16 instructions per callback).
    struct ThreadSlot {
        uint64_t generation = 0;       // the session generation `state` belongs to
        ThreadState* state = nullptr;  // owned by that session's threads_
        bool busy = false;             // inside a ColdSection: events are the recorder's own
    };
    static constinit thread_local ThreadSlot tls_ __attribute__((tls_model("initial-exec")));
    friend struct ColdSection;

    SessionOptions options_;
    Redactor redactor_;  // options_.limits points at it
    OpcodeTable opcodes_;
    CodeInfoTable codes_;
    DictRegistry dicts_;
    WatchedContainers watched_;
    CleanCalls clean_calls_;
    BytecodeFlow flow_;
    OperandEffects operand_effects_;
    bool operands_readable_ = false;        // FrameLayout matched this interpreter at start
    std::vector<ShadowFrame> live_frames_;  // refresh_callers' scratch, kept for its capacity
    std::string change_bytes_;              // a change record's bytes (record_change), likewise
    CallGuards guards_;                     // open while recording, unless live or unreadable frames
    CalleeScanTable callee_scan_;
    vectorcallfunc function_vectorcall_ = nullptr;  // CPython's own, for a plain Python function
    std::vector<DictCulprit> dict_culprits_;
    // Every watch's list, set and sequence probes in one table (probe_table.h);
    // stale after any update of a watch, rebuilt at the next untargeted check.
    ProbeTable probe_table_;
    bool probe_table_stale_ = true;
    uint64_t probe_table_epoch_ = ~uint64_t{0};  // dict epoch when the watches last settled
    int cold_threads_ = 0;  // threads inside the cold half (0 or 1 under the GIL, but it can switch)
    Writer writer_;
    std::vector<std::unique_ptr<Watch>> watches_;
    std::vector<std::unique_ptr<ThreadState>> threads_;
    ThreadState* last_thread_ = nullptr;
    uint64_t generation_;
    uint64_t seq_ = 0;
    uint64_t next_code_id_ = 1;
    uint64_t changes_ = 0;
    uint64_t exceptions_ = 0;
    // Raises per instruction (code address, offset), for kFullStackRaises.
    std::unordered_map<uintptr_t, uint32_t> raises_at_;
    static constexpr uint32_t kFullStackRaises = 16;
    bool recording_cut_ = false;
    bool stopped_ = false;
    int tool_id_ = -1;
    bool floor_ = false;  // see floor()
    PyRef disable_;       // sys.monitoring.DISABLE
    PyRef missing_;       // sys.monitoring.MISSING
    PyRef pending_exit_;  // see exit_pending()
    std::unordered_set<std::string> stored_sources_;
    std::vector<WatchNotes> final_notes_;
    std::unordered_set<uint32_t> resolved_at_start_;
    double start_time_ = 0;
};

}  // namespace spyrec::recorder
