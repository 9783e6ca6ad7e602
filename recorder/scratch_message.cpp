#include "scratch_message.h"

#include <array>

namespace spyrec::recorder {
namespace {

// 512 words (4 KiB) hold a change record with a deep stack; a bigger message
// (a keyframe, a large replace) grows into heap segments as before.
constexpr unsigned kSlotWords = 512;
constexpr int kSlots = 4;

struct Pool {
    std::array<std::array<capnp::word, kSlotWords>, kSlots> words{};  // zeroed
    std::array<bool, kSlots> busy{};
};

// One pool for the process, no lock: every message is built and destroyed
// under the GIL (the monitoring callbacks, the session's cold API), and a
// slot is claimed and given back with no Python code in between. A thread
// that lets the GIL go while its message lives (a live hook running Python)
// keeps its slot busy; another thread's message takes another slot, or its
// own segment. A thread_local pool cost a call into the dynamic linker
// (__tls_get_addr, for its guard) at every use, several per change.
// Allocated at the first change only, and never freed: no static destructor
// races a daemon thread still unwinding a callback at exit.
Pool* pool = nullptr;

int claim_slot() {
    if (!pool) pool = new Pool();
    for (int i = 0; i < kSlots; ++i) {
        if (!pool->busy[i]) {
            pool->busy[i] = true;
            return i;
        }
    }
    return -1;
}

}  // namespace

ScratchMessage::ScratchMessage()
    : slot_(claim_slot()),
      own_(slot_ < 0 ? new capnp::word[kSlotWords]() : nullptr),
      builder_(kj::arrayPtr(slot_ < 0 ? own_.get() : pool->words[slot_].data(), kSlotWords)) {}

ScratchMessage::~ScratchMessage() {
    // builder_ is destroyed after this body: it zeroes the words it used of
    // the slot then, still under the GIL, before any other message can
    // claim the slot.
    if (slot_ >= 0) pool->busy[slot_] = false;
}

}  // namespace spyrec::recorder
