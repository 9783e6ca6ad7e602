// A Cap'n Proto message as the bytes stored in a recording's value: the flat
// array of its words (segment table first), which the replayer reads back
// with a FlatArrayMessageReader under a traversal limit.
#pragma once
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/io.h>

#include <string>

namespace spyrec::schema {

// Written into `out` (replacing what it held), with no intermediate array:
// the recorder encodes one per recorded change.
inline void message_bytes_into(capnp::MessageBuilder& message, std::string& out) {
    class StringOutput final : public kj::OutputStream {
    public:
        explicit StringOutput(std::string& s) : s_(s) {}
        void write(const void* buffer, size_t size) override { s_.append(static_cast<const char*>(buffer), size); }

    private:
        std::string& s_;
    };
    out.clear();
    out.reserve(capnp::computeSerializedSizeInWords(message) * sizeof(capnp::word));
    StringOutput stream(out);
    capnp::writeMessage(stream, message);
}

inline std::string message_bytes(capnp::MessageBuilder& message) {
    std::string out;
    message_bytes_into(message, out);
    return out;
}

}  // namespace spyrec::schema
