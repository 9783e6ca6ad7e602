// A Cap'n Proto message builder for what is built once per recorded change
// (the change record, its ops): a MallocMessageBuilder callocs and frees an
// 8 KiB first segment for every message, which was a third of the program
// thread's instructions at a million small changes. This one takes its first
// segment from a pool of zeroed buffers (one per process, used under the
// GIL); the builder's destructor zeroes again only the words it used (capnp's
// contract for a caller's first segment), so the buffer is ready for the next
// message.
//
// Messages can be alive together (a Delta while its change record is built;
// a live hook that records another change on the way, maybe in another
// thread), so the pool has a few slots; beyond them a message allocates its own.
#pragma once
#include <capnp/message.h>

#include <memory>

namespace spyrec::recorder {

class ScratchMessage {
public:
    ScratchMessage();
    ~ScratchMessage();
    ScratchMessage(const ScratchMessage&) = delete;
    ScratchMessage& operator=(const ScratchMessage&) = delete;

    capnp::MallocMessageBuilder& builder() { return builder_; }
    capnp::Orphanage orphanage() { return builder_.getOrphanage(); }

private:
    int slot_;                            // -1: no slot was free
    std::unique_ptr<capnp::word[]> own_;  // the first segment then (zeroed)
    capnp::MallocMessageBuilder builder_;
};

}  // namespace spyrec::recorder
