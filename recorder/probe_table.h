// Every list, set, bytearray and sequence the watches compare, with the
// picture of each copied into one contiguous table.
//
// Why: after an unknown C call or a generator's yield into C code, anything
// may have changed, and the check runs on every such event. Asking each
// watch in turn chases pointers (watch, probe, node, saved items); this
// table is read front to back instead, and only when an entry differs (or a
// watched dict was written) are the watches asked which one changed. It is
// rebuilt (cold) whenever a picture changes: Session marks it stale after
// every update of a watch.
#pragma once
#include <Python.h>

#include <cstring>
#include <string>
#include <vector>

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
    // bytes of a bytearray (must outlive the table's next rebuild).
    void add_list(PyObject* list, const std::vector<PyObject*>& items) {
        entries_.push_back(Entry{list, Shape::kList, static_cast<Py_ssize_t>(items.size()), items_.size(), 0, nullptr});
        items_.insert(items_.end(), items.begin(), items.end());
    }
    void add_set(PyObject* set, uintptr_t fingerprint) {
        entries_.push_back(Entry{set, Shape::kSet, 0, 0, fingerprint, nullptr});
    }
    void add_bytearray(PyObject* array, const std::string* content) {
        entries_.push_back(Entry{array, Shape::kBytearray, 0, 0, 0, content});
    }
    void add_sized(PyObject* sequence, Py_ssize_t size) {
        entries_.push_back(Entry{sequence, Shape::kSequence, size, 0, 0, nullptr});
    }

    // Hot: whether any entry differs from its picture. No allocation.
    bool differs() const {
        const PyObject* const* saved = items_.data();
        for (const Entry& e : entries_) {
            switch (e.shape) {
                case Shape::kList: {
                    auto* list = reinterpret_cast<PyListObject*>(e.obj);
                    if (Py_SIZE(list) != e.size) return true;
                    if (!same_items(list->ob_item, saved + e.first, e.size)) return true;
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
    // Short lists (sys.path, sys.meta_path) inline; long ones through memcmp.
    static bool same_items(PyObject* const* now, const PyObject* const* saved, Py_ssize_t n) {
        if (n > 16) return std::memcmp(now, saved, sizeof(PyObject*) * n) == 0;
        for (Py_ssize_t i = 0; i < n; ++i) {
            if (now[i] != saved[i]) return false;
        }
        return true;
    }

    struct Entry {
        PyObject* obj;  // held by the watch that owns the picture
        Shape shape;
        Py_ssize_t size;
        size_t first;  // kList: index of its first saved item in items_
        uintptr_t fingerprint;
        const std::string* content;
    };
    std::vector<Entry> entries_;
    std::vector<PyObject*> items_;
};

}  // namespace spyrec::recorder
