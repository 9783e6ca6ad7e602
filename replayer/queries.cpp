#include "queries.h"

#include <limits>
#include <new>
#include <unordered_map>

#include "decode.h"
#include "keys.h"
#include "read_session.h"
#include "timeline.h"

namespace spyrec::replayer {
namespace {

template <typename Cursor>
auto drain(Cursor& cursor) {
    std::vector<typename decltype(cursor.next())::value_type> out;
    while (auto r = cursor.next()) out.push_back(std::move(*r));
    return out;
}

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
    ReadSession s(rec);
    Info out;
    out.format_version = rec.format_version();
    out.meta = rec.meta();
    if (auto bytes = rec.get(s.txn(), Table::kMeta, schema::kEndingKey)) {
        out.ending = decode_ending(*bytes, "the ending record");
    }
    out.changes = rec.count(s.txn(), Table::kChanges);
    out.exceptions = rec.count(s.txn(), Table::kExceptions);
    out.watches = rec.count(s.txn(), Table::kWatches);
    return out;
}

std::vector<WatchReport> watches(const Recording& rec) {
    return out_of_memory_is_said(rec, [&] {
        ReadSession s(rec);
        std::vector<WatchReport> out;
        std::unordered_map<uint32_t, uint64_t> counts;
        if (auto dbi = rec.db(Table::kChanges)) {
            // Keys only: counting never decodes a change.
            LmdbCursor cursor(s.txn().get(), *dbi);
            MDB_val k{}, v{};
            for (bool ok = cursor.get(k, v, MDB_FIRST); ok; ok = cursor.get(k, v, MDB_NEXT)) {
                ++counts[s.change_key_of(k, "changes").watch_id];
            }
        }
        for (Watch& w : s.all_watches()) {
            uint64_t n = counts[w.id];
            auto initial = s.keyframe(w.id, 0);
            out.push_back(WatchReport{std::move(w), n, std::move(initial)});
        }
        return out;
    });
}

std::vector<Watch> watch_list(const Recording& rec) {
    ReadSession s(rec);
    return s.all_watches();
}

uint64_t change_count(const Recording& rec, std::string_view expr) {
    ReadSession s(rec);
    auto watch = s.find_watch(expr);
    auto dbi = rec.db(Table::kChanges);
    if (!watch || !dbi) return 0;
    LmdbCursor cursor(s.txn().get(), *dbi);
    auto first = schema::change_key(watch->id, 0);
    MDB_val k = to_val(key_view(first)), v{};
    uint64_t n = 0;
    for (bool ok = cursor.get(k, v, MDB_SET_RANGE); ok && s.change_key_of(k, "changes").watch_id == watch->id;
         ok = cursor.get(k, v, MDB_NEXT)) {
        ++n;
    }
    return n;
}

std::optional<ChangeReport> last_change(const Recording& rec, const Target& target) {
    if (!target.steps.empty()) {
        // A sub-path's last change is the last change of the watch that
        // touched it, which only a walk from the start can tell.
        ChangeCursor cursor(rec, target);
        std::optional<ChangeReport> last;
        while (auto r = cursor.next()) last = std::move(r);
        return last;
    }
    return out_of_memory_is_said(rec, [&]() -> std::optional<ChangeReport> {
        ReadSession s(rec);
        auto watch = s.find_watch(target.watch);
        if (!watch) return std::nullopt;
        auto last = s.change_at_or_before(watch->id, std::numeric_limits<uint64_t>::max());
        if (!last) return std::nullopt;
        WatchTimeline timeline(s, std::move(*watch));
        if (last->seq == 0) {
            timeline.from_start();
        } else {
            timeline.seek(last->seq - 1);
        }
        auto change = timeline.next(last->seq);
        if (!change) s.damaged(record_name("change", last->watch_id, last->seq) + " vanished while reading");
        return s.report(std::move(*change), target.expr);
    });
}

std::optional<ChangeReport> last_change(const Recording& rec, std::string_view expr) {
    return last_change(rec, Target::whole(expr));
}

std::vector<ChangeReport> history(const Recording& rec, const Target& target) {
    ChangeCursor cursor(rec, target);
    return drain(cursor);
}

std::vector<ChangeReport> history(const Recording& rec, std::string_view expr) {
    return history(rec, Target::whole(expr));
}

std::vector<ChangeReport> changes(const Recording& rec) {
    ChangeCursor cursor(rec);
    return drain(cursor);
}

ValueAt value_at(const Recording& rec, const Target& target, uint64_t seq) {
    return out_of_memory_is_said(rec, [&] {
        ReadSession s(rec);
        ValueAt out;
        auto watch = s.find_watch(target.watch);
        if (!watch) return out;
        out.state = ValueAt::State::Absent;
        WatchTimeline timeline(s, std::move(*watch));
        timeline.seek(seq);
        if (!timeline.value()) return out;
        const Value* at = locate(*timeline.value(), target.steps);
        if (!at) return out;
        out.state = ValueAt::State::Present;
        out.value = *at;
        return out;
    });
}

ValueAt value_at(const Recording& rec, std::string_view expr, uint64_t seq) {
    return value_at(rec, Target::whole(expr), seq);
}

std::vector<ExceptionReport> exceptions(const Recording& rec) {
    ExceptionCursor cursor(rec);
    return drain(cursor);
}

std::optional<std::vector<std::string>> source_lines(const Recording& rec, std::string_view filename) {
    ReadSession s(rec);
    return s.source(std::string(filename));
}

std::vector<std::pair<std::string, std::string>> file_labels(const Recording& rec) {
    std::vector<std::pair<std::string, std::string>> out;
    ReadSession s(rec);
    auto dbi = rec.db(Table::kFileLabels);
    if (!dbi) return out;
    LmdbCursor cursor(s.txn().get(), *dbi);
    MDB_val k{}, v{};
    for (bool ok = cursor.get(k, v, MDB_FIRST); ok; ok = cursor.get(k, v, MDB_NEXT)) {
        out.emplace_back(std::string(rec.view(k, "a file_labels key")), std::string(rec.view(v, "a file label")));
    }
    return out;
}

}  // namespace spyrec::replayer
