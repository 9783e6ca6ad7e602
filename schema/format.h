// The recording format version. Both the recorder (which writes it into the
// meta sub-database) and the replayer (which refuses anything else) include
// this; it is the only way they agree on what the bytes mean.
#pragma once
#include <cstdint>

namespace spyrec::schema {

// Bump on any change to spyrec.capnp field meaning or to keys.h.
// 2: changes carry ops (deltas); whole values live in the keyframes table.
// 3: a Value may be `redacted` (a secret's fingerprint); Meta says which
//    patterns were in force. Readers of 3 read 2 as well.
constexpr uint32_t kFormatVersion = 3;
// The oldest format this spyrec still reads.
constexpr uint32_t kOldestReadableFormat = 2;

}  // namespace spyrec::schema
