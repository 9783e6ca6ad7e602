// The tables (LMDB sub-databases) of a recording, in one list that the
// recorder writes and the replayer reads. What each holds: keys.h.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

namespace spyrec::schema {

enum class Table : uint8_t {
    kMeta,
    kWatches,
    kChanges,
    kCode,
    kSources,
    kExceptions,
    kByCode,
    kKeyframes,
    kMarks,
    kFileLabels
};

inline constexpr std::array<const char*, 10> kTableNames = {
    "meta", "watches", "changes", "code", "sources", "exceptions", "by_code", "keyframes", "marks", "file_labels",
};
inline constexpr size_t kTableCount = kTableNames.size();

inline constexpr const char* table_name(Table t) { return kTableNames[static_cast<size_t>(t)]; }
inline constexpr size_t table_index(Table t) { return static_cast<size_t>(t); }

}  // namespace spyrec::schema
