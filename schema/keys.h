// The LMDB layout of a recording: key encodings (the tables: tables.h).
// Nothing outside schema/ encodes or decodes a key.
//
// Integers in keys are big-endian so LMDB's default byte-wise ordering sorts
// them numerically: the last change of a watch is one cursor seek.
//
//   meta        "format"  -> 4-byte big-endian kFormatVersion (readable without capnp)
//               "meta"    -> Meta message
//               "ending"  -> Ending message (absent until recording ends)
//   watches     u32 watch id                  -> Watch message
//   changes     u32 watch id, u64 seq         -> Change message
//   code        u64 code id                   -> Code message
//   sources     filename bytes                -> source text (UTF-8), once per file
//   exceptions  u64 seq                       -> RaisedException message
//   by_code     u64 code id, u32 offset, u64 seq -> empty (which changes an instruction made)
//   keyframes   u32 watch id, u64 seq         -> Value: the whole watched value after change
//                                                seq (seq 0: when the watch started). A
//                                                value at any seq is the nearest keyframe
//                                                at or before it plus the ops of the
//                                                changes after it (Change.ops).
//   marks       u64 seq                       -> Mark message (optional table: only
//                                                recordings made by `pytest --spyrec`)
//   file_labels filename bytes                -> what a reader calls that file (UTF-8):
//                                                `In [3]` for a notebook cell (optional)
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spyrec::schema {

inline constexpr std::string_view kFormatKey = "format";
inline constexpr std::string_view kMetaKey = "meta";
inline constexpr std::string_view kEndingKey = "ending";

namespace detail {
template <typename T>
inline void put_be(uint8_t* out, T value) {
    for (size_t i = 0; i < sizeof(T); ++i) {
        out[sizeof(T) - 1 - i] = static_cast<uint8_t>(value >> (8 * i));
    }
}
template <typename T>
inline T get_be(const uint8_t* in) {
    T value = 0;
    for (size_t i = 0; i < sizeof(T); ++i) value = static_cast<T>((value << 8) | in[i]);
    return value;
}
}  // namespace detail

using WatchKey = std::array<uint8_t, 4>;
using ChangeKey = std::array<uint8_t, 12>;
using SeqKey = std::array<uint8_t, 8>;
using ByCodeKey = std::array<uint8_t, 20>;

inline WatchKey watch_key(uint32_t watch_id) {
    WatchKey k{};
    detail::put_be(k.data(), watch_id);
    return k;
}

inline ChangeKey change_key(uint32_t watch_id, uint64_t seq) {
    ChangeKey k{};
    detail::put_be(k.data(), watch_id);
    detail::put_be(k.data() + 4, seq);
    return k;
}

// Keyframes share the ChangeKey shape (watch, seq).
inline ChangeKey keyframe_key(uint32_t watch_id, uint64_t seq) { return change_key(watch_id, seq); }

inline SeqKey seq_key(uint64_t seq) {
    SeqKey k{};
    detail::put_be(k.data(), seq);
    return k;
}

// Code ids share the SeqKey shape (a u64).
inline SeqKey code_key(uint64_t code_id) { return seq_key(code_id); }

inline ByCodeKey by_code_key(uint64_t code_id, uint32_t offset, uint64_t seq) {
    ByCodeKey k{};
    detail::put_be(k.data(), code_id);
    detail::put_be(k.data() + 8, offset);
    detail::put_be(k.data() + 12, seq);
    return k;
}

inline std::array<uint8_t, 4> format_value(uint32_t version) {
    std::array<uint8_t, 4> v{};
    detail::put_be(v.data(), version);
    return v;
}

// A key as the bytes LMDB stores.
template <size_t N>
inline std::string key_bytes(const std::array<uint8_t, N>& key) {
    return std::string(reinterpret_cast<const char*>(key.data()), N);
}
// The same bytes, not copied (valid while `key` lives).
template <size_t N>
inline std::string_view key_view(const std::array<uint8_t, N>& key) {
    return std::string_view(reinterpret_cast<const char*>(key.data()), N);
}

struct DecodedChangeKey {
    uint32_t watch_id;
    uint64_t seq;
};

// Decoders take untrusted bytes: a wrong size is "not a key of this kind".
inline std::optional<DecodedChangeKey> decode_change_key(const void* data, size_t size) {
    if (size != sizeof(ChangeKey)) return std::nullopt;
    auto* p = static_cast<const uint8_t*>(data);
    return DecodedChangeKey{detail::get_be<uint32_t>(p), detail::get_be<uint64_t>(p + 4)};
}

inline std::optional<uint64_t> decode_u64_key(const void* data, size_t size) {
    if (size != 8) return std::nullopt;
    return detail::get_be<uint64_t>(static_cast<const uint8_t*>(data));
}

inline std::optional<uint32_t> decode_u32_key(const void* data, size_t size) {
    if (size != 4) return std::nullopt;
    return detail::get_be<uint32_t>(static_cast<const uint8_t*>(data));
}

}  // namespace spyrec::schema
