// The reading half of spyrec._core: RecordingError, open_recording() and
// Reading, over the C++ replayer (replayer/). This file only converts: the
// queries, diffs and renderings live in the library, Python-free. The dict
// shapes are the ones pyfrontend/README.md promises.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <mutex>
#include <string>

#include "diff.h"
#include "leaks.h"
#include "queries.h"
#include "recording.h"
#include "convert.h"
#include "recording_error.h"
#include "render.h"

namespace py = pybind11;
using namespace spyrec::replayer;
using namespace spyrec::pyconvert;

namespace {

// A subscript key from watch_expr.parse() (None, bool, int, str, bytes or a
// tuple of them) as the recorded Value it must equal.
Value key_value(const py::handle& key) {
    Value v;
    if (key.is_none()) {
        v.kind = Value::Kind::None;
    } else if (py::isinstance<py::bool_>(key)) {
        v.kind = Value::Kind::Bool;
        v.boolean = key.cast<bool>();
    } else if (py::isinstance<py::int_>(key)) {
        int overflow = 0;
        long long n = PyLong_AsLongLongAndOverflow(key.ptr(), &overflow);
        if (overflow) {
            v.kind = Value::Kind::BigInt;
            v.text = py::str(key).cast<std::string>();
        } else {
            v.kind = Value::Kind::Int;
            v.integer = n;
        }
    } else if (py::isinstance<py::str>(key)) {
        v.kind = Value::Kind::Str;
        v.text = key.cast<std::string>();
    } else if (py::isinstance<py::bytes>(key)) {
        v.kind = Value::Kind::Bytes;
        v.text = key.cast<std::string>();
    } else if (py::isinstance<py::tuple>(key)) {
        v.kind = Value::Kind::Tuple;
        for (auto item : key) v.items.push_back(key_value(item));
    } else {
        throw py::type_error("a watch expression key must be None, bool, int, str, bytes or a tuple");
    }
    return v;
}

// expr, and optionally the watch answering it with the steps from the watched
// value to expr's (watch_expr steps: ("attr", name) / ("item", key)).
Target target(const std::string& expr, const py::object& watch, const py::iterable& steps) {
    Target t = Target::whole(expr);
    if (watch.is_none()) return t;
    t.watch = watch.cast<std::string>();
    for (auto step : steps) {
        auto pair = step.cast<py::tuple>();
        if (pair.size() != 2) throw py::value_error("a step is a (kind, key) pair");
        SubStep s;
        s.attribute = pair[0].cast<std::string>() == "attr";
        s.key = key_value(pair[1]);
        t.steps.push_back(std::move(s));
    }
    return t;
}

// Queries run without the GIL (they only touch LMDB and C++ data; read
// transactions are per call), so a long history does not stall other threads.
template <typename Fn>
auto unlocked(Fn&& fn) {
    py::gil_scoped_release release;
    return fn();
}

// A Python iterator over a C++ cursor: each __next__ reads one record
// without the GIL. The lock keeps two threads from stepping one cursor at once.
template <typename Cursor, typename Convert>
class Stream {
public:
    Stream(std::shared_ptr<Recording> rec, std::unique_ptr<Cursor> cursor, Convert convert)
        : rec_(std::move(rec)), cursor_(std::move(cursor)), convert_(convert) {}

    py::object next() {
        std::optional<decltype(cursor_->next())> got;
        {
            py::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(mutex_);
            if (cursor_) got = cursor_->next();
        }
        if (!got || !*got) {
            std::lock_guard<std::mutex> lock(mutex_);
            cursor_.reset();  // ends the read transaction now, not at garbage collection
            throw py::stop_iteration();
        }
        return convert_(**got);
    }

private:
    std::shared_ptr<Recording> rec_;  // outlives the cursor, which refers to it
    std::unique_ptr<Cursor> cursor_;
    Convert convert_;
    std::mutex mutex_;
};

py::dict exception(const ExceptionReport& r) {
    const RaisedException& e = r.exception;
    py::dict d;
    d["seq"] = e.seq;
    d["monotonic_ns"] = e.monotonic_ns;
    d["thread"] = text(e.thread_name);
    d["thread_id"] = e.thread_id;
    d["type"] = text(e.type_name);
    d["message"] = text(e.message);
    d["reraised"] = e.reraised;
    d["frames_left_out"] = e.frames_left_out;
    culprit(d, r.stack);
    d["stack"] = frames(r.stack);
    return d;
}

using ChangeConvert = py::dict (*)(const ChangeReport&);
using ExceptionConvert = py::dict (*)(const ExceptionReport&);
using ChangeStream = Stream<ChangeCursor, ChangeConvert>;
using ExceptionStream = Stream<ExceptionCursor, ExceptionConvert>;

class Reading {
public:
    explicit Reading(std::string path) : rec_(std::make_shared<Recording>(std::move(path))) {}

    // Paths travel as bytes (os.fsencode) so any filename round-trips.
    py::object path() const { return py::module_::import("os").attr("fsdecode")(py::bytes(rec_->path())); }

    py::dict info() const {
        Info i = unlocked([&] { return spyrec::replayer::info(*rec_); });
        py::dict d;
        d["format_version"] = i.format_version;
        d["python_version"] = text(i.meta.python_version);
        d["argv"] = text_list(i.meta.argv);
        d["cwd"] = text(i.meta.cwd);
        d["start_time"] = i.meta.start_time;
        d["pid"] = i.meta.pid;
        d["parent_pid"] = i.meta.parent_pid;
        d["spyrec_version"] = text(i.meta.spyrec_version);
        // None: recorded before redaction existed; []: recorded with --no-redact.
        d["redact_patterns"] =
            i.meta.redaction_known ? py::object(text_list(i.meta.redact_patterns)) : py::object(py::none());
        if (i.ending) {
            const Ending& e = *i.ending;
            py::dict end;
            end["how"] = how_name(e.how);
            end["exit_status"] = e.exit_status;
            end["signal"] = e.signal;
            end["end_time"] = e.end_time;
            end["message"] = text(e.message);
            end["recording_cut"] = e.recording_cut;
            end["cut_at_seq"] = e.cut_at_seq;
            d["ending"] = end;
        } else {
            d["ending"] = py::none();
        }
        d["changes"] = i.changes;
        d["exceptions"] = i.exceptions;
        d["watches"] = i.watches;
        return d;
    }

    // The watch records alone: what a query needs to pick its watch.
    py::list watch_list() const {
        auto list = unlocked([&] { return spyrec::replayer::watch_list(*rec_); });
        py::list out;
        for (const Watch& w : list) {
            py::dict d;
            d["id"] = w.id;
            d["expr"] = text(w.expr);
            d["resolved_at_start"] = w.resolved_at_start;
            d["start_seq"] = w.start_seq;
            d["ever_resolved"] = w.ever_resolved;
            d["never_found"] = w.never_found();
            d["unresolved_reason"] =
                w.unresolved_reason.empty() ? py::object(py::none()) : py::object(text(w.unresolved_reason));
            out.append(d);
        }
        return out;
    }

    uint64_t change_count(const std::string& expr) const {
        return unlocked([&] { return spyrec::replayer::change_count(*rec_, expr); });
    }

    py::list watches() const {
        auto reports = unlocked([&] { return spyrec::replayer::watches(*rec_); });
        py::list out;
        for (const WatchReport& r : reports) {
            py::dict d;
            d["id"] = r.watch.id;
            d["expr"] = text(r.watch.expr);
            d["resolved_at_start"] = r.watch.resolved_at_start;
            d["initial"] = value(r.initial);
            d["start_seq"] = r.watch.start_seq;
            d["changes"] = r.changes;
            d["ever_resolved"] = r.watch.ever_resolved;
            d["never_found"] = r.watch.never_found();
            d["unresolved_reason"] = r.watch.unresolved_reason.empty() ? py::object(py::none())
                                                                       : py::object(text(r.watch.unresolved_reason));
            py::list opaque;
            for (const OpaqueNote& n : r.watch.opaque) {
                py::dict o;
                o["type"] = text(n.type_name);
                o["tracked"] = text(n.tracked);
                o["where"] = text(n.where);
                opaque.append(o);
            }
            d["opaque"] = opaque;
            d["follow_depth"] = r.watch.follow_depth;
            out.append(d);
        }
        return out;
    }

    py::object last_change(const std::string& expr, const py::object& watch, const py::iterable& steps) const {
        Target t = target(expr, watch, steps);
        auto r = unlocked([&] { return spyrec::replayer::last_change(*rec_, t); });
        return r ? py::object(change(*r)) : py::object(py::none());
    }

    py::list history(const std::string& expr, const py::object& watch, const py::iterable& steps) const {
        Target t = target(expr, watch, steps);
        return change_list(unlocked([&] { return spyrec::replayer::history(*rec_, t); }));
    }

    // The streaming forms: one change (or exception) per __next__.
    std::unique_ptr<ChangeStream> iter_history(const std::string& expr, const py::object& watch,
                                               const py::iterable& steps) const {
        Target t = target(expr, watch, steps);
        auto cursor = unlocked([&] { return std::make_unique<ChangeCursor>(*rec_, t); });
        return std::make_unique<ChangeStream>(rec_, std::move(cursor), &change);
    }

    std::unique_ptr<ChangeStream> changes() const {
        auto cursor = unlocked([&] { return std::make_unique<ChangeCursor>(*rec_); });
        return std::make_unique<ChangeStream>(rec_, std::move(cursor), &change);
    }

    std::unique_ptr<ExceptionStream> exceptions() const {
        auto cursor = unlocked([&] { return std::make_unique<ExceptionCursor>(*rec_); });
        return std::make_unique<ExceptionStream>(rec_, std::move(cursor), &exception);
    }

    py::tuple value_at(const std::string& expr, uint64_t seq, const py::object& watch,
                       const py::iterable& steps) const {
        Target t = target(expr, watch, steps);
        ValueAt v = unlocked([&] { return spyrec::replayer::value_at(*rec_, t, seq); });
        switch (v.state) {
            case ValueAt::State::NotWatched: throw py::key_error(expr + " is not watched in this recording");
            case ValueAt::State::Absent: return py::make_tuple(false, py::none());
            case ValueAt::State::Present: break;
        }
        return py::make_tuple(true, json(to_json(v.value)));
    }

    // [(seq, test or None, phase or None)], by seq (pytest --spyrec's marks).
    py::list marks() const {
        auto list = unlocked([&] { return spyrec::replayer::marks(*rec_); });
        py::list out;
        for (const Mark& m : list) {
            bool outside = m.phase == Mark::Phase::None;
            out.append(py::make_tuple(m.seq, outside ? py::object(py::none()) : py::object(text(m.test)),
                                      outside ? py::object(py::none()) : py::object(py::str(phase_name(m.phase)))));
        }
        return out;
    }

    // ignored: [(watch expr, str key)] whose changes are never leaks.
    py::list leaks(const std::vector<std::pair<std::string, std::string>>& ignored) const {
        std::vector<IgnoredKey> keys;
        for (const auto& [watch, key] : ignored) keys.push_back(IgnoredKey{watch, key});
        auto list = unlocked([&] { return spyrec::replayer::leaks(*rec_, keys); });
        py::list out;
        for (const Leak& l : list) {
            py::dict d;
            d["test"] = text(l.test);
            d["expr"] = text(l.expr);
            d["from_seq"] = l.from_seq;
            d["to_seq"] = l.to_seq;
            values(d, l.before, l.after);
            d["diff"] = text_list(diff(l.before, l.after));
            d["changes"] = change_list(l.changes);
            out.append(d);
        }
        return out;
    }

    py::object source_lines(const std::string& filename) const {
        auto lines = unlocked([&] { return spyrec::replayer::source_lines(*rec_, filename); });
        return lines ? py::object(text_list(*lines)) : py::object(py::none());
    }

    py::dict file_labels() const {
        auto labels = unlocked([&] { return spyrec::replayer::file_labels(*rec_); });
        py::dict out;
        for (const auto& [file, label] : labels) out[text(file)] = text(label);
        return out;
    }

private:
    std::shared_ptr<Recording> rec_;
};

}  // namespace

void bind_reading(py::module_& m) {
    // A C++ RecordingError thrown anywhere under _core (reader or recorder)
    // arrives in Python as this type, with the one-line message; its base is
    // the package's SpyrecError (errors.py), which the CLI maps to exit 2.
    py::register_exception<RecordingError>(m, "RecordingError",
                                           py::module_::import("spyrec.errors").attr("SpyrecError"));
    // LMDB failures (schema/lmdb_handles.h) say what was being done in one line too.
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const spyrec::schema::LmdbError& e) {
            PyErr_SetString(py::module_::import("spyrec._core").attr("RecordingError").ptr(), e.what());
        }
    });

    py::class_<ChangeStream>(m, "ChangeStream")
        .def(
            "__iter__", [](ChangeStream& s) -> ChangeStream& { return s; }, py::return_value_policy::reference_internal)
        .def("__next__", &ChangeStream::next);
    py::class_<ExceptionStream>(m, "ExceptionStream")
        .def(
            "__iter__", [](ExceptionStream& s) -> ExceptionStream& { return s; },
            py::return_value_policy::reference_internal)
        .def("__next__", &ExceptionStream::next);

    py::class_<Reading>(m, "Reading")
        .def_property_readonly("path", &Reading::path)
        .def("info", &Reading::info)
        .def("watches", &Reading::watches)
        .def("watch_list", &Reading::watch_list)
        .def("change_count", &Reading::change_count, py::arg("expr"))
        .def("last_change", &Reading::last_change, py::arg("expr"), py::arg("watch") = py::none(),
             py::arg("steps") = py::tuple())
        .def("history", &Reading::history, py::arg("expr"), py::arg("watch") = py::none(),
             py::arg("steps") = py::tuple())
        .def("iter_history", &Reading::iter_history, py::arg("expr"), py::arg("watch") = py::none(),
             py::arg("steps") = py::tuple())
        .def("changes", &Reading::changes)
        .def("value_at", &Reading::value_at, py::arg("expr"), py::arg("seq"), py::arg("watch") = py::none(),
             py::arg("steps") = py::tuple())
        .def("exceptions", &Reading::exceptions)
        .def("marks", &Reading::marks)
        .def("leaks", &Reading::leaks, py::arg("ignored") = std::vector<std::pair<std::string, std::string>>{})
        .def("source_lines", &Reading::source_lines, py::arg("filename"))
        .def("file_labels", &Reading::file_labels);

    m.def(
        "open_recording",
        [](const py::object& path) {
            // str, bytes or os.PathLike, as open() takes them; bytes so that a
            // non-UTF-8 filename still opens.
            std::string p = py::module_::import("os").attr("fsencode")(path).cast<py::bytes>();
            py::gil_scoped_release release;
            return Reading(std::move(p));
        },
        py::arg("path"), "Open a recording directory read-only; raises RecordingError.");
}
