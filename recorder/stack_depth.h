// The depth of a code object's value stack before each instruction, from the
// bytecode's stack effects (CPython's own PyCompile_OpcodeStackEffectWithJump)
// followed along every jump and exception handler.
//
// Why: an INSTRUCTION event names a code location, not the stack. The operands
// of the instruction about to run sit in the frame's memory right after its
// locals (operand_stack in python_version.h), but the interpreter keeps the
// stack pointer in a C local that is not saved for the event. The depth at
// each offset is static, so it is computed once per code object, on the first
// event that needs an operand.
#pragma once
#include <Python.h>

#include <array>
#include <cstdint>
#include <vector>

namespace spyrec::recorder {

// What the walk needs to know of each opcode, read from `dis` at start.
struct BytecodeFlow {
    std::array<uint8_t, 256> caches{};      // inline cache entries after the instruction
    std::array<bool, 256> jumps{};          // relative jump: target = next instruction +/- 2*oparg
    std::array<bool, 256> backward{};       // ... minus
    std::array<bool, 256> unconditional{};  // never falls through
    std::array<bool, 256> ends_frame{};     // RETURN_*, RAISE_VARARGS, RERAISE: no successor
    int extended_arg = -1;
    int return_generator = -1;
};

// Cold; raises a Python exception and returns false on failure.
bool load_bytecode_flow(BytecodeFlow& flow);

// Depth before the instruction at offset 2*i, or kUnknownDepth where the walk
// did not reach or two paths disagree. Returns false (and leaves `depths`
// empty) when the bytecode cannot be read.
constexpr int16_t kUnknownDepth = -1;

// The offsets (in bytes) of the exception handlers in a co_exceptiontable.
std::vector<int> exception_handler_offsets(PyObject* table);
bool compute_stack_depths(PyObject* code, const BytecodeFlow& flow, std::vector<int16_t>& depths);

}  // namespace spyrec::recorder
