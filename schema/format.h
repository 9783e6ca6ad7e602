// The recording format version. Both the recorder (which writes it into the
// meta sub-database) and the replayer (which refuses anything else) include
// this; it is the only way they agree on what the bytes mean.
#pragma once
#include <cstdint>

namespace spyrec::schema {

// Bump on any change to spyrec.capnp field meaning or to keys.h.
// 2: changes carry ops (deltas); whole values live in the keyframes table.
constexpr uint32_t kFormatVersion = 2;

}  // namespace spyrec::schema
