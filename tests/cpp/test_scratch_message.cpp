// ScratchMessage: messages built on reused, pooled first segments must give
// the same bytes as messages built fresh, however many are alive at once.
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "scratch_message.h"
#include "message_bytes.h"
#include "spyrec.capnp.h"

namespace spyrec::recorder {
namespace {

void fill(capnp::MessageBuilder& message, uint64_t seq, const std::string& thread, unsigned frames) {
    auto change = message.initRoot<schema::Change>();
    change.setSeq(seq);
    change.setThreadName(thread);
    auto stack = change.initStack(frames);
    for (unsigned i = 0; i < frames; ++i) stack[i].setLine(i + 1);
}

std::string fresh_bytes(uint64_t seq, const std::string& thread, unsigned frames) {
    capnp::MallocMessageBuilder message;
    fill(message, seq, thread, frames);
    return schema::message_bytes(message);
}

std::string scratch_bytes(ScratchMessage& message, uint64_t seq, const std::string& thread, unsigned frames) {
    fill(message.builder(), seq, thread, frames);
    std::string out = "left over";
    schema::message_bytes_into(message.builder(), out);
    return out;
}

TEST(ScratchMessage, AReusedSegmentHoldsNothingOfTheMessageBefore) {
    {
        ScratchMessage big;  // uses much of its slot, and grows beyond it
        scratch_bytes(big, 1, std::string(6000, 'x'), 300);
    }
    ScratchMessage small;
    EXPECT_EQ(scratch_bytes(small, 2, "MainThread", 1), fresh_bytes(2, "MainThread", 1));
}

TEST(ScratchMessage, MoreMessagesAliveThanPoolSlotsEachGiveTheirOwnBytes) {
    std::vector<std::unique_ptr<ScratchMessage>> alive;
    std::vector<std::string> got;
    for (unsigned i = 0; i < 10; ++i) {
        alive.push_back(std::make_unique<ScratchMessage>());
        got.push_back(scratch_bytes(*alive.back(), i, "T" + std::to_string(i), i));
    }
    for (unsigned i = 0; i < 10; ++i) EXPECT_EQ(got[i], fresh_bytes(i, "T" + std::to_string(i), i)) << i;
    alive.clear();
    ScratchMessage after;
    EXPECT_EQ(scratch_bytes(after, 7, "after", 3), fresh_bytes(7, "after", 3));
}

}  // namespace
}  // namespace spyrec::recorder
