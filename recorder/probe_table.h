// Every list, set, bytearray and sequence the watches compare, with the
// picture of each copied into one contiguous table.
//
// Why: after an unknown C call or a generator's yield into C code, anything
// may have changed, and the check runs on every such event. Asking each
// watch in turn chases pointers (watch, probe, node, saved items); this
// table is read front to back instead, and only when an entry differs (or a
// watched dict was written) are the watches asked which one changed. It is
// rebuilt (cold) whenever a picture changes: Session marks it stale after
// every update of a watch. Short lists' items are copied in; a long list's
// entry points at its picture instead, so a rebuild costs the number of
// lists, not their length.
#pragma once
#include <Python.h>

#include <cstring>
#include <string>
#include <vector>

#include "item_compare.h"
#include "python_version.h"
#include "snapshot.h"

namespace spyrec::recorder {

class ProbeTable {
public:
    void clear() {
        entries_.clear();
        items_.clear();
    }
    // Cold. `items`: the saved item pointers of a list; `content`: the saved
    // bytes of a bytearray (both must outlive the table's next rebuild).
    void add_list(PyObject* list, const std::vector<PyObject*>& items) {
        Entry e{list, Shape::kList, static_cast<Py_ssize_t>(items.size()), kOutside, 0, nullptr, items.data()};
        if (items.size() <= kCopied) {
            e.first = items_.size();
            items_.insert(items_.end(), items.begin(), items.end());
        }
        entries_.push_back(e);
    }
    void add_set(PyObject* set, uintptr_t fingerprint) {
        entries_.push_back(Entry{set, Shape::kSet, 0, 0, fingerprint, nullptr, nullptr});
    }
    void add_bytearray(PyObject* array, const std::string* content) {
        entries_.push_back(Entry{array, Shape::kBytearray, 0, 0, 0, content, nullptr});
    }
    void add_sized(PyObject* sequence, Py_ssize_t size) {
        entries_.push_back(Entry{sequence, Shape::kSequence, size, 0, 0, nullptr, nullptr});
    }

    // Hot: whether any entry differs from its picture. No allocation.
    bool differs() const {
        const PyObject* const* saved = items_.data();
        for (const Entry& e : entries_) {
            switch (e.shape) {
                case Shape::kList: {
                    auto* list = reinterpret_cast<PyListObject*>(e.obj);
                    if (Py_SIZE(list) != e.size) return true;
                    if (!same_items(list->ob_item, e.first == kOutside ? e.picture : saved + e.first,
                                    static_cast<size_t>(e.size)))
                        return true;
                    break;
                }
                case Shape::kSet:
                    if (set_fingerprint(e.obj) != e.fingerprint) return true;
                    break;
                case Shape::kBytearray:
                    if (static_cast<size_t>(PyByteArray_GET_SIZE(e.obj)) != e.content->size() ||
                        std::memcmp(PyByteArray_AS_STRING(e.obj), e.content->data(), e.content->size()) != 0) {
                        return true;
                    }
                    break;
                default:
                    if (Py_SIZE(e.obj) != e.size) return true;
                    break;
            }
        }
        return false;
    }

private:
    static constexpr size_t kCopied = 64;  // longer lists are compared against their picture
    static constexpr size_t kOutside = ~size_t{0};
    struct Entry {
        PyObject* obj;  // held by the watch that owns the picture
        Shape shape;
        Py_ssize_t size;
        size_t first;  // kList: index of its first saved item in items_, or kOutside
        uintptr_t fingerprint;
        const std::string* content;
        PyObject* const* picture;  // kList, kOutside: the saved items where they are kept
    };
    std::vector<Entry> entries_;
    std::vector<PyObject*> items_;
};

}  // namespace spyrec::recorder
