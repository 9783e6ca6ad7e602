// The recorder's picture of one watched value as it was at the last check:
// a tree with one node per container (list, tuple, dict, set, os.environ,
// the watched plain object, bytearray, deque, array.array), each holding
// strong references to its items. Leaves (immutable builtins, and objects
// compared by identity) are items without a node.
//
// Why a tree: a change is found and stored in proportion to what changed.
// The hot check compares each list's item pointers, each set's fingerprint
// and each dict's watcher count against this picture (no snapshot, no
// allocation); when one differs, update() compares only that container with
// what it holds now and writes the difference as ops (schema Op: a path from
// the watched value and one edit), then brings the picture up to date. The
// whole value is serialized only for a keyframe.
//
// Strong references: an item's address cannot be reused while the tree holds
// it, so "same pointer" means "same object", and an immutable leaf with the
// same pointer is the same value. The references are released at the next
// update after the program drops the item.
#pragma once
#include <Python.h>

#include <capnp/message.h>
#include <capnp/orphan.h>

#include <cstring>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "clean_calls.h"
#include "dict_registry.h"
#include "item_compare.h"
#include "probe_table.h"
#include "python_version.h"
#include "quiet_objects.h"
#include "scratch_message.h"
#include "snapshot.h"
#include "spyrec.capnp.h"

namespace spyrec::recorder {

// str and int dict keys by value, as the dict finds them: hashing and
// comparing them runs no user code.
struct KeyHash {
    size_t operator()(PyObject* key) const { return static_cast<size_t>(PyObject_Hash(key)); }
};
struct KeyEqual {
    bool operator()(PyObject* a, PyObject* b) const {
        if (a == b) return true;
        if (Py_TYPE(a) != Py_TYPE(b)) return false;
        int eq = PyObject_RichCompareBool(a, b, Py_EQ);
        if (eq < 0) PyErr_Clear();
        return eq > 0;
    }
};
using KeyIndex = std::unordered_map<PyObject*, size_t, KeyHash, KeyEqual>;

struct Node {
    Shape shape = Shape::kLeaf;
    int depth = 0;                       // 0: the watched value itself
    Node* parent = nullptr;              // the container holding it (nullptr: the watched value)
    bool changed = false;                // update(): this container differs from its picture
    bool on_way = false;                 // update(): it or a container inside it differs
    PyObject* obj = nullptr;             // owned
    PyObject* dict = nullptr;            // kDict: obj; kObject: its __dict__; kEnviron: its _data (owned)
    const uint64_t* counter = nullptr;   // dict-backed: the dict watcher's count for `dict`
    uint64_t seen = 0;                   // the count when last compared
    const DictWrites* writes = nullptr;  // dict-backed: its last writes
    // dict-backed, big, once a replaced key was looked up: its str and int
    // keys -> index in `keys` (dropped when a key is deleted, which moves the rest).
    std::unique_ptr<KeyIndex> key_index;
    std::vector<PyObject*> keys;              // dict-backed: owned, in the dict's order
    std::vector<PyObject*> items;             // owned: list/tuple items, dict values, set elements
    std::vector<std::unique_ptr<Node>> kids;  // per item; nullptr for a leaf (or a cycle)
    uintptr_t fingerprint = 0;                // kSet
    std::string content;                      // kBytearray: its bytes; kSequence: canonical snapshot words
    Py_ssize_t size = 0;                      // kSequence: length when last compared
    // The tree's indexes (ValueTree::enlist): where this node sits in its
    // probe list and in the object list, and the next node on the same
    // object (lists, sets...) or the same dict (dict-backed).
    int probe_slot = -1;
    int object_slot = -1;
    Node* next_alias = nullptr;
    // update(): the kids that are on_way, so a container with thousands of
    // items is not scanned for the one that changed; and where this node sat
    // in its parent's kids when last looked up (checked before use: a splice
    // or a deleted key moves it).
    std::vector<Node*> way_kids;
    size_t index_hint = 0;

    bool dict_backed() const { return dict != nullptr; }
};

// One step of a path from the watched value to a container.
struct PathStep {
    PyObject* key = nullptr;   // dict key or attribute name (borrowed from the node); nullptr: index
    bool environ_key = false;  // an os.environ key (bytes, shown decoded)
    size_t index = 0;
};

// The ops of one change, built as a list in the message that will hold the
// change record itself, so a one-op change (the usual kind) is recorded
// without copying its ops.
class Delta {
public:
    schema::Op::Builder add(const std::vector<PathStep>& path, const SnapshotLimits& limits);
    bool empty() const { return size_ == 0; }
    size_t size() const { return size_; }
    size_t bytes() const;
    size_t message_words() const;  // what the Delta's own message holds, holes included
    // Builds the change record as the root of `message()` with these ops:
    // moved when the list never grew (no hole is left in the message),
    // copied otherwise, into `spare`, which the record is then built in.
    schema::Change::Builder init_change(ScratchMessage& spare);
    // The message init_change built the record in: this Delta's own, or the
    // `spare` given to it (valid only while that lives).
    capnp::MessageBuilder& change_message() { return *change_in_; }

private:
    ScratchMessage message_;
    capnp::Orphan<capnp::List<schema::Op>> ops_;  // after message_: destroyed first
    unsigned size_ = 0;
    unsigned capacity_ = 0;  // the list's length: doubled when full, so n ops leave O(n) words of holes
    bool grown_ = false;     // a list that grew was moved, leaving a zeroed hole behind
    capnp::MessageBuilder* change_in_ = nullptr;
};

class ValueTree {
public:
    ValueTree(DictRegistry* dicts, WatchedContainers* watched, const SnapshotLimits* limits)
        : dicts_(dicts), watched_(watched), limits_(limits) {}
    ~ValueTree() { clear(); }
    ValueTree(const ValueTree&) = delete;
    ValueTree& operator=(const ValueTree&) = delete;

    // Cold: forget the old picture and take one of `root` (borrowed).
    void build(PyObject* root);
    void clear();
    bool has_root() const { return root_obj_ != nullptr; }
    PyObject* root_object() const { return root_obj_; }

    // Hot: whether a list, set, bytearray or sequence inside differs from the
    // picture, or a dict inside was written since. No allocation.
    bool may_have_changed() const {
        for (const Node* n : plain_probes_) {
            if (node_differs(*n)) return true;
        }
        return false;
    }
    static bool node_differs(const Node& n) {
        switch (n.shape) {
            case Shape::kList: {
                auto* list = reinterpret_cast<PyListObject*>(n.obj);
                if (Py_SIZE(list) != static_cast<Py_ssize_t>(n.items.size())) return true;
                return !same_items(list->ob_item, n.items.data(), n.items.size());
            }
            case Shape::kSet: return set_fingerprint(n.obj) != n.fingerprint;
            case Shape::kBytearray:
                return static_cast<size_t>(PyByteArray_GET_SIZE(n.obj)) != n.content.size() ||
                       std::memcmp(PyByteArray_AS_STRING(n.obj), n.content.data(), n.content.size()) != 0;
            case Shape::kSequence: return Py_SIZE(n.obj) != n.size;
            default: return false;
        }
    }
    // Hot, after a call that can change only `target` (a method of a builtin
    // container, clean_calls.h): whether `target`, if it is a container here,
    // differs from its picture.
    bool may_have_changed_at(PyObject* target) const {
        auto it = by_object_.find(target);
        if (it == by_object_.end()) return false;
        for (const Node* n = it->second; n; n = n->next_alias) {
            if (node_differs(*n)) return true;
        }
        return false;
    }
    // After the dict epoch moved: whether a dict inside was written. Looks
    // only at the dicts written since the watches last settled.
    bool dict_written() const {
        for (PyObject* dict : dicts_->written()) {
            auto it = by_dict_.find(dict);
            if (it == by_dict_.end()) continue;
            for (const Node* n = it->second; n; n = n->next_alias) {
                if (*n->counter != n->seen) return true;
            }
        }
        return false;
    }

    // Cold: compare the picture with the live objects, append the edits to
    // `delta` (paths as they are when each op applies) and bring the picture
    // up to date.
    void update(Delta& delta);

    // Cold: the whole value as the picture has it.
    void serialize(schema::Value::Builder out) const;
    kj::Array<capnp::word> canonical() const;

    bool depends_on(PyObject* dict) const { return by_dict_.count(dict) > 0; }
    // Whether update() freed an object whose freeing can run code (a
    // finalizer, a weakref callback) since last asked: the program would have
    // freed it at the instruction that dropped it, where that code's changes
    // belong (Session::check_watches compares every watch again).
    bool take_freed() { return std::exchange(freed_, false); }
    // The watched value is itself a secret (its expression names one): it is
    // written as a fingerprint only, whole, never as edits.
    void set_secret(bool secret) { secret_ = secret; }
    // Cold: copy what may_have_changed() compares into the session's table.
    void add_probes_to(ProbeTable& table) const;
    const OpaqueNotes& notes() const { return notes_; }
    // Dict entries compared and kids searched for so far: what the changes
    // cost (tests check that it grows with what changed, not with the value).
    size_t items_visited() const { return items_visited_; }

private:
    std::unique_ptr<Node> build_node(PyObject* obj, Node* parent);
    void mark_changed(Node& n);
    void fill_node(Node& n);
    void release_node(Node& n);
    void note_leaf(PyObject* item, int depth);
    void update_node(Node& n, std::vector<PathStep>& path, Delta& delta);
    void update_node_body(Node& n, std::vector<PathStep>& path, Delta& delta);
    void update_secret(Node& n, std::vector<PathStep>& path, size_t j, Delta& delta);
    void diff_sequence(Node& n, std::vector<PathStep>& path, Delta& delta);
    void diff_dict(Node& n, std::vector<PathStep>& path, Delta& delta);
    bool diff_dict_at_writes(Node& n, std::vector<PathStep>& path, Delta& delta);
    size_t find_key(Node& n, PyObject* key);
    void dict_set_item(Node& n, size_t i, std::vector<PathStep>& path, Delta& delta);
    void dict_compare_value(Node& n, size_t i, PyObject* value, std::vector<PathStep>& path, Delta& delta);
    void dict_append(Node& n, PyObject* key, PyObject* value, std::vector<PathStep>& path, Delta& delta);
    void diff_set(Node& n, std::vector<PathStep>& path, Delta& delta);
    void replace_whole(Node& n, std::vector<PathStep>& path, Delta& delta);
    static bool object_dict_swapped(const Node& n);
    bool same_value(PyObject* old_item, const Node* old_kid, PyObject* new_item, int depth) const;
    void serialize_item(PyObject* item, const Node* kid, int depth, schema::Value::Builder out) const;
    void serialize_entry_value(const Node& n, size_t i, schema::Value::Builder out) const;
    void serialize_node(const Node& n, schema::Value::Builder out) const;
    void serialize_key(PyObject* key, bool environ, schema::Value::Builder out) const;
    void adopt(Node& n, size_t i, PyObject* now);
    void drop(std::unique_ptr<Node>& n);
    void release_contents(Node& n);
    void bury(PyObject* obj) { graveyard_.push_back(obj); }
    void flush_graveyard();
    size_t index_in_parent(Node& kid);
    void enlist(Node& n);
    void delist(Node& n);
    static void remove_from(std::vector<Node*>& list, int Node::* slot, Node& n);
    static void unlink_alias(std::unordered_map<PyObject*, Node*>& index, PyObject* key, Node& n);

    DictRegistry* dicts_;
    WatchedContainers* watched_;  // every container here is added (for clean calls)
    const SnapshotLimits* limits_;
    PyObject* root_obj_ = nullptr;  // owned
    std::unique_ptr<Node> root_;    // nullptr when the watched value is a leaf
    // Kept up to date as nodes come and go, so a change costs what it added
    // or removed, not a walk of the whole tree.
    std::vector<Node*> plain_probes_;  // list, set, bytearray and sequence nodes
    std::vector<Node*> object_nodes_;  // kObject and kSequence: compared at every update
    // Plain-probe nodes by object, dict-backed nodes by dict; a chain through
    // Node::next_alias when the same one sits at several places.
    std::unordered_map<PyObject*, Node*> by_object_;
    std::unordered_map<PyObject*, Node*> by_dict_;
    void trim_scratch();
    std::vector<PyObject*> scratch_middle_;  // diff_sequence's, kept for their capacity
    std::vector<PyObject*> scratch_items_;
    std::vector<std::unique_ptr<Node>> scratch_kids_;
    std::vector<PyObject*> graveyard_;  // references to drop once the tree is consistent
    bool secret_ = false;
    bool in_secret_ = false;  // update(): inside a secret, whose edits are not written
    OpaqueNotes notes_;
    size_t items_visited_ = 0;
    bool freed_ = false;
};

}  // namespace spyrec::recorder
