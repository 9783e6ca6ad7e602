#include "apply.h"

#include <cmath>
#include <cstring>
#include <string>

#include "recording_error.h"
#include "render.h"

namespace spyrec::replayer {
namespace {

[[noreturn]] void damaged(std::string_view where, const std::string& why) {
    throw RecordingError("damaged recording: " + std::string(where) + ": " + why);
}

bool same_float(double a, double b) {
    if (std::isnan(a) && std::isnan(b)) return true;
    return std::memcmp(&a, &b, sizeof a) == 0;  // 0.0 vs -0.0 is a change of repr
}

bool same_entries(const std::vector<Entry>& a, const std::vector<Entry>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (!same(a[i].key, b[i].key) || !same(a[i].value, b[i].value)) return false;
    }
    return true;
}

bool is_sequence(const Value& v) { return v.kind == Value::Kind::List || v.kind == Value::Kind::Tuple; }
bool is_mapping(const Value& v) { return v.kind == Value::Kind::Dict || v.kind == Value::Kind::Object; }
bool is_set(const Value& v) { return v.kind == Value::Kind::Set || v.kind == Value::Kind::FrozenSet; }

const char* shape(const Value& v) {
    switch (v.kind) {
        case Value::Kind::List: return "a list";
        case Value::Kind::Tuple: return "a tuple";
        case Value::Kind::Dict: return "a dict";
        case Value::Kind::Object: return "an object";
        case Value::Kind::Set: return "a set";
        case Value::Kind::FrozenSet: return "a frozenset";
        default: return "a value that is not a container";
    }
}

// Linear: a Value keeps its entries in recorded order and has no index. A
// change touches a few keys, so this is O(entries) per op.
Entry* find_entry(Value& container, const Value& key) {
    for (Entry& e : container.entries) {
        if (same(e.key, key)) return &e;
    }
    return nullptr;
}

std::string key_text(const Value& key) { return repr(key, 80); }

// The container an op edits: its path followed from the root.
Value& follow(Value& root, const std::vector<PathStep>& path, std::string_view where) {
    Value* at = &root;
    for (const PathStep& step : path) {
        if (step.is_index) {
            if (!is_sequence(*at)) damaged(where, std::string("an op's path indexes ") + shape(*at));
            if (step.index >= at->items.size()) {
                damaged(where, "an op's path index " + std::to_string(step.index) + " is out of range (" +
                                   std::to_string(at->items.size()) + " items)");
            }
            at = &at->items[step.index];
        } else {
            if (!is_mapping(*at)) damaged(where, std::string("an op's path looks up a key in ") + shape(*at));
            Entry* e = find_entry(*at, step.key);
            if (!e) damaged(where, "an op's path key " + key_text(step.key) + " is not there");
            at = &e->value;
        }
    }
    return *at;
}

}  // namespace

bool same(const Value& a, const Value& b) {
    if (a.kind != b.kind || a.truncated != b.truncated || a.subclass != b.subclass) return false;
    switch (a.kind) {
        case Value::Kind::None:
        case Value::Kind::Cycle:
        case Value::Kind::TooDeep: return true;
        case Value::Kind::Bool: return a.boolean == b.boolean;
        case Value::Kind::Int: return a.integer == b.integer;
        case Value::Kind::Float: return same_float(a.real, b.real);
        case Value::Kind::BigInt:
        case Value::Kind::Str:
        case Value::Kind::Bytes:
        case Value::Kind::Repr: return a.text == b.text;
        case Value::Kind::Ref: return a.ref_id == b.ref_id && a.object_type == b.object_type;
        case Value::Kind::Redacted: return a.ref_id == b.ref_id;
        case Value::Kind::List:
        case Value::Kind::Tuple:
        case Value::Kind::Set:
        case Value::Kind::FrozenSet:
            if (a.items.size() != b.items.size()) return false;
            for (size_t i = 0; i < a.items.size(); ++i) {
                if (!same(a.items[i], b.items[i])) return false;
            }
            return true;
        case Value::Kind::Dict: return same_entries(a.entries, b.entries);
        case Value::Kind::Object: return a.object_type == b.object_type && same_entries(a.entries, b.entries);
    }
    return false;
}

void apply(Value& root, const Op& op, std::string_view where) {
    Value& target = follow(root, op.path, where);
    switch (op.kind) {
        case Op::Kind::Replace: target = op.value; return;
        case Op::Kind::SetItem: {
            if (!is_mapping(target)) damaged(where, std::string("a setItem op on ") + shape(target));
            // Python dicts keep insertion order: a new key goes last, a
            // replaced one keeps its place.
            if (Entry* e = find_entry(target, op.entry.key)) {
                e->value = op.entry.value;
            } else {
                target.entries.push_back(op.entry);
            }
            return;
        }
        case Op::Kind::DeleteItem: {
            if (!is_mapping(target)) damaged(where, std::string("a deleteItem op on ") + shape(target));
            Entry* e = find_entry(target, op.value);
            if (!e) damaged(where, "a deleteItem op of key " + key_text(op.value) + ", which is not there");
            target.entries.erase(target.entries.begin() + (e - target.entries.data()));
            return;
        }
        case Op::Kind::Splice: {
            if (!is_sequence(target)) damaged(where, std::string("a splice op on ") + shape(target));
            if (op.start > op.end || op.end > target.items.size()) {
                damaged(where, "a splice op of [" + std::to_string(op.start) + ":" + std::to_string(op.end) + "] on " +
                                   std::to_string(target.items.size()) + " items");
            }
            auto first = target.items.begin() + static_cast<std::ptrdiff_t>(op.start);
            auto last = target.items.begin() + static_cast<std::ptrdiff_t>(op.end);
            size_t common = std::min<size_t>(op.end - op.start, op.items.size());
            // Overwrite in place what both ranges share, then erase or insert
            // the rest: a same-length splice moves nothing.
            std::copy(op.items.begin(), op.items.begin() + static_cast<std::ptrdiff_t>(common), first);
            first += static_cast<std::ptrdiff_t>(common);
            if (first != last) {
                target.items.erase(first, last);
            } else {
                target.items.insert(first, op.items.begin() + static_cast<std::ptrdiff_t>(common), op.items.end());
            }
            return;
        }
        case Op::Kind::AddElements:
            if (!is_set(target)) damaged(where, std::string("an addElements op on ") + shape(target));
            // The recorder names members that were not there; trusting it
            // keeps two distinct NaNs (equal here) both in the set.
            target.items.insert(target.items.end(), op.items.begin(), op.items.end());
            return;
        case Op::Kind::RemoveElements:
            if (!is_set(target)) damaged(where, std::string("a removeElements op on ") + shape(target));
            for (const Value& member : op.items) {
                auto it = target.items.begin();
                while (it != target.items.end() && !same(*it, member)) ++it;
                if (it == target.items.end()) {
                    damaged(where, "a removeElements op of " + key_text(member) + ", which is not there");
                }
                target.items.erase(it);
            }
            return;
    }
    damaged(where, "an op of unknown kind");
}

void apply(Value& root, const std::vector<Op>& ops, std::string_view where) {
    for (const Op& op : ops) apply(root, op, where);
}

}  // namespace spyrec::replayer
