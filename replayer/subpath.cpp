#include "subpath.h"

#include "apply.h"

namespace spyrec::replayer {
namespace {

const Value* find(const std::vector<Entry>& entries, const Value& key) {
    for (const Entry& e : entries) {
        if (same(e.key, key)) return &e.value;
    }
    return nullptr;
}

const Value* step_into(const Value& v, const SubStep& step) {
    if (step.attribute) {
        // Only a plain object's own attributes were recorded; an object
        // compared by identity (a Ref) has none to offer.
        return v.kind == Value::Kind::Object ? find(v.entries, step.key) : nullptr;
    }
    switch (v.kind) {
        case Value::Kind::Dict: return find(v.entries, step.key);
        case Value::Kind::List:
        case Value::Kind::Tuple: {
            if (step.key.kind != Value::Kind::Int) return nullptr;
            auto size = static_cast<int64_t>(v.items.size());
            int64_t i = step.key.integer < 0 ? step.key.integer + size : step.key.integer;
            return i >= 0 && i < size ? &v.items[static_cast<size_t>(i)] : nullptr;
        }
        default: return nullptr;
    }
}

}  // namespace

const Value* entry_value(const Value& mapping, const Value& key) {
    if (mapping.kind != Value::Kind::Dict && mapping.kind != Value::Kind::Object) return nullptr;
    return find(mapping.entries, key);
}

const Value* locate(const Value& root, const std::vector<SubStep>& steps) {
    const Value* at = &root;
    for (const SubStep& step : steps) {
        at = step_into(*at, step);
        if (!at) return nullptr;
    }
    return at;
}

}  // namespace spyrec::replayer
