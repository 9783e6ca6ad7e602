#include "decode.h"

#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>
#include <string>

#include "recording_error.h"
#include "spyrec.capnp.h"

namespace spyrec::replayer {
namespace {

namespace s = spyrec::schema;

[[noreturn]] void damaged(std::string_view where, std::string_view why) {
    throw RecordingError("damaged recording: " + std::string(where) + ": " + std::string(why));
}

// Every legitimate Value occupies at least one word of the message, so a
// message can never hold more Values than it has words. Counting against that
// budget stops "amplification" (a list of zero-size structs declaring millions
// of elements) from turning a few bytes into gigabytes of Value nodes.
struct Budget {
    uint64_t nodes_left;
    void take(uint64_t n, std::string_view where) {
        if (n > nodes_left) damaged(where, "a value declares more items than the record holds");
        nodes_left -= n;
    }
};

std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

Value convert(s::Value::Reader in, Budget& budget, std::string_view where);

void convert_items(capnp::List<s::Value>::Reader in, std::vector<Value>& out, Budget& budget, std::string_view where) {
    budget.take(in.size(), where);
    out.reserve(in.size());
    for (auto item : in) out.push_back(convert(item, budget, where));
}

void convert_entries(capnp::List<s::Entry>::Reader in, std::vector<Entry>& out, Budget& budget,
                     std::string_view where) {
    budget.take(uint64_t{2} * in.size(), where);
    out.reserve(in.size());
    for (auto entry : in) {
        Entry e;
        e.key = convert(entry.getKey(), budget, where);
        e.value = convert(entry.getValue(), budget, where);
        out.push_back(std::move(e));
    }
}

// Recursion depth is bounded by Cap'n Proto's nesting limit: a deeper message
// throws inside the reader before we recurse further.
Value convert(s::Value::Reader in, Budget& budget, std::string_view where) {
    Value v;
    v.truncated = in.getTruncated();
    if (in.hasTypeName()) v.subclass = text(in.getTypeName());
    switch (in.which()) {
        case s::Value::NONE: v.kind = Value::Kind::None; break;
        case s::Value::BOOLEAN:
            v.kind = Value::Kind::Bool;
            v.boolean = in.getBoolean();
            break;
        case s::Value::INTEGER:
            v.kind = Value::Kind::Int;
            v.integer = in.getInteger();
            break;
        case s::Value::BIG_INTEGER:
            v.kind = Value::Kind::BigInt;
            v.text = text(in.getBigInteger());
            break;
        case s::Value::FLOAT:
            v.kind = Value::Kind::Float;
            v.real = in.getFloat();
            break;
        case s::Value::STR:
            v.kind = Value::Kind::Str;
            v.text = text(in.getStr());
            break;
        case s::Value::BYTES: {
            v.kind = Value::Kind::Bytes;
            auto d = in.getBytes();
            v.text.assign(reinterpret_cast<const char*>(d.begin()), d.size());
            break;
        }
        case s::Value::LIST:
            v.kind = Value::Kind::List;
            convert_items(in.getList(), v.items, budget, where);
            break;
        case s::Value::TUPLE:
            v.kind = Value::Kind::Tuple;
            convert_items(in.getTuple(), v.items, budget, where);
            break;
        case s::Value::SET:
            v.kind = Value::Kind::Set;
            convert_items(in.getSet(), v.items, budget, where);
            break;
        case s::Value::FROZENSET:
            v.kind = Value::Kind::FrozenSet;
            convert_items(in.getFrozenset(), v.items, budget, where);
            break;
        case s::Value::DICT:
            v.kind = Value::Kind::Dict;
            convert_entries(in.getDict(), v.entries, budget, where);
            break;
        case s::Value::OBJECT: {
            v.kind = Value::Kind::Object;
            auto obj = in.getObject();
            v.object_type = text(obj.getTypeName());
            convert_entries(obj.getAttributes(), v.entries, budget, where);
            break;
        }
        case s::Value::REPR:
            v.kind = Value::Kind::Repr;
            v.text = text(in.getRepr());
            break;
        case s::Value::CYCLE: v.kind = Value::Kind::Cycle; break;
        case s::Value::TOO_DEEP: v.kind = Value::Kind::TooDeep; break;
        case s::Value::REF: {
            v.kind = Value::Kind::Ref;
            auto ref = in.getRef();
            v.object_type = text(ref.getTypeName());
            v.ref_id = ref.getId();
            v.text = text(ref.getRepr());
            break;
        }
        case s::Value::REDACTED:
            v.kind = Value::Kind::Redacted;
            v.ref_id = in.getRedacted();
            break;
        default: damaged(where, "a value of unknown kind " + std::to_string(static_cast<int>(in.which())));
    }
    return v;
}

std::vector<Frame> convert_frames(capnp::List<s::Frame>::Reader in, Budget& budget, std::string_view where) {
    budget.take(in.size(), where);
    std::vector<Frame> out;
    out.reserve(in.size());
    for (auto f : in) out.push_back(Frame{f.getCodeId(), f.getOffset(), f.getLine()});
    return out;
}

std::vector<std::string> convert_texts(capnp::List<capnp::Text>::Reader in, Budget& budget, std::string_view where) {
    budget.take(in.size(), where);
    std::vector<std::string> out;
    out.reserve(in.size());
    for (auto t : in) out.push_back(text(t));
    return out;
}

std::vector<Op> convert_ops(capnp::List<s::Op>::Reader in, Budget& budget, std::string_view where) {
    budget.take(in.size(), where);
    std::vector<Op> out;
    out.reserve(in.size());
    for (auto op : in) {
        Op o;
        auto path = op.getPath();
        budget.take(path.size(), where);
        o.path.reserve(path.size());
        for (auto step : path) {
            PathStep p;
            switch (step.which()) {
                case s::PathStep::KEY: p.key = convert(step.getKey(), budget, where); break;
                case s::PathStep::INDEX:
                    p.is_index = true;
                    p.index = step.getIndex();
                    break;
                default: damaged(where, "a path step of unknown kind");
            }
            o.path.push_back(std::move(p));
        }
        switch (op.which()) {
            case s::Op::SET_ITEM: {
                o.kind = Op::Kind::SetItem;
                budget.take(2, where);
                auto e = op.getSetItem();
                o.entry.key = convert(e.getKey(), budget, where);
                o.entry.value = convert(e.getValue(), budget, where);
                break;
            }
            case s::Op::DELETE_ITEM:
                o.kind = Op::Kind::DeleteItem;
                o.value = convert(op.getDeleteItem(), budget, where);
                break;
            case s::Op::SPLICE: {
                o.kind = Op::Kind::Splice;
                auto sp = op.getSplice();
                o.start = sp.getStart();
                o.end = sp.getEnd();
                convert_items(sp.getNewItems(), o.items, budget, where);
                break;
            }
            case s::Op::ADD_ELEMENTS:
                o.kind = Op::Kind::AddElements;
                convert_items(op.getAddElements(), o.items, budget, where);
                break;
            case s::Op::REMOVE_ELEMENTS:
                o.kind = Op::Kind::RemoveElements;
                convert_items(op.getRemoveElements(), o.items, budget, where);
                break;
            case s::Op::REPLACE:
                o.kind = Op::Kind::Replace;
                o.value = convert(op.getReplace(), budget, where);
                break;
            default: damaged(where, "an op of unknown kind");
        }
        out.push_back(std::move(o));
    }
    return out;
}

// Copies the bytes into word-aligned memory (LMDB values carry no alignment
// promise), opens them with reader limits, and runs `fn` on the root; every
// Cap'n Proto failure, wherever it happens during the walk, is caught here.
template <typename T, typename Fn>
auto decode(std::string_view bytes, std::string_view where, Fn&& fn) {
    if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) {
        damaged(where, "a record of " + std::to_string(bytes.size()) + " bytes is not a whole message");
    }
    try {
        auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
        std::memcpy(words.begin(), bytes.data(), bytes.size());
        capnp::ReaderOptions options;
        options.traversalLimitInWords = kTraversalLimitWords;
        options.nestingLimit = kNestingLimit;
        capnp::FlatArrayMessageReader reader(words.asPtr(), options);
        Budget budget{words.size()};
        return fn(reader.getRoot<T>(), budget);
    } catch (const RecordingError&) {
        throw;
    } catch (const kj::Exception& e) {
        damaged(where, std::string(e.getDescription().cStr()));
    } catch (const std::bad_alloc&) {
        // Not the recording's fault: the bytes fit the budget, the machine ran
        // out (a huge but legitimate value, or a memory limit).
        throw RecordingError("out of memory reading " + std::string(where));
    } catch (const std::exception& e) {
        damaged(where, e.what());
    }
}

}  // namespace

Meta decode_meta(std::string_view bytes, std::string_view where) {
    return decode<s::Meta>(bytes, where, [&](s::Meta::Reader r, Budget& b) {
        Meta m;
        m.format_version = r.getFormatVersion();
        m.python_version = text(r.getPythonVersion());
        m.argv = convert_texts(r.getArgv(), b, where);
        m.cwd = text(r.getCwd());
        m.start_time = r.getStartTime();
        m.opnames = convert_texts(r.getOpnames(), b, where);
        m.spyrec_version = text(r.getSpyrecVersion());
        m.pid = r.getPid();
        for (auto p : r.getRedactPatterns()) m.redact_patterns.push_back(text(p));
        m.redaction_known = r.getRedactionKnown();
        m.parent_pid = r.getParentPid();
        return m;
    });
}

Ending decode_ending(std::string_view bytes, std::string_view where) {
    return decode<s::Ending>(bytes, where, [&](s::Ending::Reader r, Budget&) {
        Ending e;
        switch (r.getHow()) {
            case s::Ending::How::EXITED: e.how = Ending::How::Exited; break;
            case s::Ending::How::EXCEPTION: e.how = Ending::How::Exception; break;
            case s::Ending::How::SIGNAL: e.how = Ending::How::Signal; break;
            case s::Ending::How::STOPPED: e.how = Ending::How::Stopped; break;
            default: damaged(where, "an unknown ending kind");
        }
        e.exit_status = r.getExitStatus();
        e.signal = r.getSignal();
        e.end_time = r.getEndTime();
        e.message = text(r.getMessage());
        e.changes = r.getChanges();
        e.exceptions = r.getExceptions();
        e.cut_at_seq = r.getCutAtSeq();
        e.recording_cut = r.getRecordingCut();
        return e;
    });
}

Watch decode_watch(std::string_view bytes, std::string_view where) {
    return decode<s::Watch>(bytes, where, [&](s::Watch::Reader r, Budget& b) {
        Watch w;
        w.id = r.getId();
        w.expr = text(r.getExpr());
        w.resolved_at_start = r.getResolvedAtStart();
        w.start_seq = r.getStartSeq();
        w.ever_resolved = r.getEverResolved();
        w.unresolved_reason = text(r.getUnresolvedReason());
        auto opaque = r.getOpaque();
        b.take(opaque.size(), where);
        for (auto note : opaque) {
            w.opaque.push_back(OpaqueNote{text(note.getTypeName()), text(note.getTracked()), text(note.getWhere())});
        }
        w.follow_depth = r.getFollowDepth();
        return w;
    });
}

Value decode_value(std::string_view bytes, std::string_view where) {
    return decode<s::Value>(bytes, where, [&](s::Value::Reader r, Budget& b) {
        b.take(1, where);
        return convert(r, b, where);
    });
}

Change decode_change(std::string_view bytes, std::string_view where) {
    return decode<s::Change>(bytes, where, [&](s::Change::Reader r, Budget& b) {
        Change c;
        c.seq = r.getSeq();
        c.watch_id = r.getWatchId();
        c.thread_id = r.getThreadId();
        c.thread_name = text(r.getThreadName());
        c.task_name = text(r.getTaskName());
        switch (r.getKind()) {
            case s::Change::Kind::MODIFIED: c.kind = Change::Kind::Modified; break;
            case s::Change::Kind::APPEARED: c.kind = Change::Kind::Appeared; break;
            case s::Change::Kind::VANISHED: c.kind = Change::Kind::Vanished; break;
            case s::Change::Kind::REBOUND: c.kind = Change::Kind::Rebound; break;
            default: damaged(where, "an unknown change kind");
        }
        c.stack = convert_frames(r.getStack(), b, where);
        c.recent_lines = convert_frames(r.getRecentLines(), b, where);
        c.opcode = r.getOpcode();
        c.ops = convert_ops(r.getOps(), b, where);
        c.has_keyframe = r.getHasKeyframe();
        c.monotonic_ns = r.getMonotonicNs();
        // The shapes format 2 promises (docs/value-model.md); anything else
        // would make the value rebuilt from here on silently wrong.
        bool whole = c.kind == Change::Kind::Appeared || c.kind == Change::Kind::Rebound;
        if (whole && !c.has_keyframe)
            damaged(where, std::string("a ") + kind_name(c.kind) + " change without a keyframe");
        if (c.kind == Change::Kind::Vanished && (c.has_keyframe || !c.ops.empty())) {
            damaged(where, "a vanished change with a value after it");
        }
        return c;
    });
}

Code decode_code(std::string_view bytes, std::string_view where) {
    return decode<s::Code>(bytes, where, [&](s::Code::Reader r, Budget&) {
        Code c;
        c.filename = text(r.getFilename());
        c.qualname = text(r.getQualname());
        c.first_line = r.getFirstLine();
        auto bc = r.getBytecode();
        c.bytecode.assign(reinterpret_cast<const char*>(bc.begin()), bc.size());
        auto lines = r.getLines();  // Int32 elements: cannot claim more than their bytes
        c.lines.reserve(lines.size());
        for (int32_t line : lines) c.lines.push_back(line);
        return c;
    });
}

RaisedException decode_exception(std::string_view bytes, std::string_view where) {
    return decode<s::RaisedException>(bytes, where, [&](s::RaisedException::Reader r, Budget& b) {
        RaisedException e;
        e.seq = r.getSeq();
        e.thread_id = r.getThreadId();
        e.thread_name = text(r.getThreadName());
        e.type_name = text(r.getTypeName());
        e.message = text(r.getMessage());
        e.stack = convert_frames(r.getStack(), b, where);
        e.reraised = r.getReraised();
        e.opcode = r.getOpcode();
        e.monotonic_ns = r.getMonotonicNs();
        e.frames_left_out = r.getFramesLeftOut();
        return e;
    });
}

Mark decode_mark(std::string_view bytes, std::string_view where) {
    return decode<s::Mark>(bytes, where, [&](s::Mark::Reader r, Budget&) {
        Mark m;
        m.seq = r.getSeq();
        m.test = text(r.getTest());
        switch (r.getPhase()) {
            case s::Mark::Phase::SETUP: m.phase = Mark::Phase::Setup; break;
            case s::Mark::Phase::CALL: m.phase = Mark::Phase::Call; break;
            case s::Mark::Phase::TEARDOWN: m.phase = Mark::Phase::Teardown; break;
            default: m.phase = Mark::Phase::None; break;  // none, or a phase from a newer spyrec
        }
        return m;
    });
}

const char* kind_name(Change::Kind kind) {
    switch (kind) {
        case Change::Kind::Modified: return "modified";
        case Change::Kind::Appeared: return "appeared";
        case Change::Kind::Vanished: return "vanished";
        case Change::Kind::Rebound: return "rebound";
    }
    return "modified";
}

const char* phase_name(Mark::Phase phase) {
    switch (phase) {
        case Mark::Phase::None: return "none";
        case Mark::Phase::Setup: return "setup";
        case Mark::Phase::Call: return "call";
        case Mark::Phase::Teardown: return "teardown";
    }
    return "none";
}

const char* how_name(Ending::How how) {
    switch (how) {
        case Ending::How::Exited: return "exited";
        case Ending::How::Exception: return "exception";
        case Ending::How::Signal: return "signal";
        case Ending::How::Stopped: return "stopped";
    }
    return "exited";
}

}  // namespace spyrec::replayer
