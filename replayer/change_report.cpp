#include "change_report.h"

#include "diff.h"

namespace spyrec::replayer {

std::string opname_in(const std::vector<std::string>& names, uint8_t opcode) {
    if (opcode < names.size() && !names[opcode].empty()) return names[opcode];
    return "<opcode " + std::to_string(opcode) + ">";
}

namespace {

FrameReport resolve(CodeLookup& codes, const Frame& f, std::optional<uint8_t> culprit_opcode) {
    FrameReport r;
    r.code_id = f.code_id;
    r.line = f.line;
    r.offset = f.offset;
    const Code* c = codes.code(f.code_id);
    if (c) {
        r.code_found = true;
        r.file = c->filename;
        r.function = c->qualname;
    } else {
        r.file = r.function = "<missing code " + std::to_string(f.code_id) + ">";
    }
    if (culprit_opcode) {
        r.opname = codes.opname(*culprit_opcode);
    } else if (c && f.offset < c->bytecode.size()) {
        r.opname = codes.opname(static_cast<uint8_t>(c->bytecode[f.offset]));
    }
    return r;
}

}  // namespace

std::vector<FrameReport> resolve_stack(CodeLookup& codes, const std::vector<Frame>& frames,
                                       std::optional<uint8_t> culprit_opcode) {
    std::vector<FrameReport> out;
    out.reserve(frames.size());
    for (size_t i = 0; i < frames.size(); ++i) {
        out.push_back(resolve(codes, frames[i], i == 0 ? culprit_opcode : std::nullopt));
    }
    return out;
}

ChangeReport change_report(CodeLookup& codes, Change change, std::string expr) {
    ChangeReport r;
    r.expr = std::move(expr);
    r.stack = resolve_stack(codes, change.stack, change.opcode);
    r.trail = resolve_stack(codes, change.recent_lines, std::nullopt);
    r.diff = diff(change.before, change.after);
    if (!r.stack.empty() && r.stack[0].code_found && r.stack[0].line > 0) {
        r.source = codes.source_line(r.stack[0].file, r.stack[0].line);
    }
    change.ops.clear();  // applied already; a report carries values, not edits
    r.change = std::move(change);
    return r;
}

}  // namespace spyrec::replayer
