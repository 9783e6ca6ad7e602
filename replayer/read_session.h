// One read transaction over a recording and what a query looks up inside it:
// watches, changes and keyframes (checked against their keys), and the Code
// and source records that culprit frames resolve against (cached for the
// life of the transaction). Queries and cursors own one each; nothing here is
// visible outside replayer/.
#pragma once
#include <map>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "change_report.h"
#include "keys.h"
#include "queries.h"
#include "recording.h"
#include "records.h"

namespace spyrec::replayer {

std::string_view key_view(const auto& key) { return {reinterpret_cast<const char*>(key.data()), key.size()}; }

inline MDB_val to_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }

// A bad_alloc while reading is the machine's limit (a huge value, a memory
// limit), not damage: it says so, and the CLI exits 2 as for any RecordingError.
template <typename Fn>
auto out_of_memory_is_said(const Recording& rec, Fn&& fn) {
    try {
        return fn();
    } catch (const std::bad_alloc&) {
        throw RecordingError("out of memory reading " + rec.path());
    }
}

// "change 3/17": how errors name a record of a (watch, seq) table.
std::string record_name(const char* what, uint32_t watch_id, uint64_t seq);

class ReadSession : public CodeLookup {
public:
    explicit ReadSession(const Recording& rec) : rec_(rec), txn_(rec.env(), ReadTxn::Mode::kRead) {}

    const Recording& rec() const { return rec_; }
    const ReadTxn& txn() const { return txn_; }

    [[noreturn]] void damaged(const std::string& why) const;

    std::vector<Watch> all_watches();
    std::optional<Watch> find_watch(std::string_view expr);
    const std::string& expr_of(uint32_t watch_id);

    // Decodes a changes entry, checking that the record agrees with its key.
    Change change_at(const MDB_val& k, const MDB_val& v);
    // The (watch, seq) of a changes or keyframes key.
    schema::DecodedChangeKey change_key_of(const MDB_val& k, const char* table);

    // The keyframe after change `seq` (seq 0: the watch's start), if recorded.
    std::optional<Value> keyframe(uint32_t watch_id, uint64_t seq);
    // The nearest keyframe of a watch at or before `seq`: (its seq, the value).
    std::optional<std::pair<uint64_t, Value>> keyframe_at_or_before(uint32_t watch_id, uint64_t seq);
    // The last change of a watch with seq <= `seq`.
    std::optional<Change> change_at_or_before(uint32_t watch_id, uint64_t seq);

    // A resolved culprit stack, the diff of before/after and the source line.
    ChangeReport report(Change change, std::string expr);
    std::vector<FrameReport> resolve_stack(const std::vector<Frame>& frames, std::optional<uint8_t> culprit_opcode);
    const std::optional<std::vector<std::string>>& source(const std::string& filename);
    // CodeLookup: the recording's Code, source and opname records.
    const Code* code(uint64_t id) override;
    std::string opname(uint8_t opcode) const override;
    std::optional<std::string> source_line(const std::string& filename, int32_t line) override;

private:
    // The entry of a (watch, seq)-keyed table with the highest seq <= `seq`:
    // one seek, and one step back when the seek lands past it. Big-endian
    // keys make this correct.
    bool seek_at_or_before(Table which, uint32_t watch_id, uint64_t seq, MDB_val& k, MDB_val& v);

    const Recording& rec_;
    ReadTxn txn_;
    std::unordered_map<uint64_t, std::optional<Code>> codes_;
    std::map<std::string, std::optional<std::vector<std::string>>, std::less<>> sources_;
    std::unordered_map<uint32_t, std::string> exprs_;
};

}  // namespace spyrec::replayer
