#include "python_version.h"

#include <string_view>
#include <unordered_set>

namespace spyrec::recorder {
namespace {

// Opcodes that cannot change a watched value. Names cover 3.12 and 3.13;
// a name missing from one version is simply not found. Anything not listed
// (including opcodes a future version adds) is kMayMutate: when unsure, keep
// the event. FOR_ITER stays enabled: iter(list.pop, None) mutates a list from C
// (a loop over a range or a constant loses it under a guard: call_guards.h).
const std::unordered_set<std::string_view>& pure_opcode_names() {
    static const std::unordered_set<std::string_view> names = {
        "NOP",
        "RESUME",
        "CACHE",
        "EXTENDED_ARG",
        "RESERVED",
        "INTERPRETER_EXIT",
        "LOAD_FAST",
        "LOAD_FAST_CHECK",
        "LOAD_FAST_AND_CLEAR",
        "LOAD_FAST_LOAD_FAST",
        "LOAD_CONST",
        "RETURN_CONST",
        "RETURN_VALUE",
        "RETURN_GENERATOR",
        "STORE_FAST",
        "STORE_FAST_LOAD_FAST",
        "STORE_FAST_STORE_FAST",
        "DELETE_FAST",
        "POP_TOP",
        "PUSH_NULL",
        "COPY",
        "SWAP",
        "END_FOR",
        "END_SEND",
        "JUMP_FORWARD",
        "JUMP_BACKWARD",
        "JUMP_BACKWARD_NO_INTERRUPT",
        "JUMP",
        "JUMP_NO_INTERRUPT",
        "POP_JUMP_IF_TRUE",
        "POP_JUMP_IF_FALSE",
        "POP_JUMP_IF_NONE",
        "POP_JUMP_IF_NOT_NONE",
        "LOAD_DEREF",
        "LOAD_CLOSURE",
        "MAKE_CELL",
        "COPY_FREE_VARS",
        "LOAD_GLOBAL",
        "LOAD_NAME",
        "LOAD_ATTR",
        "LOAD_SUPER_ATTR",
        "LOAD_METHOD",
        "LOAD_LOCALS",
        "LOAD_FROM_DICT_OR_GLOBALS",
        "LOAD_FROM_DICT_OR_DEREF",
        "LOAD_ASSERTION_ERROR",
        "LOAD_BUILD_CLASS",
        "KW_NAMES",
        "PUSH_EXC_INFO",
        "POP_EXCEPT",
        "CHECK_EXC_MATCH",
        "CHECK_EG_MATCH",
        "BUILD_TUPLE",
        "BUILD_LIST",
        "BUILD_SET",
        "BUILD_MAP",
        "BUILD_CONST_KEY_MAP",
        "BUILD_STRING",
        "BUILD_SLICE",
        "LIST_APPEND",
        "SET_ADD",
        "MAP_ADD",
        "COMPARE_OP",
        "IS_OP",
        "CONTAINS_OP",
        "UNARY_NOT",
        "UNARY_NEGATIVE",
        "UNARY_INVERT",
        "TO_BOOL",
        "GET_LEN",
        "GET_ITER",
        "BINARY_SLICE",
        "FORMAT_VALUE",
        "FORMAT_SIMPLE",
        "FORMAT_WITH_SPEC",
        "CONVERT_VALUE",
        "MAKE_FUNCTION",
        "SET_FUNCTION_ATTRIBUTE",
        "MATCH_CLASS",
        "MATCH_MAPPING",
        "MATCH_SEQUENCE",
        "MATCH_KEYS",
        "EXIT_INIT_CHECK",
        "ENTER_EXECUTOR",
        // Control leaves the frame; PY_YIELD / PY_RETURN do the bookkeeping.
        "YIELD_VALUE",
        "RETURN_VALUE",
        // These change only dicts (a module's, an instance's __dict__, a
        // defaultdict filled by __missing__, a temporary **kwargs dict). Every
        // dict a watch depends on is under the dict watcher, which sees the
        // mutation happen with its exact instruction; no event is needed.
        "STORE_ATTR",
        "DELETE_ATTR",
        "STORE_NAME",
        "DELETE_NAME",
        "STORE_GLOBAL",
        "DELETE_GLOBAL",
        "BINARY_SUBSCR",
        "DICT_MERGE",
        "DICT_UPDATE",
    };
    return names;
}

}  // namespace

bool load_opcode_table(OpcodeTable& table) {
    // opcode, not dis (which re-exports these): dis would cost every
    // recorded program the import of dis, io and collections.
    PyObject* opcode = PyImport_ImportModule("opcode");
    if (!opcode) return false;
    PyObject* opname = PyObject_GetAttrString(opcode, "opname");
    PyObject* nb_ops = opname ? PyObject_GetAttrString(opcode, "_nb_ops") : nullptr;
    PyObject* opmap = nb_ops ? PyObject_GetAttrString(opcode, "opmap") : nullptr;
    Py_DECREF(opcode);
    if (!opmap) {
        Py_XDECREF(opname);
        Py_XDECREF(nb_ops);
        return false;
    }
    table.names.assign(256, "");
    table.by_opcode.fill(OpcodeClass::kMayMutate);
    const auto& pure = pure_opcode_names();
    Py_ssize_t n = PySequence_Size(opname);
    for (Py_ssize_t i = 0; i < n && i < 256; ++i) {
        PyObject* name = PySequence_GetItem(opname, i);
        const char* text = name ? PyUnicode_AsUTF8(name) : nullptr;
        if (text) {
            table.names[i] = text;
            if (pure.count(text)) table.by_opcode[i] = OpcodeClass::kPure;
            std::string_view op(text);
            // CALL_FUNCTION_EX keeps its INSTRUCTION event: it unpacks its
            // arguments (running any iterator) before the CALL event fires.
            if (op == "CALL" || op == "CALL_KW") table.by_opcode[i] = OpcodeClass::kCall;
        }
        Py_XDECREF(name);
    }
    PyObject* binary_op = PyDict_GetItemString(opmap, "BINARY_OP");
    table.binary_op = binary_op ? static_cast<uint8_t>(PyLong_AsLong(binary_op)) : 0;
    // opcode._nb_ops lists (name, symbol) by oparg; in-place symbols end in '='.
    Py_ssize_t nops = PySequence_Size(nb_ops);
    for (Py_ssize_t i = 0; i < nops && i < 256; ++i) {
        PyObject* pair = PySequence_GetItem(nb_ops, i);
        PyObject* symbol = pair ? PySequence_GetItem(pair, 1) : nullptr;
        const char* text = symbol ? PyUnicode_AsUTF8(symbol) : nullptr;
        if (text) {
            std::string_view sv(text);
            table.inplace_binary_oparg[i] = sv.size() >= 2 && sv.back() == '=';
        }
        Py_XDECREF(symbol);
        Py_XDECREF(pair);
    }
    Py_DECREF(opname);
    Py_DECREF(nb_ops);
    Py_DECREF(opmap);
    PyErr_Clear();
    return true;
}

namespace {

// Whether FrameLayout finds the innermost frame's code and its bound plain
// locals where PyFrame_GetVar finds them.
bool layout_matches_innermost_frame() {
    struct _PyInterpreterFrame* frame = innermost_frame();
    PyFrameObject* frame_object = PyEval_GetFrame();  // borrowed
    if (!frame || !frame_object) return false;
    auto* layout = reinterpret_cast<FrameLayout*>(frame);
    PyObject* code = PyUnstable_InterpreterFrame_GetCode(frame);  // new reference
    bool same_code = code && layout->executable == code;
    Py_XDECREF(code);
    if (!same_code) return false;
    auto* co = reinterpret_cast<PyCodeObject*>(layout->executable);
    constexpr uint8_t kPlainLocal = 0x20;  // CO_FAST_LOCAL (Include/internal/pycore_code.h)
    const char* kinds = PyBytes_AsString(co->co_localspluskinds);
    int matched = 0;
    for (int i = 0; kinds && i < co->co_nlocalsplus; ++i) {
        if (static_cast<uint8_t>(kinds[i]) != kPlainLocal) continue;
        PyObject* name = PyTuple_GetItem(co->co_localsplusnames, i);  // borrowed
        PyObject* value = name ? PyFrame_GetVar(frame_object, name) : nullptr;
        if (!value) {
            PyErr_Clear();  // unbound
            continue;
        }
        bool here = layout->localsplus[i] == value;
        Py_DECREF(value);
        if (!here) return false;
        ++matched;
    }
    PyErr_Clear();
    return matched > 0;
}

PyObject* check_layout(PyObject*, PyObject*) { return PyBool_FromLong(layout_matches_innermost_frame()); }
PyMethodDef kCheckLayout{"check_layout", check_layout, METH_NOARGS, nullptr};

}  // namespace

bool frame_layout_matches() {
    // A Python function of known shape calls back into C, which reads its frame.
    PyObject* globals = PyDict_New();
    PyObject* check = PyCFunction_New(&kCheckLayout, nullptr);
    bool ok = false;
    if (globals && check && PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) == 0) {
        PyObject* defined = PyRun_String("def probe(check, first=1):\n    second = [first]\n    return check()\n",
                                         Py_file_input, globals, globals);
        PyObject* probe = defined ? PyDict_GetItemString(globals, "probe") : nullptr;  // borrowed
        PyObject* result = probe ? PyObject_CallOneArg(probe, check) : nullptr;
        ok = result == Py_True;
        Py_XDECREF(result);
        Py_XDECREF(defined);
    }
    Py_XDECREF(check);
    Py_XDECREF(globals);
    PyErr_Clear();
    return ok;
}

}  // namespace spyrec::recorder
