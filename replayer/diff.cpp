#include "diff.h"

#include <cmath>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "apply.h"
#include "render.h"

namespace spyrec::replayer {
namespace {

// Path components show keys cut shorter than values: they are for finding.
constexpr size_t kKeyReprLimit = 80;

// A tagged, unambiguous serialization used to match dict keys, set members and
// list items by value.
void canonical(const Value& v, std::string& out) {
    out += static_cast<char>('A' + static_cast<int>(v.kind));
    auto put = [&](std::string_view s) {
        out += std::to_string(s.size());
        out += ':';
        out.append(s);
    };
    put(v.subclass);
    out += std::to_string(v.truncated);
    switch (v.kind) {
        case Value::Kind::Bool: out += v.boolean ? '1' : '0'; break;
        case Value::Kind::Int: out += std::to_string(v.integer); break;
        case Value::Kind::Float: {
            double r = std::isnan(v.real) ? NAN : v.real;
            out.append(reinterpret_cast<const char*>(&r), sizeof r);
            break;
        }
        case Value::Kind::BigInt:
        case Value::Kind::Str:
        case Value::Kind::Bytes:
        case Value::Kind::Repr: put(v.text); break;
        case Value::Kind::Ref:
        case Value::Kind::Redacted: out += std::to_string(v.ref_id); break;  // identity / fingerprint
        default: break;
    }
    put(v.object_type);
    out += '[' + std::to_string(v.items.size()) + ':';
    for (const Value& item : v.items) canonical(item, out);
    out += '{' + std::to_string(v.entries.size()) + ':';
    for (const Entry& e : v.entries) {
        canonical(e.key, out);
        canonical(e.value, out);
    }
}

std::string canonical(const Value& v) {
    std::string out;
    canonical(v, out);
    return out;
}

class Differ {
public:
    std::vector<std::string> lines;

    void walk(const Value& a, const Value& b, const std::string& path) {
        if (same(a, b) || stopped()) return;
        if (a.kind != b.kind || a.subclass != b.subclass) return replaced(a, b, path);
        size_t lines_before = lines.size();
        switch (a.kind) {
            case Value::Kind::List:
            case Value::Kind::Tuple: sequence(a.items, b.items, path); break;
            case Value::Kind::Set:
            case Value::Kind::FrozenSet: members(a.items, b.items, path); break;
            case Value::Kind::Dict: entries(a.entries, b.entries, path, false); break;
            case Value::Kind::Object:
                if (a.object_type != b.object_type) return replaced(a, b, path);
                entries(a.entries, b.entries, path, true);
                break;
            default: return replaced(a, b, path);
        }
        if (a.truncated != b.truncated) {
            emit("~ " + with_colon(path) + more_marker(a.truncated) + " -> " + more_marker(b.truncated));
        }
        // Same members in another order (a re-sorted dict or set): still a change.
        if (lines.size() == lines_before) replaced(a, b, path);
    }

    void added(const Value& v, const std::string& path) { emit("+ " + spaced(path) + repr(v)); }
    void removed(const Value& v, const std::string& path) { emit("- " + spaced(path) + repr(v)); }

private:
    bool stopped() const { return lines.size() > kMaxDiffLines; }

    void emit(std::string line) {
        if (lines.size() < kMaxDiffLines) {
            lines.push_back(std::move(line));
        } else if (lines.size() == kMaxDiffLines) {
            lines.push_back("... more differences not shown");
        }
    }

    static std::string spaced(const std::string& path) { return path.empty() ? path : path + " "; }
    static std::string with_colon(const std::string& path) { return path.empty() ? path : path + ": "; }

    void replaced(const Value& a, const Value& b, const std::string& path) {
        emit("~ " + with_colon(path) + repr(a) + " -> " + repr(b));
    }

    static std::string index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

    void sequence(const std::vector<Value>& a, const std::vector<Value>& b, const std::string& path) {
        if (a.size() == b.size()) {
            for (size_t i = 0; i < a.size() && !stopped(); ++i) walk(a[i], b[i], index(path, i));
            return;
        }
        // Trim the common ends: an append or a prepend never reaches the LCS.
        size_t prefix = 0;
        while (prefix < a.size() && prefix < b.size() && same(a[prefix], b[prefix])) ++prefix;
        size_t suffix = 0;
        while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
               same(a[a.size() - 1 - suffix], b[b.size() - 1 - suffix])) {
            ++suffix;
        }
        size_t n = a.size() - prefix - suffix;
        size_t m = b.size() - prefix - suffix;
        if (n > kLcsLimit || m > kLcsLimit) {
            emit("~ " + with_colon(path) + "replaced (" + std::to_string(a.size()) + " items -> " +
                 std::to_string(b.size()) + " items)");
            return;
        }
        // Compare items by id of their canonical form: O(n*m) int compares.
        std::unordered_map<std::string, uint32_t> ids;
        auto id_of = [&](const Value& v) {
            return ids.emplace(canonical(v), static_cast<uint32_t>(ids.size())).first->second;
        };
        std::vector<uint32_t> x(n), y(m);
        for (size_t i = 0; i < n; ++i) x[i] = id_of(a[prefix + i]);
        for (size_t j = 0; j < m; ++j) y[j] = id_of(b[prefix + j]);
        // lcs[i][j]: LCS length of x[i..] and y[j..].
        std::vector<uint16_t> lcs((n + 1) * (m + 1), 0);
        auto at = [&](size_t i, size_t j) -> uint16_t& { return lcs[i * (m + 1) + j]; };
        for (size_t i = n; i-- > 0;) {
            for (size_t j = m; j-- > 0;) {
                at(i, j) =
                    x[i] == y[j] ? static_cast<uint16_t>(at(i + 1, j + 1) + 1) : std::max(at(i + 1, j), at(i, j + 1));
            }
        }
        size_t i = 0, j = 0;
        while ((i < n || j < m) && !stopped()) {
            if (i < n && j < m && x[i] == y[j]) {
                ++i, ++j;
            } else if (j == m || (i < n && at(i + 1, j) >= at(i, j + 1))) {
                removed(a[prefix + i], index(path, prefix + i));
                ++i;
            } else {
                added(b[prefix + j], index(path, prefix + j));
                ++j;
            }
        }
    }

    void members(const std::vector<Value>& a, const std::vector<Value>& b, const std::string& path) {
        std::unordered_set<std::string> in_a, in_b;
        for (const Value& v : a) in_a.insert(canonical(v));
        for (const Value& v : b) in_b.insert(canonical(v));
        for (const Value& v : a) {
            if (!in_b.count(canonical(v))) emit("- " + spaced(path) + "{" + repr(v) + "}");
        }
        for (const Value& v : b) {
            if (!in_a.count(canonical(v))) emit("+ " + spaced(path) + "{" + repr(v) + "}");
        }
    }

    static std::string key_path(const std::string& path, const Value& key, bool attribute) {
        if (attribute && key.kind == Value::Kind::Str) return path + "." + key.text;
        return path + "[" + repr(key, kKeyReprLimit) + "]";
    }

    void entries(const std::vector<Entry>& a, const std::vector<Entry>& b, const std::string& path, bool attribute) {
        std::unordered_map<std::string, size_t> index_a, index_b;
        for (size_t i = 0; i < a.size(); ++i) index_a.emplace(canonical(a[i].key), i);
        for (size_t j = 0; j < b.size(); ++j) index_b.emplace(canonical(b[j].key), j);
        for (const Entry& e : a) {
            if (stopped()) return;
            auto it = index_b.find(canonical(e.key));
            if (it == index_b.end()) {
                removed(e.value, key_path(path, e.key, attribute));
            } else {
                walk(e.value, b[it->second].value, key_path(path, e.key, attribute));
            }
        }
        for (const Entry& e : b) {
            if (stopped()) return;
            if (!index_a.count(canonical(e.key))) added(e.value, key_path(path, e.key, attribute));
        }
    }
};

}  // namespace

std::vector<std::string> diff(const Value& before, const Value& after) {
    Differ d;
    d.walk(before, after, "");
    return std::move(d.lines);
}

std::vector<std::string> diff(const std::optional<Value>& before, const std::optional<Value>& after) {
    if (before && after) return diff(*before, *after);
    Differ d;
    if (after) d.added(*after, "");
    if (before) d.removed(*before, "");
    return std::move(d.lines);
}

}  // namespace spyrec::replayer
