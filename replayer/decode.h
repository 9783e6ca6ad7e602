// Turns the bytes of one LMDB value into a plain record (records.h). The bytes
// are untrusted: a wrong size, a damaged segment table, out-of-bounds pointers,
// nesting past kNestingLimit, or a message that claims more items than its
// bytes can hold all end in a RecordingError whose message starts with
// "damaged recording:" and names `where` (e.g. "change 3/17"). Running out of
// memory is not damage: it is "out of memory reading <where>".
#pragma once
#include <string_view>

#include "records.h"

namespace spyrec::replayer {

// Cap'n Proto pointer nesting allowed in one message. A recorded object costs
// three levels per level of Python nesting (Value -> Instance -> attribute
// list -> Entry.value), so 256 leaves room for the recorder's depth limit
// while keeping our recursion (decode, render, diff) shallow.
inline constexpr int kNestingLimit = 256;
// Words one message may make us read (Cap'n Proto's traversal limit).
inline constexpr uint64_t kTraversalLimitWords = uint64_t{64} * 1024 * 1024;

Meta decode_meta(std::string_view bytes, std::string_view where);
Ending decode_ending(std::string_view bytes, std::string_view where);
Watch decode_watch(std::string_view bytes, std::string_view where);
// A framed message whose root is one Value (the recorder's live reports, and
// the keyframes table).
Value decode_value(std::string_view bytes, std::string_view where);
Change decode_change(std::string_view bytes, std::string_view where);
Code decode_code(std::string_view bytes, std::string_view where);
RaisedException decode_exception(std::string_view bytes, std::string_view where);
Mark decode_mark(std::string_view bytes, std::string_view where);

}  // namespace spyrec::replayer
