// Replayer results as the Python dicts pyfrontend/README.md promises: the one
// conversion shared by queries (bind_reading.cpp) and the live hook
// (live_dict.cpp).
#include "convert.h"

namespace spyrec::pyconvert {

using namespace spyrec::replayer;

// Recorded text is UTF-8 from the recorder, but the bytes are untrusted:
// lone surrogates (kept with "surrogatepass") come back as themselves.
py::str text(const std::string& s) {
    PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "surrogatepass");
    if (!o) {
        PyErr_Clear();
        o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
        if (!o) throw py::error_already_set();
    }
    return py::reinterpret_steal<py::str>(o);
}

py::object json(const Json& j) {
    switch (j.kind) {
        case Json::Kind::Null: return py::none();
        case Json::Kind::Bool: return py::bool_(j.boolean);
        case Json::Kind::Int: return py::int_(j.integer);
        case Json::Kind::BigInt: {
            // Python caps int-from-text at 4300 digits by default; past that
            // (or on any other failure) the digits stay a string.
            PyObject* o = PyLong_FromString(j.text.c_str(), nullptr, 10);
            if (o) return py::reinterpret_steal<py::object>(o);
            PyErr_Clear();
            return text(j.text);
        }
        case Json::Kind::Float: return py::float_(j.real);
        case Json::Kind::Str: return text(j.text);
        case Json::Kind::Array: {
            py::list out(j.items.size());
            for (size_t i = 0; i < j.items.size(); ++i) out[i] = json(j.items[i]);
            return out;
        }
        case Json::Kind::Object: {
            py::dict out;
            for (const JsonMember& m : j.members) out[text(m.key)] = json(m.value);
            return out;
        }
    }
    return py::none();
}

py::object value(const std::optional<Value>& v) { return v ? json(to_json(*v)) : py::none(); }

py::object line(int32_t line) { return line < 0 ? py::object(py::none()) : py::object(py::int_(line)); }

namespace {

py::dict frame(const FrameReport& f) {
    py::dict d;
    d["file"] = text(f.file);
    d["line"] = line(f.line);
    d["function"] = text(f.function);
    d["offset"] = f.offset;
    d["opname"] = f.opname.empty() ? py::object(py::none()) : py::object(text(f.opname));
    return d;
}

}  // namespace

py::list frames(const std::vector<FrameReport>& stack) {
    py::list out;
    for (const FrameReport& f : stack) out.append(frame(f));
    return out;
}

void culprit(py::dict& d, const std::vector<FrameReport>& stack) {
    if (stack.empty()) {  // no Python frame was running (e.g. a change at shutdown)
        for (const char* k : {"file", "line", "function", "offset", "opname"}) d[k] = py::none();
        return;
    }
    py::dict f = frame(stack[0]);
    for (auto item : f) d[item.first] = item.second;
}

void values(py::dict& d, const std::optional<Value>& before, const std::optional<Value>& after) {
    d["before"] = value(before);
    d["after"] = value(after);
    d["before_exists"] = before.has_value();
    d["after_exists"] = after.has_value();
}

py::dict change(const ChangeReport& r) {
    const Change& c = r.change;
    py::dict d;
    d["expr"] = text(r.expr);
    d["seq"] = c.seq;
    d["monotonic_ns"] = c.monotonic_ns;
    d["kind"] = kind_name(c.kind);
    d["thread"] = text(c.thread_name);
    d["task"] = c.task_name.empty() ? py::object(py::none()) : py::object(text(c.task_name));
    d["thread_id"] = c.thread_id;
    culprit(d, r.stack);
    d["stack"] = frames(r.stack);
    values(d, c.before, c.after);
    d["diff"] = text_list(r.diff);
    d["source"] = r.source ? py::object(text(*r.source)) : py::object(py::none());
    py::list trail;
    for (const FrameReport& f : r.trail) {
        py::dict t;
        t["file"] = text(f.file);
        t["line"] = line(f.line);
        t["function"] = text(f.function);
        trail.append(t);
    }
    d["trail"] = trail;
    return d;
}

py::list change_list(const std::vector<ChangeReport>& reports) {
    py::list out;
    for (const ChangeReport& r : reports) out.append(change(r));
    return out;
}

py::list text_list(const std::vector<std::string>& texts) {
    py::list out;
    for (const std::string& t : texts) out.append(text(t));
    return out;
}

}  // namespace spyrec::pyconvert
