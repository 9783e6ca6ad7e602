// Short constructors for replayer Values in tests: S("a"), I(1), L({...}) ...
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "records.h"

namespace spyrec::testing {

using spyrec::replayer::Entry;
using spyrec::replayer::Op;
using spyrec::replayer::PathStep;
using spyrec::replayer::Value;
using Kind = Value::Kind;

inline Value V(Kind k) {
    Value v;
    v.kind = k;
    return v;
}
inline Value None() { return V(Kind::None); }
inline Value B(bool b) {
    Value v = V(Kind::Bool);
    v.boolean = b;
    return v;
}
inline Value I(int64_t i) {
    Value v = V(Kind::Int);
    v.integer = i;
    return v;
}
inline Value F(double d) {
    Value v = V(Kind::Float);
    v.real = d;
    return v;
}
inline Value S(std::string s) {
    Value v = V(Kind::Str);
    v.text = std::move(s);
    return v;
}
inline Value Bytes(std::string s) {
    Value v = V(Kind::Bytes);
    v.text = std::move(s);
    return v;
}
inline Value Big(std::string s) {
    Value v = V(Kind::BigInt);
    v.text = std::move(s);
    return v;
}
inline Value Items(Kind k, std::vector<Value> items) {
    Value v = V(k);
    v.items = std::move(items);
    return v;
}
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

inline Value Ref(std::string type, uint64_t id, std::string repr_text = "") {
    Value v = V(Kind::Ref);
    v.object_type = std::move(type);
    v.ref_id = id;
    v.text = std::move(repr_text);
    return v;
}

// Ops, path first: Ix(2) indexes a list or tuple, Key(S("k")) looks up a dict
// key or (a Str) an attribute.
using Path = std::vector<PathStep>;
inline PathStep Ix(uint64_t i) {
    PathStep p;
    p.is_index = true;
    p.index = i;
    return p;
}
inline PathStep Key(Value k) {
    PathStep p;
    p.key = std::move(k);
    return p;
}
inline Op op(Op::Kind kind, Path path) {
    Op o;
    o.kind = kind;
    o.path = std::move(path);
    return o;
}
inline Op SetItem(Path path, Value k, Value v) {
    Op o = op(Op::Kind::SetItem, std::move(path));
    o.entry = Entry{std::move(k), std::move(v)};
    return o;
}
inline Op DelItem(Path path, Value k) {
    Op o = op(Op::Kind::DeleteItem, std::move(path));
    o.value = std::move(k);
    return o;
}
inline Op Splice(Path path, uint64_t start, uint64_t end, std::vector<Value> items) {
    Op o = op(Op::Kind::Splice, std::move(path));
    o.start = start;
    o.end = end;
    o.items = std::move(items);
    return o;
}
inline Op AddEl(Path path, std::vector<Value> items) {
    Op o = op(Op::Kind::AddElements, std::move(path));
    o.items = std::move(items);
    return o;
}
inline Op RemoveEl(Path path, std::vector<Value> items) {
    Op o = op(Op::Kind::RemoveElements, std::move(path));
    o.items = std::move(items);
    return o;
}
inline Op Replace(Path path, Value v) {
    Op o = op(Op::Kind::Replace, std::move(path));
    o.value = std::move(v);
    return o;
}

}  // namespace spyrec::testing
