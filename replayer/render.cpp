#include "render.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string_view>

namespace spyrec::replayer {
namespace {

// Appends until the bound is passed; past it, callers stop descending, so a
// huge value costs O(limit) to render, not O(size).
struct Out {
    std::string text;
    size_t limit;
    bool full() const { return text.size() > limit; }
    Out& operator<<(std::string_view s) {
        if (!full()) text.append(s);
        return *this;
    }
};

// Decodes one UTF-8 sequence (surrogates allowed: a recorder may keep lone
// surrogates with "surrogatepass"). Returns the length used, 0 when invalid.
size_t next_code_point(std::string_view s, size_t i, uint32_t& cp) {
    auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
    uint8_t c = b(i);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    cp = n == 1 ? c : c & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
        if ((b(i + k) & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (b(i + k) & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff) return 0;  // overlong or out of range
    return n;
}

// An approximation of Python's str.isprintable() for non-ASCII: the separator
// and format characters, controls, surrogates and private use that Python
// escapes. Exact agreement would need the Unicode database; a miss only
// changes whether a character shows raw or escaped.
bool printable(uint32_t cp) {
    if (cp < 0x20 || cp == 0x7f) return false;
    if (cp < 0x7f) return true;
    if (cp <= 0xa0 || cp == 0xad) return false;
    if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202f)) return false;
    if ((cp >= 0x205f && cp <= 0x206f) || cp == 0x3000 || cp == 0xfeff) return false;
    if ((cp >= 0xd800 && cp <= 0xf8ff) || (cp >= 0xfff9 && cp <= 0xfffb)) return false;
    if (cp == 0xfffe || cp == 0xffff || cp >= 0xf0000) return false;
    return true;
}

void escape(std::string& out, uint32_t cp) {
    char buf[16];
    if (cp < 0x100)
        std::snprintf(buf, sizeof buf, "\\x%02x", cp);
    else if (cp < 0x10000)
        std::snprintf(buf, sizeof buf, "\\u%04x", cp);
    else
        std::snprintf(buf, sizeof buf, "\\U%08x", cp);
    out += buf;
}

void render(const Value& v, Out& out);

void render_items(const std::vector<Value>& items, uint64_t truncated, Out& out) {
    bool first = true;
    for (const Value& item : items) {
        if (out.full()) return;
        if (!first) out << ", ";
        first = false;
        render(item, out);
    }
    if (truncated) out << (first ? "" : ", ") << more_marker(truncated);
}

void render_base(const Value& v, Out& out) {
    switch (v.kind) {
        case Value::Kind::None: out << "None"; break;
        case Value::Kind::Bool: out << (v.boolean ? "True" : "False"); break;
        case Value::Kind::Int: out << std::to_string(v.integer); break;
        case Value::Kind::BigInt: out << v.text; break;
        case Value::Kind::Float: out << float_repr(v.real); break;
        case Value::Kind::Str: out << str_repr(v.text); break;
        case Value::Kind::Bytes: out << bytes_repr(v.text); break;
        case Value::Kind::Repr: out << v.text; break;
        case Value::Kind::Cycle: out << "<cycle>"; break;
        case Value::Kind::TooDeep: out << "<...>"; break;
        case Value::Kind::Ref: out << ref_repr(v); break;
        case Value::Kind::Redacted: out << "<redacted, fingerprint " << fingerprint_text(v) << ">"; break;
        case Value::Kind::List:
            out << "[";
            render_items(v.items, v.truncated, out);
            out << "]";
            return;
        case Value::Kind::Tuple:
            out << "(";
            render_items(v.items, v.truncated, out);
            out << (v.items.size() == 1 && !v.truncated ? ",)" : ")");
            return;
        case Value::Kind::Set:
            if (v.items.empty() && !v.truncated) {
                out << "set()";
                return;
            }
            out << "{";
            render_items(v.items, v.truncated, out);
            out << "}";
            return;
        case Value::Kind::FrozenSet:
            if (v.items.empty() && !v.truncated) {
                out << "frozenset()";
                return;
            }
            out << "frozenset({";
            render_items(v.items, v.truncated, out);
            out << "})";
            return;
        case Value::Kind::Dict:
        case Value::Kind::Object: {
            bool object = v.kind == Value::Kind::Object;
            out << (object ? v.object_type + "(" : "{");
            bool first = true;
            for (const Entry& e : v.entries) {
                if (out.full()) break;
                if (!first) out << ", ";
                first = false;
                if (object && e.key.kind == Value::Kind::Str) {
                    out << e.key.text << "=";
                } else {
                    render(e.key, out);
                    out << (object ? "=" : ": ");
                }
                render(e.value, out);
            }
            if (v.truncated) out << (first ? "" : ", ") << more_marker(v.truncated);
            out << (object ? ")" : "}");
            return;
        }
    }
    // Scalars: a truncated string or repr says how much was left out.
    if (v.truncated) out << " " << more_marker(v.truncated);
}

void render(const Value& v, Out& out) {
    if (out.full()) return;
    if (!v.subclass.empty() && v.kind != Value::Kind::Object) {
        out << v.subclass << "(";
        render_base(v, out);
        out << ")";
    } else {
        render_base(v, out);
    }
}

bool is_decimal_integer(const std::string& s) {
    size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
    if (i == s.size()) return false;
    for (; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
    }
    return true;
}

Json json_str(std::string s) {
    Json j;
    j.kind = Json::Kind::Str;
    j.text = std::move(s);
    return j;
}

}  // namespace

std::string ref_repr(const Value& v) {
    if (!v.text.empty()) return v.text;
    char id[32];
    std::snprintf(id, sizeof id, "%llx", static_cast<unsigned long long>(v.ref_id));
    return "<" + (v.object_type.empty() ? std::string("object") : v.object_type) + " object #" + id + ">";
}

std::string more_marker(uint64_t truncated) { return "<" + std::to_string(truncated) + " more>"; }

std::string fingerprint_text(const Value& redacted) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(redacted.ref_id));
    return std::string(hex, 12);
}

std::string repr(const Value& value, size_t limit) {
    Out out{std::string(), limit};
    render(value, out);
    if (out.text.size() > limit) {
        size_t cut = limit;
        while (cut > 0 && (static_cast<uint8_t>(out.text[cut]) & 0xc0) == 0x80) --cut;
        out.text.resize(cut);
        out.text += "...";
    }
    return out.text;
}

std::string float_repr(double value) {
    if (std::isnan(value)) return "nan";
    if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
    std::string s(buf, res.ptr);  // shortest round-trip: "-1.2345e+05", "1e+16"
    std::string sign;
    if (s[0] == '-') {
        sign = "-";
        s.erase(0, 1);
    }
    size_t e = s.find('e');
    int exp = std::stoi(s.substr(e + 1));
    std::string digits = s.substr(0, e);
    if (digits.size() > 1) digits.erase(1, 1);  // drop the '.'
    // Python's repr uses fixed notation for 1e-4 <= |x| < 1e16 (float_repr_style 'r').
    if (exp >= -4 && exp < 16) {
        std::string fixed;
        if (exp >= 0) {
            size_t int_len = static_cast<size_t>(exp) + 1;
            if (digits.size() <= int_len) {
                fixed = digits + std::string(int_len - digits.size(), '0') + ".0";
            } else {
                fixed = digits.substr(0, int_len) + "." + digits.substr(int_len);
            }
        } else {
            fixed = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
        }
        return sign + fixed;
    }
    std::string mantissa = digits.size() > 1 ? digits.substr(0, 1) + "." + digits.substr(1) : digits;
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return sign + mantissa + ebuf;
}

std::string str_repr(std::string_view s) {
    bool has_single = s.find('\'') != std::string_view::npos;
    bool has_double = s.find('"') != std::string_view::npos;
    char quote = (has_single && !has_double) ? '"' : '\'';
    std::string out(1, quote);
    for (size_t i = 0; i < s.size();) {
        uint32_t cp = 0;
        size_t n = next_code_point(s, i, cp);
        if (n == 0) {  // not UTF-8: show the byte rather than guess
            escape(out, static_cast<uint8_t>(s[i]));
            ++i;
            continue;
        }
        if (cp == static_cast<uint32_t>(quote) || cp == '\\') {
            out += '\\';
            out += static_cast<char>(cp);
        } else if (cp == '\n') {
            out += "\\n";
        } else if (cp == '\r') {
            out += "\\r";
        } else if (cp == '\t') {
            out += "\\t";
        } else if (!printable(cp)) {
            escape(out, cp);
        } else {
            out.append(s.substr(i, n));
        }
        i += n;
    }
    out += quote;
    return out;
}

std::string bytes_repr(std::string_view s) {
    bool has_single = s.find('\'') != std::string_view::npos;
    bool has_double = s.find('"') != std::string_view::npos;
    char quote = (has_single && !has_double) ? '"' : '\'';
    std::string out = "b";
    out += quote;
    for (char ch : s) {
        auto c = static_cast<uint8_t>(ch);
        if (c == static_cast<uint8_t>(quote) || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c >= 0x7f) {
            escape(out, c);
        } else {
            out += ch;
        }
    }
    out += quote;
    return out;
}

namespace {

// The member names of spyrec's marker objects (and an object's class). A key
// of the program's own that spells one is shown as its repr ('__more__'),
// like any key that is not plain text, so data never reads as a marker.
bool is_marker_name(const std::string& key) {
    static const char* const kNames[] = {"__cycle__", "__too_deep__", "__more__",
                                         "__text__",  "__redacted__", "__class__"};
    auto named = [](std::string_view k) {
        return std::any_of(std::begin(kNames), std::end(kNames), [&](const char* n) { return k == n; });
    };
    // ... or spells one's repr ('__more__'), which is what an escaped one reads as.
    bool quoted = key.size() > 2 && (key.front() == '\'' || key.front() == '"') && key.back() == key.front();
    return named(key) || (quoted && named(std::string_view(key).substr(1, key.size() - 2)));
}

}  // namespace

Json to_json(const Value& v) {
    // Keys are shown in full: they are usually short, and a cut key could
    // make two different keys look the same.
    constexpr size_t kKeyLimit = 1000;
    Json j;
    // What spyrec adds to a value (a cut, a cycle, a depth limit) is a marker
    // object, never a look-alike string: {"__more__": 3}, {"__cycle__": true}.
    auto marker = [](const char* name, Json value) {
        Json m;
        m.kind = Json::Kind::Object;
        m.members.push_back({name, std::move(value)});
        return m;
    };
    auto count = [](uint64_t n) {
        Json c;
        c.kind = Json::Kind::Int;
        c.integer = static_cast<int64_t>(n);
        return c;
    };
    auto yes = [] {
        Json b;
        b.kind = Json::Kind::Bool;
        b.boolean = true;
        return b;
    };
    // Text stored cut: {"__text__": "the first part", "__more__": 12345}.
    auto marked = [&](std::string text) {
        if (!v.truncated) return json_str(std::move(text));
        Json m = marker("__text__", json_str(std::move(text)));
        m.members.push_back({"__more__", count(v.truncated)});
        return m;
    };
    switch (v.kind) {
        case Value::Kind::None: return j;
        case Value::Kind::Bool:
            j.kind = Json::Kind::Bool;
            j.boolean = v.boolean;
            return j;
        case Value::Kind::Int:
            j.kind = Json::Kind::Int;
            j.integer = v.integer;
            return j;
        case Value::Kind::BigInt:
            if (!is_decimal_integer(v.text)) return json_str(v.text);
            j.kind = Json::Kind::BigInt;
            j.text = v.text;
            return j;
        case Value::Kind::Float:
            if (!std::isfinite(v.real)) return json_str(float_repr(v.real));
            j.kind = Json::Kind::Float;
            j.real = v.real;
            return j;
        case Value::Kind::Str: return marked(v.text);
        case Value::Kind::Bytes: return marked(bytes_repr(v.text));
        case Value::Kind::Repr: return marked(v.text);
        case Value::Kind::Cycle: return marker("__cycle__", yes());
        case Value::Kind::TooDeep: return marker("__too_deep__", yes());
        case Value::Kind::Ref: return json_str(ref_repr(v));
        case Value::Kind::Redacted: {
            // {"__redacted__": true, "fingerprint": "..."}
            j = marker("__redacted__", yes());
            j.members.push_back({"fingerprint", json_str(fingerprint_text(v))});
            return j;
        }
        case Value::Kind::List:
        case Value::Kind::Tuple:
        case Value::Kind::Set:
        case Value::Kind::FrozenSet:
            j.kind = Json::Kind::Array;
            j.items.reserve(v.items.size() + (v.truncated ? 1 : 0));
            for (const Value& item : v.items) j.items.push_back(to_json(item));
            if (v.truncated) j.items.push_back(marker("__more__", count(v.truncated)));
            return j;
        case Value::Kind::Dict:
        case Value::Kind::Object:
            j.kind = Json::Kind::Object;
            if (v.kind == Value::Kind::Object) j.members.push_back({"__class__", json_str(v.object_type)});
            for (const Entry& e : v.entries) {
                bool plain = e.key.kind == Value::Kind::Str && !is_marker_name(e.key.text);
                std::string key = plain ? e.key.text : repr(e.key, kKeyLimit);
                j.members.push_back({std::move(key), to_json(e.value)});
            }
            if (v.truncated) j.members.push_back({"__more__", count(v.truncated)});
            return j;
    }
    return j;
}

}  // namespace spyrec::replayer
