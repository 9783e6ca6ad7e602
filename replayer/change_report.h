// A change as a reader sees it: its frames resolved against Code records, the
// diff of its values and the culprit's source line. The one producer of a
// ChangeReport: queries resolve against the recording (ReadSession); the
// recorder's live hook (`spyrec run --print/--break`) against the Code
// records it hands over with the change (pyfrontend/live_dict.cpp).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "queries.h"
#include "records.h"

namespace spyrec::replayer {

// Where a change's code ids, opcodes and source lines are looked up.
class CodeLookup {
public:
    virtual ~CodeLookup() = default;
    virtual const Code* code(uint64_t id) = 0;  // nullptr: no record (a recording cut short)
    virtual std::string opname(uint8_t opcode) const = 0;
    virtual std::optional<std::string> source_line(const std::string& filename, int32_t line) = 0;
};

// An opcode's name from a table (the Meta's opnames), or "<opcode N>".
std::string opname_in(const std::vector<std::string>& names, uint8_t opcode);

// The culprit frame (stack[0]) is named by the change's opcode: the recorder
// saw the base opcode as it ran. Other frames read theirs from the bytecode.
std::vector<FrameReport> resolve_stack(CodeLookup& codes, const std::vector<Frame>& frames,
                                       std::optional<uint8_t> culprit_opcode);

// `change` must carry its before/after values; its ops are dropped.
ChangeReport change_report(CodeLookup& codes, Change change, std::string expr);

}  // namespace spyrec::replayer
