#include "call_guards.h"

#include <string_view>
#include <utility>

namespace spyrec::recorder {

bool CalleeScanTable::load() {
    PyObject* opcode = PyImport_ImportModule("opcode");
    PyObject* opmap = opcode ? PyObject_GetAttrString(opcode, "opmap") : nullptr;
    Py_XDECREF(opcode);
    if (!opmap) return false;
    auto number = [&](const char* name) {
        PyObject* value = PyDict_GetItemString(opmap, name);  // borrowed
        long n = value ? PyLong_AsLong(value) : -1;
        return n >= 0 && n < 256 ? static_cast<int>(n) : -1;
    };
    // Names of 3.12 and 3.13; a name missing from one is not found there.
    const std::pair<const char*, Pops> known[] = {
        {"NOP", k0},
        {"LOAD_FAST", k0},
        {"LOAD_FAST_CHECK", k0},
        {"LOAD_FAST_LOAD_FAST", k0},
        {"LOAD_CONST", k0},
        {"LOAD_DEREF", k0},
        {"LOAD_GLOBAL", k0},
        {"LOAD_NAME", k0},
        {"PUSH_NULL", k0},
        {"KW_NAMES", k0},
        {"COPY", k0},  // reads a slot, replaces none
        {"LOAD_ATTR", k1},
        {"UNARY_NEGATIVE", k1},
        {"UNARY_NOT", k1},
        {"UNARY_INVERT", k1},
        {"TO_BOOL", k1},
        {"GET_ITER", k1},
        {"FORMAT_SIMPLE", k1},
        {"CONVERT_VALUE", k1},
        {"CALL_INTRINSIC_1", k1},
        {"LIST_EXTEND", k1},
        {"LIST_APPEND", k1},
        {"SET_UPDATE", k1},
        {"SET_ADD", k1},
        {"DICT_UPDATE", k1},
        {"DICT_MERGE", k1},
        {"BINARY_OP", k2},
        {"BINARY_SUBSCR", k2},
        {"COMPARE_OP", k2},
        {"IS_OP", k2},
        {"CONTAINS_OP", k2},
        {"FORMAT_WITH_SPEC", k2},
        {"CALL_INTRINSIC_2", k2},
        {"MAP_ADD", k2},
        {"BINARY_SLICE", k3},
        {"LOAD_SUPER_ATTR", k3},
        {"BUILD_TUPLE", kOparg},
        {"BUILD_LIST", kOparg},
        {"BUILD_SET", kOparg},
        {"BUILD_STRING", kOparg},
        {"BUILD_SLICE", kOparg},
        {"BUILD_MAP", kTwiceOparg},
        {"BUILD_CONST_KEY_MAP", kOpargPlus1},
        {"FORMAT_VALUE", kFormatValue},
        {"CALL", kCall},
        {"CALL_KW", kCallKw},
    };
    for (const auto& [name, pops] : known) {
        int op = number(name);
        if (op >= 0) pops_[op] = pops;
    }
    load_global_ = number("LOAD_GLOBAL");
    call_ = number("CALL");
    call_kw_ = number("CALL_KW");
    for_iter_ = number("FOR_ITER");
    get_iter_ = number("GET_ITER");
    load_const_ = number("LOAD_CONST");
    Py_DECREF(opmap);
    PyErr_Clear();
    return load_global_ >= 0 && call_ >= 0;
}

int CalleeScanTable::popped(uint8_t opcode, int oparg) const {
    switch (pops_[opcode]) {
        case k0: return 0;
        case k1: return 1;
        case k2: return 2;
        case k3: return 3;
        case kOparg: return oparg;
        case kTwiceOparg: return 2 * oparg;
        case kOpargPlus1: return oparg + 1;
        case kCall: return oparg + 2;
        case kCallKw: return oparg + 3;
        case kFormatValue: return (oparg & 4) ? 2 : 1;  // 3.12: a format spec is popped too
        case kUnknown: break;
    }
    return -1;
}

int CalleeScanTable::callable_slot(uint8_t opcode, int oparg, int depth) const {
    // 3.12: [NULL, callable, args...]; 3.13: [callable, self_or_null, args...
    // (, kwnames for CALL_KW)]. Either way the pair starts 2 below the arguments.
    if (opcode == call_) return depth - oparg - 2;
    if (opcode == call_kw_) return depth - oparg - 3;
    return -1;
}

namespace {
// Every place control can arrive at other than by falling through: jump
// targets and exception handlers, by unit. A search never crosses one.
std::vector<bool> entry_points(PyCodeObject* co, const uint8_t* data, int units, const BytecodeFlow& flow) {
    std::vector<bool> entered(static_cast<size_t>(units) + 1, false);
    for (int i = 0; i < units;) {
        int oparg = 0;
        int j = i;
        while (j < units && data[2 * j] == flow.extended_arg) oparg = (oparg | data[2 * j++ + 1]) << 8;
        if (j >= units) break;
        int op = data[2 * j];
        oparg |= data[2 * j + 1];
        int next = j + 1 + flow.caches[op];
        if (flow.jumps[op]) {
            int target = flow.backward[op] ? next - oparg : next + oparg;
            if (target >= 0 && target <= units) entered[static_cast<size_t>(target)] = true;
        }
        i = next;
    }
    for (int target : exception_handler_offsets(co->co_exceptiontable)) {
        if (target / 2 >= 0 && target / 2 <= units) entered[static_cast<size_t>(target / 2)] = true;
    }
    return entered;
}

// co_code as dis shows it (base opcodes, CACHE entries), held for a search.
struct Bytecode {
    explicit Bytecode(PyObject* code) : bytes(PyRef::steal(PyCode_GetCode(reinterpret_cast<PyCodeObject*>(code)))) {
        if (!bytes) {
            PyErr_Clear();
            return;
        }
        data = reinterpret_cast<const uint8_t*>(PyBytes_AS_STRING(bytes.get()));
        units = static_cast<int>(PyBytes_GET_SIZE(bytes.get()) / 2);
    }
    PyRef bytes;
    const uint8_t* data = nullptr;
    int units = 0;
};
}  // namespace

std::vector<int32_t> find_global_callees(PyObject* code, const std::vector<int16_t>& depths, const BytecodeFlow& flow,
                                         const CalleeScanTable& table, std::vector<int32_t>* loads) {
    Bytecode bytecode(code);
    if (!bytecode.bytes) return {};
    const uint8_t* data = bytecode.data;
    const int units = bytecode.units;
    std::vector<int32_t> callees(static_cast<size_t>(units), -1);
    if (loads) loads->assign(static_cast<size_t>(units), -1);
    if (depths.size() != static_cast<size_t>(units)) return callees;
    std::vector<bool> entered = entry_points(reinterpret_cast<PyCodeObject*>(code), data, units, flow);

    // Open LOAD_GLOBALs: (the slot their callable is in, co_names index, unit).
    struct Open {
        int slot;
        int name;
        int unit;
    };
    std::vector<Open> open;
    for (int i = 0; i < units;) {
        if (entered[static_cast<size_t>(i)]) open.clear();
        int oparg = 0;
        int j = i;
        bool extended = false;
        while (j < units && data[2 * j] == flow.extended_arg) {
            oparg = (oparg | data[2 * j++ + 1]) << 8;
            extended = true;
        }
        if (j >= units) break;
        int op = data[2 * j];
        oparg |= data[2 * j + 1];
        int next = j + 1 + flow.caches[op];
        int depth = depths[static_cast<size_t>(j)];
        int pops = table.popped(static_cast<uint8_t>(op), oparg);
        if (depth < 0 || pops < 0 || flow.jumps[op]) {
            open.clear();
        } else {
            int slot = extended ? -1 : table.callable_slot(static_cast<uint8_t>(op), oparg, depth);
            if (slot >= 0 && !open.empty() && open.back().slot == slot) {
                callees[static_cast<size_t>(j)] = open.back().name;
                if (loads) (*loads)[static_cast<size_t>(j)] = open.back().unit;
            }
            // Whatever this pops below its slot pair is no longer a callable.
            while (!open.empty() && open.back().slot + 2 > depth - pops) open.pop_back();
            if (table.is_load_global(static_cast<uint8_t>(op)) && (oparg & 1)) open.push_back({depth, oparg >> 1, i});
        }
        i = next;
    }
    return callees;
}

std::vector<int32_t> find_loop_sources(PyObject* code, const BytecodeFlow& flow, const CalleeScanTable& table) {
    Bytecode bytecode(code);
    if (!bytecode.bytes) return {};
    const uint8_t* data = bytecode.data;
    const int units = bytecode.units;
    std::vector<int32_t> sources(static_cast<size_t>(units), kLoopUnknown);
    std::vector<bool> entered = entry_points(reinterpret_cast<PyCodeObject*>(code), data, units, flow);
    // The last two instructions, by unit (-1: none, or control entered since).
    int before_last = -1;
    int last = -1;
    for (int i = 0; i < units;) {
        int j = i;
        while (j < units && data[2 * j] == flow.extended_arg) ++j;
        if (j >= units) break;
        int op = data[2 * j];
        // The FOR_ITER is entered too, by its loop's back edge (and
        // `continue`), with the iterator GET_ITER made still on the stack.
        if (table.is_for_iter(op) && last >= 0 && j == last + 1 && table.is_get_iter(data[2 * last]) &&
            before_last >= 0 && !entered[static_cast<size_t>(last)]) {
            int source = data[2 * before_last];
            if (table.is_load_const(source)) sources[static_cast<size_t>(j)] = kLoopConstant;
            if (table.is_call(source)) sources[static_cast<size_t>(j)] = before_last;
        }
        if (entered[static_cast<size_t>(i)]) last = -1;
        before_last = last;
        last = j;  // an EXTENDED_ARG prefix is part of its instruction, at j
        i = j + 1 + flow.caches[op];
    }
    return sources;
}

bool CallGuards::open(Callback callback) {
    if (watcher_ >= 0) return true;
    ++epoch_;  // nothing an earlier recording decided holds
    watcher_ = PyDict_AddWatcher(callback);
    if (watcher_ < 0) PyErr_Clear();
    return watcher_ >= 0;
}

void CallGuards::close() {
    if (watcher_ < 0) return;
    for (auto& [dict, guarded] : dicts_) PyDict_Unwatch(watcher_, dict);
    dicts_.clear();
    volatile_.clear();
    if (PyDict_ClearWatcher(watcher_) < 0) PyErr_Clear();
    watcher_ = -1;
}

bool CallGuards::watch(PyObject* dict, PyObject* name, PyObject* code, bool pinned) {
    if (watcher_ < 0 || !PyDict_CheckExact(dict) || !PyUnicode_CheckExact(name)) return false;
    auto found = dicts_.find(dict);
    if (found == dicts_.end()) {
        if (PyDict_Watch(watcher_, dict) < 0) {
            PyErr_Clear();
            return false;
        }
        found = dicts_.emplace(dict, Guarded{}).first;
    }
    Guarded& g = found->second;
    bool known = false;
    for (auto& n : g.names) {
        if (same_name(n.name.get(), name)) {
            n.pinned = pinned || (n.pinned && n.epoch == epoch_);
            n.epoch = epoch_;
            known = true;
        }
    }
    if (!known) g.names.push_back({PyRef::borrow(name), epoch_, pinned});
    if (g.codes.empty() || g.codes.back().get() != code) g.codes.push_back(PyRef::borrow(code));
    return true;
}

std::vector<PyRef> CallGuards::forget_dict(PyObject* dict) {
    std::vector<PyRef> codes;
    auto found = dicts_.find(dict);
    if (found == dicts_.end()) return codes;
    codes = std::move(found->second.codes);
    dicts_.erase(found);  // a new dict at this address is not watched
    return codes;
}

bool CallGuards::is_volatile(PyObject* dict, PyObject* name) const {
    if (volatile_.count({dict, std::string()})) return true;
    const char* text = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : nullptr;
    if (!text) {
        PyErr_Clear();
        return true;
    }
    return volatile_.count({dict, std::string(text)}) > 0;
}

void CallGuards::remember_volatile(PyObject* dict, PyObject* key) {
    const char* text = key && PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : nullptr;
    if (key && !text) PyErr_Clear();
    volatile_.insert({dict, text ? std::string(text) : std::string()});
}

}  // namespace spyrec::recorder
