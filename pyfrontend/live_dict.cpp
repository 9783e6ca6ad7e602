// A live change is read the way a query reads a recording: decoded by the
// replayer from the records the recorder just wrote, resolved by
// change_report() and converted by convert.cpp. Only the lookups differ:
// Code records come with the change, source lines from linecache (the file is
// right here, and IPython's cells live in linecache).
#include "live_dict.h"

#include <unordered_map>

#include "change_report.h"
#include "convert.h"
#include "decode.h"

namespace spyrec::pyconvert {

using namespace spyrec::replayer;

namespace {

class LiveCodes : public CodeLookup {
public:
    explicit LiveCodes(const recorder::LiveChange& live) : opnames_(*live.opnames) {
        for (const auto& [id, bytes] : live.codes) codes_.emplace(id, decode_code(bytes, "live code"));
    }

    const Code* code(uint64_t id) override {
        auto it = codes_.find(id);
        return it == codes_.end() ? nullptr : &it->second;
    }

    std::string opname(uint8_t opcode) const override { return opname_in(opnames_, opcode); }

    std::optional<std::string> source_line(const std::string& filename, int32_t line) override {
        py::object got = py::module_::import("linecache").attr("getline")(text(filename), line);
        // A line that is not valid UTF-8 (a lone surrogate) is no source line,
        // not a reason to lose the change.
        PyObject* utf8 = PyUnicode_AsUTF8String(got.ptr());
        if (!utf8) {
            PyErr_Clear();
            return std::nullopt;
        }
        std::string s(PyBytes_AS_STRING(utf8), static_cast<size_t>(PyBytes_GET_SIZE(utf8)));
        Py_DECREF(utf8);
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
        if (s.empty()) return std::nullopt;
        return s;
    }

private:
    const std::vector<std::string>& opnames_;
    std::unordered_map<uint64_t, Code> codes_;
};

std::optional<Value> live_value(const std::optional<std::string>& bytes) {
    if (!bytes) return std::nullopt;
    return decode_value(*bytes, "live value");
}

}  // namespace

py::dict live_dict(const recorder::LiveChange& live) {
    LiveCodes codes(live);
    Change c = decode_change(live.change, "live change");
    c.before = live_value(live.before);
    c.after = live_value(live.after);
    py::dict d = change(change_report(codes, std::move(c), live.expr));
    d["frame"] = live.frame ? py::reinterpret_borrow<py::object>(live.frame) : py::none();
    return d;
}

}  // namespace spyrec::pyconvert
