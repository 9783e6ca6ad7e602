// Short constructors for replayer Values in tests: S("a"), I(1), L({...}) ...
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "records.h"

namespace spyrec::testing {

using spyrec::replayer::Entry;
using spyrec::replayer::Value;
using Kind = Value::Kind;

inline Value V(Kind k) {
    Value v;
    v.kind = k;
    return v;
}
inline Value None() { return V(Kind::None); }
inline Value B(bool b) { Value v = V(Kind::Bool); v.boolean = b; return v; }
inline Value I(int64_t i) { Value v = V(Kind::Int); v.integer = i; return v; }
inline Value F(double d) { Value v = V(Kind::Float); v.real = d; return v; }
inline Value S(std::string s) { Value v = V(Kind::Str); v.text = std::move(s); return v; }
inline Value Bytes(std::string s) { Value v = V(Kind::Bytes); v.text = std::move(s); return v; }
inline Value Big(std::string s) { Value v = V(Kind::BigInt); v.text = std::move(s); return v; }
inline Value Items(Kind k, std::vector<Value> items) { Value v = V(k); v.items = std::move(items); return v; }
inline Value L(std::vector<Value> items) { return Items(Kind::List, std::move(items)); }
inline Value T(std::vector<Value> items) { return Items(Kind::Tuple, std::move(items)); }
inline Value Set(std::vector<Value> items) { return Items(Kind::Set, std::move(items)); }
inline Value D(std::vector<std::pair<Value, Value>> kvs) {
    Value v = V(Kind::Dict);
    for (auto& [k, x] : kvs) v.entries.push_back(Entry{std::move(k), std::move(x)});
    return v;
}
inline Value Obj(std::string type, std::vector<std::pair<std::string, Value>> attrs) {
    Value v = V(Kind::Object);
    v.object_type = std::move(type);
    for (auto& [k, x] : attrs) v.entries.push_back(Entry{S(k), std::move(x)});
    return v;
}
inline Value StrList(std::vector<std::string> items) {
    Value v = V(Kind::List);
    for (auto& s : items) v.items.push_back(S(s));
    return v;
}

}  // namespace spyrec::testing
