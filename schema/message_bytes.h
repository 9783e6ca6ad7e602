// A Cap'n Proto message as the bytes stored in a recording's value: the flat
// array of its words (segment table first), which the replayer reads back
// with a FlatArrayMessageReader under a traversal limit.
#pragma once
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <string>

namespace spyrec::schema {

inline std::string message_bytes(capnp::MessageBuilder& message) {
    auto words = capnp::messageToFlatArray(message);
    auto bytes = words.asBytes();
    return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

}  // namespace spyrec::schema
