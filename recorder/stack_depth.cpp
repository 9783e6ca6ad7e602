#include "stack_depth.h"

#include <string_view>
#include <utility>

namespace spyrec::recorder {
namespace {

int opcode_number(PyObject* opmap, const char* name) {
    PyObject* value = PyDict_GetItemString(opmap, name);  // borrowed
    return value ? static_cast<int>(PyLong_AsLong(value)) : -1;
}

// One entry of co_exceptiontable: a handler at `target` entered with the
// stack cut to `depth`, plus the offset of the raising instruction when
// `lasti`, plus the exception.
struct Handler {
    int target;
    int depth;
};

// The table's format (Objects/exception_handling_notes.txt): per entry, four
// varints (start, length, target, depth<<1|lasti), 6 bits per byte, 0x40 = more.
std::vector<Handler> exception_handlers(PyObject* table) {
    std::vector<Handler> out;
    if (!table || !PyBytes_Check(table)) return out;
    const auto* p = reinterpret_cast<const uint8_t*>(PyBytes_AS_STRING(table));
    const uint8_t* end = p + PyBytes_GET_SIZE(table);
    auto varint = [&](bool* ok) {
        if (p >= end) {
            *ok = false;
            return 0;
        }
        uint8_t b = *p++;
        int value = b & 63;
        while (b & 64) {
            if (p >= end) {
                *ok = false;
                return 0;
            }
            b = *p++;
            value = (value << 6) | (b & 63);
        }
        return value;
    };
    for (;;) {
        bool ok = true;
        varint(&ok);  // start
        varint(&ok);  // length
        int target = varint(&ok) * 2;
        int depth_lasti = varint(&ok);
        if (!ok) break;
        out.push_back({target, (depth_lasti >> 1) + (depth_lasti & 1) + 1});
    }
    return out;
}

}  // namespace

std::vector<int> exception_handler_offsets(PyObject* table) {
    std::vector<int> out;
    for (const Handler& h : exception_handlers(table)) out.push_back(h.target);
    return out;
}

bool load_bytecode_flow(BytecodeFlow& flow) {
    // The opcode module has all of it (dis only re-exports it).
    PyObject* opcode = PyImport_ImportModule("opcode");
    PyObject* opmap = opcode ? PyObject_GetAttrString(opcode, "opmap") : nullptr;
    PyObject* opname = opmap ? PyObject_GetAttrString(opcode, "opname") : nullptr;
    PyObject* caches = opname ? PyObject_GetAttrString(opcode, "_inline_cache_entries") : nullptr;
    bool ok = caches != nullptr;
    if (ok) {
        // A list indexed by opcode (3.12) or a dict by name (3.13).
        for (int op = 0; op < 256; ++op) {
            PyObject* name = PySequence_GetItem(opname, op);
            PyObject* count = nullptr;
            if (name && PyDict_Check(caches)) {
                count = PyDict_GetItemWithError(caches, name);
                Py_XINCREF(count);
            } else if (name && op < PySequence_Size(caches)) {
                count = PySequence_GetItem(caches, op);
            }
            if (count) flow.caches[op] = static_cast<uint8_t>(PyLong_AsLong(count));
            Py_XDECREF(count);
            Py_XDECREF(name);
        }
        // Jumps: opcode.hasjump (3.13) or opcode.hasjrel (3.12); pseudo-ops (>255) skipped.
        for (const char* list : {"hasjrel", "hasjump"}) {
            PyObject* ops = PyObject_GetAttrString(opcode, list);
            if (!ops) {
                PyErr_Clear();
                continue;
            }
            Py_ssize_t n = PySequence_Size(ops);
            for (Py_ssize_t i = 0; i < n; ++i) {
                PyObject* item = PySequence_GetItem(ops, i);
                long op = item ? PyLong_AsLong(item) : -1;
                Py_XDECREF(item);
                if (op >= 0 && op < 256) flow.jumps[op] = true;
            }
            Py_DECREF(ops);
        }
        for (int op = 0; op < 256; ++op) {
            PyObject* name = PySequence_GetItem(opname, op);
            const char* text = name ? PyUnicode_AsUTF8(name) : nullptr;
            std::string_view n = text ? text : "";
            flow.backward[op] = n.find("BACKWARD") != std::string_view::npos;
            flow.unconditional[op] = n == "JUMP_FORWARD" || n == "JUMP_BACKWARD" || n == "JUMP_BACKWARD_NO_INTERRUPT";
            flow.ends_frame[op] = n == "RETURN_VALUE" || n == "RETURN_CONST" || n == "RAISE_VARARGS" || n == "RERAISE";
            Py_XDECREF(name);
        }
        flow.extended_arg = opcode_number(opmap, "EXTENDED_ARG");
        flow.return_generator = opcode_number(opmap, "RETURN_GENERATOR");
    }
    Py_XDECREF(caches);
    Py_XDECREF(opname);
    Py_XDECREF(opmap);
    Py_XDECREF(opcode);
    PyErr_Clear();
    return ok && flow.extended_arg >= 0;
}

bool compute_stack_depths(PyObject* code, const BytecodeFlow& flow, std::vector<int16_t>& depths) {
    depths.clear();
    auto* co = reinterpret_cast<PyCodeObject*>(code);
    PyObject* bytes = PyCode_GetCode(co);  // base opcodes: no specialization, no instrumentation
    if (!bytes) {
        PyErr_Clear();
        return false;
    }
    const auto* data = reinterpret_cast<const uint8_t*>(PyBytes_AS_STRING(bytes));
    const int units = static_cast<int>(PyBytes_GET_SIZE(bytes) / 2);
    std::vector<int16_t> out(static_cast<size_t>(units), kUnknownDepth);
    bool disagree = false;

    // Worklist of (unit index, depth): the normal flow from offset 0, then
    // each handler. Two paths that disagree mean an effect was misread: then
    // every depth of the code is unknown, so a wrong effect can only make
    // spyrec check more, never read the wrong slot.
    std::vector<std::pair<int, int>> work{{0, 0}};
    auto run = [&] {
        while (!work.empty()) {
            auto [i, depth] = work.back();
            work.pop_back();
            for (;;) {
                if (i < 0 || i >= units || depth < 0 || depth > co->co_stacksize) break;
                if (out[i] != kUnknownDepth) {
                    disagree = disagree || out[i] != depth;
                    break;
                }
                out[i] = static_cast<int16_t>(depth);
                // Read the instruction and its EXTENDED_ARG prefixes.
                int j = i;
                int oparg = 0;
                while (j < units && data[2 * j] == flow.extended_arg) {
                    oparg = (oparg | data[2 * j + 1]) << 8;
                    ++j;
                    if (j < units && out[j] == kUnknownDepth) out[j] = static_cast<int16_t>(depth);
                }
                if (j >= units) break;
                int op = data[2 * j];
                oparg |= data[2 * j + 1];
                int next = j + 1 + flow.caches[op];
                // CPython 3.12 counts RETURN_GENERATOR's resumed value as 0 (the
                // compiler adds it after computing depths); it pushes one.
                auto effect = [&](int jump) {
                    return op == flow.return_generator ? 1 : PyCompile_OpcodeStackEffectWithJump(op, oparg, jump);
                };
                if (flow.jumps[op]) {
                    int target = flow.backward[op] ? next - oparg : next + oparg;
                    int e = effect(1);
                    if (e == PY_INVALID_STACK_EFFECT) break;
                    work.push_back({target, depth + e});
                    if (flow.unconditional[op]) break;
                }
                if (flow.ends_frame[op]) break;
                int e = effect(0);
                if (e == PY_INVALID_STACK_EFFECT) break;
                i = next;
                depth += e;
            }
        }
    };
    run();
    for (const Handler& h : exception_handlers(co->co_exceptiontable)) {
        work.push_back({h.target / 2, h.depth});
        run();
    }
    Py_DECREF(bytes);
    PyErr_Clear();
    if (disagree) out.assign(out.size(), kUnknownDepth);
    depths = std::move(out);
    return true;
}

}  // namespace spyrec::recorder
