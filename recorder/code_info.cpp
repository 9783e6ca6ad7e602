#include "code_info.h"

namespace spyrec::recorder {
namespace {
void free_code_info(void* info) {
    if (CodeInfoTable::last_.info == info) CodeInfoTable::last_ = {nullptr, nullptr};
    delete static_cast<CodeInfo*>(info);
}
}  // namespace

bool CodeInfoTable::init(const OpcodeTable* opcodes) {
    opcodes_ = opcodes;
    // One index per process: the index and the free function stay valid for
    // the interpreter's life, across recordings.
    static Py_ssize_t shared_index = -1;
    if (shared_index < 0) shared_index = PyUnstable_Eval_RequestCodeExtraIndex(free_code_info);
    index_ = shared_index;
    return index_ >= 0;
}

CodeInfo* CodeInfoTable::build(PyObject* code) {
    auto info = std::make_unique<CodeInfo>();
    // co_code as dis sees it: base opcodes, no specialization or instrumentation.
    PyObject* bytes = PyCode_GetCode(reinterpret_cast<PyCodeObject*>(code));
    if (bytes) {
        const auto* data = reinterpret_cast<const uint8_t*>(PyBytes_AS_STRING(bytes));
        Py_ssize_t size = PyBytes_GET_SIZE(bytes);
        info->opcodes.resize(size / 2);
        info->classes.resize(size / 2);
        info->opargs.resize(size / 2);
        for (Py_ssize_t i = 0; i + 1 < size; i += 2) {
            info->opcodes[i / 2] = data[i];
            info->opargs[i / 2] = data[i + 1];
            info->classes[i / 2] = opcodes_ ? opcodes_->classify(data[i], data[i + 1]) : OpcodeClass::kMayMutate;
        }
        Py_DECREF(bytes);
        info->pure = true;
        for (auto c : info->classes) {
            if (c != OpcodeClass::kPure) info->pure = false;
        }
    } else {
        PyErr_Clear();
    }
    PyObject* filename = reinterpret_cast<PyCodeObject*>(code)->co_filename;
    if (filename && PyUnicode_Check(filename)) {
        const char* text = PyUnicode_AsUTF8(filename);
        if (text) {
            std::string_view fn(text);
            for (const auto& prefix : hidden_prefixes_) {
                if (fn.substr(0, prefix.size()) == prefix) info->hidden = true;
            }
        } else {
            PyErr_Clear();
        }
    }
    CodeInfo* raw = info.get();
    if (index_ >= 0 && PyUnstable_Code_SetExtra(code, index_, raw) == 0) {
        info.release();
        // The in-place read must find what the API stored (see CodeExtraLayout).
        extra_in_place_ = extra_in_place_ && in_place(code) == raw;
        return raw;
    }
    PyErr_Clear();
    // Could not attach: keep it alive forever rather than leak per event.
    static std::vector<std::unique_ptr<CodeInfo>> orphans;
    orphans.push_back(std::move(info));
    return raw;
}

const std::vector<int32_t>& CodeInfoTable::lines(PyObject* code) {
    CodeInfo* info = get(code);
    if (info->lines_ready) return info->lines;
    info->lines_ready = true;
    auto* co = reinterpret_cast<PyCodeObject*>(code);
    Py_ssize_t size = 0;
    if (PyObject* bytes = PyCode_GetCode(co)) {
        size = PyBytes_GET_SIZE(bytes) / 2;
        Py_DECREF(bytes);
    }
    info->lines.assign(static_cast<size_t>(size), -1);
    PyObject* ranges = PyObject_CallMethod(code, "co_lines", nullptr);  // C: (start, end, line) triples
    PyObject* it = ranges ? PyObject_GetIter(ranges) : nullptr;
    while (PyObject* item = it ? PyIter_Next(it) : nullptr) {
        long start = -1, end = -1, line = -1;
        if (PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 3) {
            start = PyLong_AsLong(PyTuple_GET_ITEM(item, 0));
            end = PyLong_AsLong(PyTuple_GET_ITEM(item, 1));
            PyObject* l = PyTuple_GET_ITEM(item, 2);
            line = l == Py_None ? -1 : PyLong_AsLong(l);
        }
        Py_DECREF(item);
        for (long off = start; off >= 0 && off < end && off / 2 < size; off += 2)
            info->lines[off / 2] = static_cast<int32_t>(line);
    }
    Py_XDECREF(it);
    Py_XDECREF(ranges);
    PyErr_Clear();
    return info->lines;
}

int CodeInfoTable::line_at(PyObject* code, int offset) {
    const auto& table = lines(code);
    size_t i = static_cast<size_t>(offset < 0 ? 0 : offset) / 2;
    return i < table.size() ? table[i] : -1;
}

}  // namespace spyrec::recorder
