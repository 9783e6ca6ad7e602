// pybind11 bindings for recording (the cold API). The hot path is not here:
// the monitoring callbacks are plain C functions in recorder/callbacks.cpp.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <iterator>
#include <memory>

#include "live_dict.h"
#include "python_version.h"
#include "session.h"
#include "stack_depth.h"

namespace py = pybind11;
using spyrec::recorder::Session;
using spyrec::recorder::SessionOptions;
using spyrec::recorder::WatchSpec;
using spyrec::recorder::WatchStep;

namespace {

// Raises spyrec._core.RecordingError with a one-line message.
[[noreturn]] void raise_recording_error(py::module_& m, const std::string& message) {
    py::object type = m.attr("RecordingError");
    PyErr_SetString(type.ptr(), message.c_str());
    throw py::error_already_set();
}

std::vector<std::string> default_hidden_prefixes() {
    // runpy runs frozen when spyrec is started with `python -m spyrec`.
    std::vector<std::string> prefixes{"<frozen runpy>"};
    for (const char* name : {"runpy", "spyrec"}) {
        try {
            py::object module = py::module_::import(name);
            std::string file = py::str(module.attr("__file__"));
            if (std::string(name) == "spyrec") {
                auto slash = file.rfind('/');
                prefixes.push_back(file.substr(0, slash + 1));
            } else {
                prefixes.push_back(file);
            }
        } catch (const py::error_already_set&) {}
    }
    // The `spyrec` console script that started this process, if one did.
    try {
        py::list orig = py::module_::import("sys").attr("orig_argv");
        if (orig.size() >= 2) {
            std::string script = py::str(orig[1]);
            auto slash = script.rfind('/');
            std::string base = slash == std::string::npos ? script : script.substr(slash + 1);
            if (base == "spyrec") {
                prefixes.push_back(py::str(py::module_::import("os.path").attr("abspath")(script)));
            }
        }
    } catch (const py::error_already_set&) {}
    return prefixes;
}

class Recorder {
public:
    Recorder(py::module_ module, const std::string& out_dir, py::list watches, std::vector<std::string> argv,
             uint64_t max_size, int trail, int follow, py::object on_change, py::object hidden,
             std::vector<std::string> redact, int64_t parent_pid)
        : module_(std::move(module)), on_change_(std::move(on_change)) {
        std::vector<WatchSpec> specs;
        for (py::handle item : watches) {
            auto tuple = item.cast<py::tuple>();
            WatchSpec spec;
            spec.expr = tuple[0].cast<std::string>();
            spec.root_module = tuple[1].cast<std::string>();
            for (py::handle step : tuple[2].cast<py::list>()) {
                auto pair = step.cast<py::tuple>();
                std::string kind = pair[0].cast<std::string>();
                spec.steps.push_back(WatchStep{kind == "attr", py::object(pair[1]).release().ptr()});
            }
            specs.push_back(std::move(spec));
        }
        SessionOptions options;
        options.out_dir = out_dir;
        options.argv = std::move(argv);
        options.max_size = max_size;
        options.trail = trail;
        options.limits.follow_depth = follow;
        options.redact_patterns = std::move(redact);
        options.parent_pid = parent_pid;
        options.hidden_prefixes =
            hidden.is_none() ? default_hidden_prefixes() : hidden.cast<std::vector<std::string>>();
        if (!on_change_.is_none()) options.on_change = [this](const auto& live) { return call_on_change(live); };
        try {
            session_ = std::make_unique<Session>(std::move(options), std::move(specs));
        } catch (const std::exception& e) {
            raise_recording_error(module_, e.what());
        }
    }

    void start() {
        try {
            session_->start();
        } catch (const py::error_already_set&) {
            throw;
        } catch (const std::exception& e) {
            raise_recording_error(module_, e.what());
        }
    }

    void stop(const std::string& how, int exit_status, int signal, const std::string& message) {
        if (!session_) return;
        py::gil_scoped_acquire gil;
        session_->stop(how, exit_status, signal, message);
    }

    void flush() {
        if (!session_) return;
        py::gil_scoped_release release;  // the writer thread needs no GIL, but let others run
        session_->flush();
    }

    // phase: "setup" | "call" | "teardown" | None (outside any test).
    void mark(const std::string& test, py::object phase) {
        if (!session_) return;
        static const std::pair<const char*, spyrec::schema::Mark::Phase> kPhases[] = {
            {"setup", spyrec::schema::Mark::Phase::SETUP},
            {"call", spyrec::schema::Mark::Phase::CALL},
            {"teardown", spyrec::schema::Mark::Phase::TEARDOWN},
        };
        spyrec::schema::Mark::Phase which = spyrec::schema::Mark::Phase::NONE;
        if (!phase.is_none()) {
            auto name = phase.cast<std::string>();
            auto it =
                std::find_if(std::begin(kPhases), std::end(kPhases), [&](const auto& p) { return name == p.first; });
            if (it == std::end(kPhases)) throw py::value_error("a phase is setup, call, teardown or None, not " + name);
            which = it->second;
        }
        session_->mark(test, which);
    }

    void label_file(const std::string& filename, const std::string& label) {
        if (session_) session_->label_file(filename, label);
    }

    void abandon_after_fork() {
        if (session_) session_->abandon_after_fork();
        // Never destroy the session in the child: its destructor would touch LMDB.
        (void)session_.release();
    }

    // What each watch left to say (after stop): never resolved, and the types
    // spyrec could not see inside.
    py::list notes() const {
        py::list out;
        if (!session_) return out;
        for (const auto& n : session_->final_notes()) {
            py::dict d;
            d["expr"] = n.expr;
            d["ever_resolved"] = n.ever_resolved;
            d["unresolved_reason"] = n.unresolved_reason;
            py::list opaque;
            for (const auto& [type, tracked] : n.opaque) opaque.append(py::make_tuple(type, tracked));
            d["opaque"] = opaque;
            out.append(d);
        }
        return out;
    }

    int tool_id() const { return session_ ? session_->tool_id() : -1; }
    uint64_t changes() const { return session_ ? session_->changes() : 0; }

private:
    // The recorder's live hook: the change as a query's dict, handed to
    // on_change. False (with the Python error set) when it raised.
    bool call_on_change(const spyrec::recorder::LiveChange& live) {
        try {
            on_change_(spyrec::pyconvert::live_dict(live));
            return true;
        } catch (py::error_already_set& e) {
            e.restore();
        } catch (const std::exception& e) {
            PyErr_SetString(PyExc_RuntimeError, e.what());
        }
        return false;
    }

    py::module_ module_;
    py::object on_change_;
    std::unique_ptr<Session> session_;
};

}  // namespace

void bind_recorder(py::module_& m) {
    py::class_<Recorder>(m, "Recorder")
        .def(py::init([m](const std::string& out_dir, py::list watches, std::vector<std::string> argv,
                          uint64_t max_size, int trail, int follow, py::object on_change, py::object hidden,
                          std::vector<std::string> redact, int64_t parent_pid) {
                 return new Recorder(m, out_dir, watches, std::move(argv), max_size, trail, follow, on_change, hidden,
                                     std::move(redact), parent_pid);
             }),
             py::arg("out_dir"), py::arg("watches"), py::kw_only(), py::arg("argv"), py::arg("max_size") = 0,
             py::arg("trail") = 0, py::arg("follow") = 0, py::arg("on_change") = py::none(),
             py::arg("hidden") = py::none(), py::arg("redact") = std::vector<std::string>{}, py::arg("parent_pid") = 0)
        .def("start", &Recorder::start)
        .def("stop", &Recorder::stop, py::arg("how") = "exited", py::arg("exit_status") = 0, py::arg("signal") = 0,
             py::arg("message") = "")
        .def("flush", &Recorder::flush)
        .def("mark", &Recorder::mark, py::arg("test"), py::arg("phase"))
        .def("label_file", &Recorder::label_file, py::arg("filename"), py::arg("label"))
        .def("abandon_after_fork", &Recorder::abandon_after_fork)
        .def("notes", &Recorder::notes)
        .def_property_readonly("tool_id", &Recorder::tool_id)
        .def_property_readonly("changes", &Recorder::changes);

    // For tests (tests/python/test_operands.py): what the recorder computes
    // to read an instruction's operands, checked on every supported Python.
    m.def("_stack_depths", [](py::object code) {
        static spyrec::recorder::BytecodeFlow flow;
        static bool loaded = spyrec::recorder::load_bytecode_flow(flow);
        if (!loaded || !PyCode_Check(code.ptr())) throw py::value_error("not a code object");
        std::vector<int16_t> depths;
        spyrec::recorder::compute_stack_depths(code.ptr(), flow, depths);
        py::list out;
        for (int16_t d : depths) out.append(d < 0 ? py::object(py::none()) : py::object(py::int_(d)));
        return out;
    });
    m.def("_frame_layout_matches", &spyrec::recorder::frame_layout_matches);
}
