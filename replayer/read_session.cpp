#include "read_session.h"

#include <cstring>

#include "decode.h"
#include "keys.h"

namespace spyrec::replayer {

std::string record_name(const char* what, uint32_t watch_id, uint64_t seq) {
    return std::string(what) + " " + std::to_string(watch_id) + "/" + std::to_string(seq);
}

void ReadSession::damaged(const std::string& why) const {
    throw RecordingError("damaged recording: " + rec_.path() + ": " + why);
}

std::vector<Watch> ReadSession::all_watches() {
    std::vector<Watch> out;
    auto dbi = rec_.db(Table::kWatches);
    if (!dbi) return out;
    LmdbCursor cursor(txn_.get(), *dbi);
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

std::optional<Watch> ReadSession::find_watch(std::string_view expr) {
    for (Watch& w : all_watches()) {
        if (w.expr == expr) return std::move(w);
    }
    return std::nullopt;
}

const std::string& ReadSession::expr_of(uint32_t watch_id) {
    if (exprs_.empty()) {
        for (Watch& w : all_watches()) exprs_.emplace(w.id, w.expr);
    }
    auto it = exprs_.find(watch_id);
    if (it == exprs_.end()) damaged("a change of watch " + std::to_string(watch_id) + ", which has no record");
    return it->second;
}

schema::DecodedChangeKey ReadSession::change_key_of(const MDB_val& k, const char* table) {
    rec_.view(k, table);
    auto key = schema::decode_change_key(k.mv_data, k.mv_size);
    if (!key) damaged(std::string("a ") + table + " key of " + std::to_string(k.mv_size) + " bytes");
    return *key;
}

Change ReadSession::change_at(const MDB_val& k, const MDB_val& v) {
    auto key = change_key_of(k, "changes");
    std::string where = record_name("change", key.watch_id, key.seq);
    Change c = decode_change(rec_.view(v, where), where);
    if (c.watch_id != key.watch_id || c.seq != key.seq) damaged(where + " disagrees with its key");
    return c;
}

std::optional<Value> ReadSession::keyframe(uint32_t watch_id, uint64_t seq) {
    auto key = schema::keyframe_key(watch_id, seq);
    auto bytes = rec_.get(txn_, Table::kKeyframes, key_view(key));
    if (!bytes) return std::nullopt;
    std::string where = record_name("keyframe", watch_id, seq);
    return decode_value(*bytes, where);
}

bool ReadSession::seek_at_or_before(Table which, uint32_t watch_id, uint64_t seq, MDB_val& k, MDB_val& v) {
    auto dbi = rec_.db(which);
    if (!dbi) return false;
    const char* table = which == Table::kKeyframes ? "keyframes" : "changes";
    LmdbCursor cursor(txn_.get(), *dbi);
    auto target = schema::change_key(watch_id, seq);
    k = to_val(key_view(target));
    bool found = cursor.get(k, v, MDB_SET_RANGE);
    if (found) {
        rec_.view(k, table);
        bool exact = k.mv_size == target.size() && std::memcmp(k.mv_data, target.data(), target.size()) == 0;
        if (!exact) found = cursor.get(k, v, MDB_PREV);
    } else {
        found = cursor.get(k, v, MDB_LAST);
    }
    return found && change_key_of(k, table).watch_id == watch_id;
}

std::optional<std::pair<uint64_t, Value>> ReadSession::keyframe_at_or_before(uint32_t watch_id, uint64_t seq) {
    MDB_val k{}, v{};
    if (!seek_at_or_before(Table::kKeyframes, watch_id, seq, k, v)) return std::nullopt;
    uint64_t at = change_key_of(k, "keyframes").seq;
    std::string where = record_name("keyframe", watch_id, at);
    return std::make_pair(at, decode_value(rec_.view(v, where), where));
}

std::optional<Change> ReadSession::change_at_or_before(uint32_t watch_id, uint64_t seq) {
    MDB_val k{}, v{};
    if (!seek_at_or_before(Table::kChanges, watch_id, seq, k, v)) return std::nullopt;
    return change_at(k, v);
}

const Code* ReadSession::code(uint64_t id) {
    auto it = codes_.find(id);
    if (it == codes_.end()) {
        std::optional<Code> code;
        auto key = schema::code_key(id);
        if (auto bytes = rec_.get(txn_, Table::kCode, key_view(key))) {
            code = decode_code(*bytes, "code " + std::to_string(id));
        }
        it = codes_.emplace(id, std::move(code)).first;
    }
    return it->second ? &*it->second : nullptr;
}

const std::optional<std::vector<std::string>>& ReadSession::source(const std::string& filename) {
    auto it = sources_.find(filename);
    if (it == sources_.end()) {
        std::optional<std::vector<std::string>> lines;
        if (auto text = rec_.get(txn_, Table::kSources, filename)) lines = split_lines(*text);
        it = sources_.emplace(filename, std::move(lines)).first;
    }
    return it->second;
}

std::optional<std::string> ReadSession::source_line(const std::string& filename, int32_t line) {
    const auto& lines = source(filename);
    auto index = static_cast<size_t>(line - 1);
    if (line > 0 && lines && index < lines->size()) return (*lines)[index];
    return std::nullopt;
}

std::string ReadSession::opname(uint8_t opcode) const { return opname_in(rec_.meta().opnames, opcode); }

ChangeReport ReadSession::report(Change change, std::string expr) {
    return change_report(*this, std::move(change), std::move(expr));
}

std::vector<FrameReport> ReadSession::resolve_stack(const std::vector<Frame>& frames,
                                                    std::optional<uint8_t> culprit_opcode) {
    return replayer::resolve_stack(*this, frames, culprit_opcode);
}

}  // namespace spyrec::replayer
