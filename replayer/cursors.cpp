// ChangeCursor and ExceptionCursor (queries.h): the streaming queries.
#include <new>

#include "apply.h"
#include "decode.h"
#include "keys.h"
#include "queries.h"
#include "read_session.h"
#include "timeline.h"

namespace spyrec::replayer {
namespace {

std::optional<Value> located(const std::optional<Value>& v, const std::vector<SubStep>& steps) {
    if (!v) return std::nullopt;
    const Value* at = locate(*v, steps);
    return at ? std::optional<Value>(*at) : std::nullopt;
}

// One watch's changes, narrowed to a sub-path when the target has steps: a
// change of the watch is a change of the sub-path only where the sub-value
// differs (absent -> present: appeared, present -> absent: vanished).
struct Stream {
    WatchTimeline timeline;
    std::string expr;
    std::vector<SubStep> steps;

    std::optional<Change> next() {
        while (auto c = timeline.next()) {
            if (steps.empty()) return c;
            auto before = located(c->before, steps);
            auto after = located(c->after, steps);
            if (!differ(before, after)) continue;
            c->kind = !before ? Change::Kind::Appeared : !after ? Change::Kind::Vanished : Change::Kind::Modified;
            c->before = std::move(before);
            c->after = std::move(after);
            return c;
        }
        return std::nullopt;
    }
};

}  // namespace

struct ChangeCursor::Impl {
    const Recording& rec;
    ReadSession session;
    std::vector<std::unique_ptr<Stream>> streams;
    std::vector<std::optional<Change>> pending;  // merged cursors: each stream's next change
    bool merged = false;

    explicit Impl(const Recording& r) : rec(r), session(r) {}

    void add(Watch watch, std::string expr, std::vector<SubStep> steps) {
        auto s = std::make_unique<Stream>(
            Stream{WatchTimeline(session, std::move(watch)), std::move(expr), std::move(steps)});
        s->timeline.from_start();
        streams.push_back(std::move(s));
        pending.emplace_back();
    }

    std::optional<ChangeReport> next() {
        if (!merged) {
            if (streams.empty()) return std::nullopt;
            auto c = streams[0]->next();
            if (!c) return std::nullopt;
            return session.report(std::move(*c), streams[0]->expr);
        }
        // Keys order by (watch, seq); the recording's order is by seq: take
        // the smallest of each watch's next change.
        size_t best = streams.size();
        for (size_t i = 0; i < streams.size(); ++i) {
            if (!pending[i]) pending[i] = streams[i]->next();
            if (pending[i] && (best == streams.size() || pending[i]->seq < pending[best]->seq)) best = i;
        }
        if (best == streams.size()) return std::nullopt;
        Change c = std::move(*pending[best]);
        pending[best].reset();
        return session.report(std::move(c), streams[best]->expr);
    }
};

ChangeCursor::ChangeCursor(const Recording& rec, const Target& target) {
    out_of_memory_is_said(rec, [&] {
        impl_ = std::make_unique<Impl>(rec);
        if (auto watch = impl_->session.find_watch(target.watch))
            impl_->add(std::move(*watch), target.expr, target.steps);
        return 0;
    });
}

ChangeCursor::ChangeCursor(const Recording& rec) {
    out_of_memory_is_said(rec, [&] {
        impl_ = std::make_unique<Impl>(rec);
        impl_->merged = true;
        for (Watch& w : impl_->session.all_watches()) {
            std::string expr = w.expr;
            impl_->add(std::move(w), std::move(expr), {});
        }
        return 0;
    });
}

ChangeCursor::~ChangeCursor() = default;

std::optional<ChangeReport> ChangeCursor::next() {
    return out_of_memory_is_said(impl_->rec, [&] { return impl_->next(); });
}

struct ExceptionCursor::Impl {
    ReadSession session;
    std::unique_ptr<LmdbCursor> cursor;
    bool started = false;

    explicit Impl(const Recording& rec) : session(rec) {
        if (auto dbi = rec.db(Table::kExceptions)) cursor = std::make_unique<LmdbCursor>(session.txn().get(), *dbi);
    }

    std::optional<ExceptionReport> next() {
        if (!cursor) return std::nullopt;
        MDB_val k{}, v{};
        if (!cursor->get(k, v, started ? MDB_NEXT : MDB_FIRST)) return std::nullopt;
        started = true;
        const Recording& rec = session.rec();
        rec.view(k, "an exceptions key");
        auto seq = schema::decode_u64_key(k.mv_data, k.mv_size);
        if (!seq) session.damaged("an exceptions key of " + std::to_string(k.mv_size) + " bytes");
        std::string where = "exception " + std::to_string(*seq);
        RaisedException e = decode_exception(rec.view(v, where), where);
        if (e.seq != *seq) session.damaged(where + " disagrees with its key");
        ExceptionReport r;
        r.stack = session.resolve_stack(e.stack, e.opcode);
        r.exception = std::move(e);
        return r;
    }
};

ExceptionCursor::ExceptionCursor(const Recording& rec) : impl_(std::make_unique<Impl>(rec)) {}
ExceptionCursor::~ExceptionCursor() = default;

std::optional<ExceptionReport> ExceptionCursor::next() {
    return out_of_memory_is_said(impl_->session.rec(), [&] { return impl_->next(); });
}

}  // namespace spyrec::replayer
