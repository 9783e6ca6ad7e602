// What a mutating instruction can change, decided from its operands: the
// container of a subscript store, the iterator of FOR_ITER, the left operand
// of an in-place operator. CallEffect (clean_calls.h) is the answer, as for
// calls: kNothing lets the next event skip the comparison, kOnlySelf
// compares one container, kUnknown compares every watch.
//
// The rules, and why each is safe (docs/exactness.md, "Targeted checks"):
// - A store or delete by an int or a slice on an exact list or bytearray
//   changes that container only (a slice store iterates its value: only a
//   tuple, list or bytes value is clean); on an exact dict, only that dict,
//   which the dict watcher sees itself when it is watched. Other types run a
//   __setitem__ of unknown C code.
// - FOR_ITER and SEND on a generator or coroutine resume a Python frame,
//   whose own events check; on the iterators of the builtin containers and
//   of range, a step only reads. Any other iterator may run C code
//   (iter(WATCHED.pop, None)).
// - An in-place operator on immutable builtin numbers, strings, bytes and
//   tuples builds a new object; `list += list|tuple` and `set |= set`
//   change the left operand only.
// - Unpacking or extending from an exact tuple or list only reads it; so does
//   CALL_FUNCTION_EX, which unpacks its arguments before the CALL event
//   (where the callable is judged) fires.
// Anything else, or a stack that cannot be read, is kUnknown.
#pragma once
#include <Python.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "clean_calls.h"

namespace spyrec::recorder {

enum class OperandRule : uint8_t {
    kNone,           // no rule: the general check
    kSubscrStore,    // STORE_SUBSCR: value, container, key
    kSubscrDelete,   // DELETE_SUBSCR: container, key
    kSliceStore,     // STORE_SLICE: value, container, start, stop
    kInplaceBinary,  // BINARY_OP, in-place forms: left, right
    kIterStep,       // FOR_ITER: the iterator on top
    kSend,           // SEND: receiver, value
    kUnpack,         // UNPACK_SEQUENCE, UNPACK_EX: the iterable on top
    kExtend,         // LIST_EXTEND, SET_UPDATE: a fresh list or set below, the iterable on top
    kCallUnpack,     // CALL_FUNCTION_EX: the positional arguments, then a dict of keywords if oparg & 1
};

class OperandEffects {
public:
    // Cold: the rules by opcode name (from dis.opname) and the iterator types.
    bool init(const std::array<OperandRule, 256>& rules, const CleanCalls* calls);
    static std::array<OperandRule, 256> rules_by_name(const std::vector<std::string>& opnames);

    OperandRule rule(uint8_t opcode) const { return rules_[opcode]; }
    // How many operands the rule reads from the top of the stack (inline:
    // asked at every mutating instruction).
    static int operands(OperandRule rule) {
        switch (rule) {
            case OperandRule::kSliceStore: return 4;
            case OperandRule::kCallUnpack: return 3;  // the callable, the arguments, maybe keywords
            case OperandRule::kSubscrStore: return 3;
            case OperandRule::kSubscrDelete:
            case OperandRule::kInplaceBinary:
            case OperandRule::kSend: return 2;
            case OperandRule::kIterStep:
            case OperandRule::kUnpack:
            case OperandRule::kExtend: return 1;
            case OperandRule::kNone: break;
        }
        return 0;
    }

    // Hot. `top` points one past the top of the stack; at least
    // operands(rule) items below it are live.
    CallEffect effect(OperandRule rule, uint8_t oparg, PyObject* const* top, const WatchedContainers& watched) const {
        switch (rule) {
            case OperandRule::kCallUnpack:
                return {plain_sequence(top[(oparg & 1) ? -2 : -1]) ? CallEffect::kNothing : CallEffect::kUnknown};
            case OperandRule::kSubscrStore: return container_store(top[-2], top[-1], top[-3], watched);
            case OperandRule::kSubscrDelete: return container_store(top[-2], top[-1], nullptr, watched);
            case OperandRule::kSliceStore:
                if (!plain_sequence(top[-4]) && !PyBytes_CheckExact(top[-4])) return {CallEffect::kUnknown};
                return self_only(top[-3], watched);
            case OperandRule::kInplaceBinary: return inplace(top[-2], top[-1], watched);
            case OperandRule::kIterStep:
                return {calls_->reading_iterator(top[-1]) ? CallEffect::kNothing : CallEffect::kUnknown};
            case OperandRule::kSend:
                return {calls_->reading_iterator(top[-2]) ? CallEffect::kNothing : CallEffect::kUnknown};
            case OperandRule::kUnpack:
            case OperandRule::kExtend: return {plain_sequence(top[-1]) ? CallEffect::kNothing : CallEffect::kUnknown};
            case OperandRule::kNone: break;
        }
        return {CallEffect::kUnknown};
    }

private:
    static bool plain_sequence(PyObject* o) { return PyTuple_CheckExact(o) || PyList_CheckExact(o); }
    // container[key] = value (value nullptr: del container[key]).
    static CallEffect container_store(PyObject* container, PyObject* key, PyObject* value,
                                      const WatchedContainers& watched) {
        if (PyDict_CheckExact(container)) return {CallEffect::kNothing};  // the dict watcher's
        bool list = PyList_CheckExact(container);
        if (!list && !PyByteArray_CheckExact(container)) return {CallEffect::kUnknown};
        if (PySlice_Check(key)) {
            // An extended slice store iterates its value: only a plain one reads.
            if (value && !plain_sequence(value) && !PyBytes_CheckExact(value) && !PyByteArray_CheckExact(value)) {
                return {CallEffect::kUnknown};
            }
        } else if (!PyLong_CheckExact(key)) {
            return {CallEffect::kUnknown};  // an __index__ of unknown C code
        }
        return self_only(container, watched);
    }
    // The instruction changes `container` only (an exact list or bytearray).
    static CallEffect self_only(PyObject* container, const WatchedContainers& watched) {
        if (!PyList_CheckExact(container) && !PyByteArray_CheckExact(container)) return {CallEffect::kUnknown};
        if (!watched.may_contain(container)) return {CallEffect::kNothing};
        return {CallEffect::kOnlySelf, container};
    }
    static bool immutable_builtin(PyObject* o) {
        return PyLong_CheckExact(o) || PyFloat_CheckExact(o) || PyUnicode_CheckExact(o) || PyBytes_CheckExact(o) ||
               PyTuple_CheckExact(o) || PyComplex_CheckExact(o) || PyBool_Check(o);
    }
    static CallEffect inplace(PyObject* left, PyObject* right, const WatchedContainers& watched) {
        if (immutable_builtin(left) && immutable_builtin(right)) return {CallEffect::kNothing};
        bool self_only = (PyList_CheckExact(left) && plain_sequence(right)) ||
                         (PySet_CheckExact(left) && (PySet_CheckExact(right) || PyFrozenSet_CheckExact(right)));
        if (!self_only) return {CallEffect::kUnknown};
        if (!watched.may_contain(left)) return {CallEffect::kNothing};
        return {CallEffect::kOnlySelf, left};
    }

    std::array<OperandRule, 256> rules_{};
    const CleanCalls* calls_ = nullptr;
};

}  // namespace spyrec::recorder
