// libFuzzer target over everything that reads untrusted recording bytes:
// replayer decode_* (Cap'n Proto -> records), then render (repr, to_json) and
// diff on whatever decoded. The contract under test (decode.h): any input
// either decodes or throws RecordingError; nothing crashes, hangs, leaks or
// trips ASan/UBSan.
//
// Input layout: byte 0 picks the decoder (see kDecoders); the rest is the
// record. For the two-Value selector (7) the rest is a little-endian u32 word
// count N, then N words of the first Value message, then the second, so diff
// sees two independent values. Seeds are real records (fuzz_seeds dumps them).
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "apply.h"
#include "decode.h"
#include "diff.h"
#include "recording_error.h"
#include "render.h"

using namespace spyrec::replayer;

namespace {

void exercise(const Value& v) {
    volatile size_t sink = repr(v).size();
    sink = sink + repr(v, 20).size();
    Json j = to_json(v);
    sink = sink + j.items.size() + j.members.size();
    sink = sink + diff(v, v).size();
    (void)sink;
}

void exercise(const std::optional<Value>& a, const std::optional<Value>& b) {
    if (a) exercise(*a);
    if (b) exercise(*b);
    volatile size_t sink = diff(a, b).size();
    if (a && b) sink = sink + diff(*b, *a).size() + (same(*a, *b) ? 1 : 0);
    (void)sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    uint8_t selector = data[0] % 8;
    std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    try {
        switch (selector) {
            case 0: {
                Meta m = decode_meta(bytes, "fuzz");
                (void)m;
                break;
            }
            case 1: {
                Ending e = decode_ending(bytes, "fuzz");
                (void)how_name(e.how);
                break;
            }
            case 2: {
                Watch w = decode_watch(bytes, "fuzz");
                (void)w.never_found();
                break;
            }
            case 3: exercise(decode_value(bytes, "fuzz")); break;
            case 4: {
                Change c = decode_change(bytes, "fuzz");
                (void)kind_name(c.kind);
                // Hostile ops on a value of their own making: apply() must
                // throw RecordingError or succeed, whatever the path and shape.
                for (const Op& op : c.ops) {
                    Value root = op.kind == Op::Kind::Replace ? op.value : op.entry.value;
                    std::optional<Value> before = root;
                    try {
                        apply(root, c.ops, "fuzz");
                    } catch (const RecordingError&) {}
                    exercise(before, root);
                }
                break;
            }
            case 5: {
                Code c = decode_code(bytes, "fuzz");
                (void)c;
                break;
            }
            case 6: {
                RaisedException e = decode_exception(bytes, "fuzz");
                (void)e;
                break;
            }
            case 7: {
                if (bytes.size() < 4) break;
                uint32_t words = uint32_t(uint8_t(bytes[0])) | uint32_t(uint8_t(bytes[1])) << 8 |
                                 uint32_t(uint8_t(bytes[2])) << 16 | uint32_t(uint8_t(bytes[3])) << 24;
                bytes.remove_prefix(4);
                size_t half = std::min<size_t>(size_t{words} * 8, bytes.size());
                std::optional<Value> a, b;
                try {
                    a = decode_value(bytes.substr(0, half), "fuzz a");
                } catch (const RecordingError&) {}
                try {
                    b = decode_value(bytes.substr(half), "fuzz b");
                } catch (const RecordingError&) {}
                exercise(a, b);
                break;
            }
        }
    } catch (const RecordingError& e) {
        // The one allowed failure: a one-line message.
        std::string_view what = e.what();
        if (what.find('\n') != std::string_view::npos) __builtin_trap();
    }
    return 0;
}
