#include "queries.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <unordered_map>

#include "decode.h"
#include "diff.h"
#include "keys.h"

namespace spyrec::replayer {
namespace {

std::string_view key_view(const auto& key) {
    return {reinterpret_cast<const char*>(key.data()), key.size()};
}

MDB_val to_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }

// Everything one query needs, alive for one read transaction: the
// transaction itself and caches of the Code and source records it resolves.
class Session {
public:
    explicit Session(const Recording& rec) : rec_(rec), txn_(rec.env()) {}

    const Recording& rec() const { return rec_; }
    const ReadTxn& txn() const { return txn_; }

    [[noreturn]] void damaged(const std::string& why) const {
        throw RecordingError("damaged recording: " + rec_.path() + ": " + why);
    }

    std::vector<Watch> all_watches() {
        std::vector<Watch> out;
        auto dbi = rec_.db(Db::Watches);
        if (!dbi) return out;
        Cursor cursor(txn_.get(), *dbi);
        MDB_val k{}, v{};
        for (bool ok = cursor.get(k, v, MDB_FIRST); ok; ok = cursor.get(k, v, MDB_NEXT)) {
            rec_.view(k, "a watches key");
            auto id = schema::decode_u32_key(k.mv_data, k.mv_size);
            if (!id) damaged("a watches key of " + std::to_string(k.mv_size) + " bytes");
            Watch w = decode_watch(rec_.view(v, "a watch"), "watch " + std::to_string(*id));
            if (w.id != *id) damaged("watch " + std::to_string(*id) + " records id " + std::to_string(w.id));
            out.push_back(std::move(w));
        }
        return out;
    }

    std::optional<Watch> find_watch(std::string_view expr) {
        for (Watch& w : all_watches()) {
            if (w.expr == expr) return std::move(w);
        }
        return std::nullopt;
    }

    const std::string& expr_of(uint32_t watch_id) {
        if (exprs_.empty()) {
            for (Watch& w : all_watches()) exprs_.emplace(w.id, w.expr);
        }
        auto it = exprs_.find(watch_id);
        if (it == exprs_.end()) damaged("a change of watch " + std::to_string(watch_id) + ", which has no record");
        return it->second;
    }

    // Decodes a changes entry, checking that the record agrees with its key.
    Change change_at(const MDB_val& k, const MDB_val& v) {
        rec_.view(k, "a changes key");
        auto key = schema::decode_change_key(k.mv_data, k.mv_size);
        if (!key) damaged("a changes key of " + std::to_string(k.mv_size) + " bytes");
        std::string where = "change " + std::to_string(key->watch_id) + "/" + std::to_string(key->seq);
        Change c = decode_change(rec_.view(v, where), where);
        if (c.watch_id != key->watch_id || c.seq != key->seq) damaged(where + " disagrees with its key");
        return c;
    }

    const Code* code(uint64_t id) {
        auto it = codes_.find(id);
        if (it == codes_.end()) {
            std::optional<Code> code;
            auto key = schema::code_key(id);
            if (auto bytes = rec_.get(txn_, Db::Code, key_view(key))) {
                code = decode_code(*bytes, "code " + std::to_string(id));
            }
            it = codes_.emplace(id, std::move(code)).first;
        }
        return it->second ? &*it->second : nullptr;
    }

    const std::optional<std::vector<std::string>>& source(const std::string& filename) {
        auto it = sources_.find(filename);
        if (it == sources_.end()) {
            std::optional<std::vector<std::string>> lines;
            if (auto text = rec_.get(txn_, Db::Sources, filename)) lines = split_lines(*text);
            it = sources_.emplace(filename, std::move(lines)).first;
        }
        return it->second;
    }

    std::string opname(uint8_t opcode) const {
        const auto& names = rec_.meta().opnames;
        if (opcode < names.size() && !names[opcode].empty()) return names[opcode];
        return "<opcode " + std::to_string(opcode) + ">";
    }

    // The culprit's opcode comes from the change (the recorder saw the base
    // opcode as it ran); other frames read theirs from the recorded bytecode.
    FrameReport resolve(const Frame& f, std::optional<uint8_t> culprit_opcode) {
        FrameReport r;
        r.code_id = f.code_id;
        r.line = f.line;
        r.offset = f.offset;
        const Code* c = code(f.code_id);
        if (c) {
            r.code_found = true;
            r.file = c->filename;
            r.function = c->qualname;
        } else {
            r.file = r.function = "<missing code " + std::to_string(f.code_id) + ">";
        }
        if (culprit_opcode) {
            r.opname = opname(*culprit_opcode);
        } else if (c && f.offset < c->bytecode.size()) {
            r.opname = opname(static_cast<uint8_t>(c->bytecode[f.offset]));
        }
        return r;
    }

    std::vector<FrameReport> resolve_stack(const std::vector<Frame>& frames, std::optional<uint8_t> culprit_opcode) {
        std::vector<FrameReport> out;
        out.reserve(frames.size());
        for (size_t i = 0; i < frames.size(); ++i) {
            out.push_back(resolve(frames[i], i == 0 ? culprit_opcode : std::nullopt));
        }
        return out;
    }

    ChangeReport report(Change change, std::string expr) {
        ChangeReport r;
        r.expr = std::move(expr);
        r.stack = resolve_stack(change.stack, change.opcode);
        r.trail = resolve_stack(change.recent_lines, std::nullopt);
        r.diff = diff(change.before, change.after);
        if (!r.stack.empty() && r.stack[0].code_found && r.stack[0].line > 0) {
            const auto& lines = source(r.stack[0].file);
            auto index = static_cast<size_t>(r.stack[0].line - 1);
            if (lines && index < lines->size()) r.source = (*lines)[index];
        }
        r.change = std::move(change);
        return r;
    }

    // The last change of `watch_id` with seq <= `seq`: one seek, and one step
    // back when the seek lands past it. Big-endian keys make this correct.
    std::optional<Change> last_at_or_before(uint32_t watch_id, uint64_t seq) {
        auto dbi = rec_.db(Db::Changes);
        if (!dbi) return std::nullopt;
        Cursor cursor(txn_.get(), *dbi);
        auto target = schema::change_key(watch_id, seq);
        MDB_val k = to_val(key_view(target)), v{};
        bool found = cursor.get(k, v, MDB_SET_RANGE);
        if (found) {
            rec_.view(k, "a changes key");
            bool exact = k.mv_size == target.size() && std::memcmp(k.mv_data, target.data(), target.size()) == 0;
            if (!exact) found = cursor.get(k, v, MDB_PREV);
        } else {
            found = cursor.get(k, v, MDB_LAST);
        }
        if (!found) return std::nullopt;
        auto key = schema::decode_change_key(k.mv_data, k.mv_size);
        if (!key) damaged("a changes key of " + std::to_string(k.mv_size) + " bytes");
        if (key->watch_id != watch_id) return std::nullopt;
        return change_at(k, v);
    }

private:
    const Recording& rec_;
    ReadTxn txn_;
    std::unordered_map<uint64_t, std::optional<Code>> codes_;
    std::map<std::string, std::optional<std::vector<std::string>>, std::less<>> sources_;
    std::unordered_map<uint32_t, std::string> exprs_;
};

}  // namespace

std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\n' && text[i] != '\r') continue;
        lines.emplace_back(text.substr(start, i - start));
        if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
        start = i + 1;
    }
    if (start < text.size()) lines.emplace_back(text.substr(start));
    return lines;
}

Info info(const Recording& rec) {
    Session s(rec);
    Info out;
    out.format_version = rec.format_version();
    out.meta = rec.meta();
    if (auto bytes = rec.get(s.txn(), Db::Meta, schema::kEndingKey)) {
        out.ending = decode_ending(*bytes, "the ending record");
    }
    out.changes = rec.count(s.txn(), Db::Changes);
    out.exceptions = rec.count(s.txn(), Db::Exceptions);
    out.watches = rec.count(s.txn(), Db::Watches);
    return out;
}

std::vector<WatchReport> watches(const Recording& rec) {
    Session s(rec);
    std::vector<WatchReport> out;
    std::unordered_map<uint32_t, uint64_t> counts;
    if (auto dbi = rec.db(Db::Changes)) {
        // Keys only: counting never decodes a change.
        Cursor cursor(s.txn().get(), *dbi);
        MDB_val k{}, v{};
        for (bool ok = cursor.get(k, v, MDB_FIRST); ok; ok = cursor.get(k, v, MDB_NEXT)) {
            auto key = schema::decode_change_key(k.mv_data, k.mv_size);
            if (!key) s.damaged("a changes key of " + std::to_string(k.mv_size) + " bytes");
            ++counts[key->watch_id];
        }
    }
    for (Watch& w : s.all_watches()) {
        uint64_t n = counts[w.id];
        out.push_back(WatchReport{std::move(w), n});
    }
    return out;
}

std::optional<ChangeReport> last_change(const Recording& rec, std::string_view expr) {
    Session s(rec);
    auto watch = s.find_watch(expr);
    if (!watch) return std::nullopt;
    auto change = s.last_at_or_before(watch->id, std::numeric_limits<uint64_t>::max());
    if (!change) return std::nullopt;
    return s.report(std::move(*change), watch->expr);
}

std::vector<ChangeReport> history(const Recording& rec, std::string_view expr) {
    Session s(rec);
    std::vector<ChangeReport> out;
    auto watch = s.find_watch(expr);
    auto dbi = rec.db(Db::Changes);
    if (!watch || !dbi) return out;
    Cursor cursor(s.txn().get(), *dbi);
    auto first = schema::change_key(watch->id, 0);
    MDB_val k = to_val(key_view(first)), v{};
    for (bool ok = cursor.get(k, v, MDB_SET_RANGE); ok; ok = cursor.get(k, v, MDB_NEXT)) {
        auto key = schema::decode_change_key(k.mv_data, k.mv_size);
        if (!key) s.damaged("a changes key of " + std::to_string(k.mv_size) + " bytes");
        if (key->watch_id != watch->id) break;
        out.push_back(s.report(s.change_at(k, v), watch->expr));
    }
    return out;
}

std::vector<ChangeReport> changes(const Recording& rec) {
    Session s(rec);
    std::vector<ChangeReport> out;
    auto dbi = rec.db(Db::Changes);
    if (!dbi) return out;
    Cursor cursor(s.txn().get(), *dbi);
    MDB_val k{}, v{};
    for (bool ok = cursor.get(k, v, MDB_FIRST); ok; ok = cursor.get(k, v, MDB_NEXT)) {
        Change c = s.change_at(k, v);
        std::string expr = s.expr_of(c.watch_id);
        out.push_back(s.report(std::move(c), std::move(expr)));
    }
    // Keys order by (watch, seq); the recording's global order is by seq.
    std::stable_sort(out.begin(), out.end(),
                     [](const ChangeReport& a, const ChangeReport& b) { return a.change.seq < b.change.seq; });
    return out;
}

ValueAt value_at(const Recording& rec, std::string_view expr, uint64_t seq) {
    Session s(rec);
    ValueAt out;
    auto watch = s.find_watch(expr);
    if (!watch) return out;
    out.state = ValueAt::State::Absent;
    if (auto change = s.last_at_or_before(watch->id, seq)) {
        if (change->after) {
            out.state = ValueAt::State::Present;
            out.value = std::move(*change->after);
        }
        return out;
    }
    if (watch->resolved_at_start && watch->initial) {
        out.state = ValueAt::State::Present;
        out.value = std::move(*watch->initial);
    }
    return out;
}

std::vector<ExceptionReport> exceptions(const Recording& rec) {
    Session s(rec);
    std::vector<ExceptionReport> out;
    auto dbi = rec.db(Db::Exceptions);
    if (!dbi) return out;
    Cursor cursor(s.txn().get(), *dbi);
    MDB_val k{}, v{};
    for (bool ok = cursor.get(k, v, MDB_FIRST); ok; ok = cursor.get(k, v, MDB_NEXT)) {
        rec.view(k, "an exceptions key");
        auto seq = schema::decode_u64_key(k.mv_data, k.mv_size);
        if (!seq) s.damaged("an exceptions key of " + std::to_string(k.mv_size) + " bytes");
        std::string where = "exception " + std::to_string(*seq);
        RaisedException e = decode_exception(rec.view(v, where), where);
        if (e.seq != *seq) s.damaged(where + " disagrees with its key");
        ExceptionReport r;
        r.stack = s.resolve_stack(e.stack, e.opcode);
        r.exception = std::move(e);
        out.push_back(std::move(r));
    }
    return out;
}

std::optional<std::vector<std::string>> source_lines(const Recording& rec, std::string_view filename) {
    Session s(rec);
    return s.source(std::string(filename));
}

}  // namespace spyrec::replayer
