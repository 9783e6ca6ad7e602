// The records waiting for the writer thread, their bytes in one buffer.
//
// Why not a vector of records owning their strings: every recorded change
// then allocated its key and value on the program's thread and the writer
// thread freed them, and glibc's malloc serialises such frees on the
// allocating thread's arena lock: the program's thread woke the writer in
// malloc (futex), about a tenth of a recorded change's cost. Here the writer
// and the program swap two batches whose buffers keep their capacity: in
// steady state, enqueueing a record copies its bytes and allocates nothing.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tables.h"

namespace spyrec::recorder {

using schema::Table;

// A record that must be committed together with another, or not at all (a
// change, or a watch, and the keyframe of its value).
struct Attachment {
    Table table;
    std::string key;
    std::string value;
};

// A record: views of its key and value (into a batch's buffer when read
// from one, valid until it is cleared).
struct RecordView {
    Table table;
    std::string_view key;
    std::string_view value;
    bool has_with = false;  // a second record, put in the same transaction and cut together
    Table with_table = Table::kMeta;
    std::string_view with_key;
    std::string_view with_value;

    void attach(const Attachment& a) {  // `a` must outlive the views
        has_with = true;
        with_table = a.table;
        with_key = a.key;
        with_value = a.value;
    }
};

class WriteBatch {
public:
    void add(const RecordView& r) {
        Entry e{r.table, r.with_table, r.has_with, r.key.size(), r.value.size(), 0, 0, bytes_.size()};
        bytes_.append(r.key).append(r.value);
        if (r.has_with) {
            e.with_key_size = r.with_key.size();
            e.with_value_size = r.with_value.size();
            bytes_.append(r.with_key).append(r.with_value);
        }
        entries_.push_back(e);
    }
    void add(Table table, std::string_view key, std::string_view value) { add(RecordView{table, key, value}); }

    size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }
    size_t bytes() const { return bytes_.size(); }  // keys and values
    size_t capacity() const { return bytes_.capacity(); }
    RecordView operator[](size_t i) const {
        const Entry& e = entries_[i];
        std::string_view all(bytes_);
        RecordView r{e.table, all.substr(e.at, e.key_size), all.substr(e.at + e.key_size, e.value_size)};
        if (e.has_with) {
            size_t at = e.at + e.key_size + e.value_size;
            r.has_with = true;
            r.with_table = e.with_table;
            r.with_key = all.substr(at, e.with_key_size);
            r.with_value = all.substr(at + e.with_key_size, e.with_value_size);
        }
        return r;
    }

    void swap(WriteBatch& other) {
        bytes_.swap(other.bytes_);
        entries_.swap(other.entries_);
    }
    // Empties the batch, keeping its capacity for the next one unless it grew
    // past `keep_bytes` (a big keyframe, a burst while a commit was slow):
    // that memory goes back at once.
    void clear(size_t keep_bytes = kKeptBytes) {
        if (entries_.capacity() * sizeof(Entry) > keep_bytes) {
            std::vector<Entry>().swap(entries_);
        } else {
            entries_.clear();
        }
        if (bytes_.capacity() > keep_bytes) {
            std::string().swap(bytes_);
        } else {
            bytes_.clear();
        }
    }

    static constexpr size_t kKeptBytes = size_t{512} << 10;  // twice a full batch (Writer::kBatchBytes)

private:
    struct Entry {
        Table table;
        Table with_table;
        bool has_with;
        size_t key_size;
        size_t value_size;
        size_t with_key_size;
        size_t with_value_size;
        size_t at;  // the key's offset in bytes_; the value, and the attachment's key and value, follow it
    };
    std::string bytes_;
    std::vector<Entry> entries_;
};

}  // namespace spyrec::recorder
