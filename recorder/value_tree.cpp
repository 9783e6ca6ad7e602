#include "value_tree.h"

#include <capnp/serialize.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace spyrec::recorder {

// ---- Delta ------------------------------------------------------------------

schema::Op::Builder Delta::add(const std::vector<PathStep>& path, const SnapshotLimits& limits) {
    if (ops_ == nullptr) {
        capacity_ = 1;
        ops_ = message_.orphanage().newOrphan<capnp::List<schema::Op>>(capacity_);
    } else if (size_ == capacity_) {
        // Moved (shallowly): the ops' contents were allocated after the list.
        // Doubling keeps the holes left behind, and the moves, linear in n.
        capacity_ *= 2;
        ops_.truncate(capacity_);
        grown_ = true;
    }
    auto op = ops_.get()[size_++];
    auto steps = op.initPath(static_cast<unsigned>(path.size()));
    for (size_t i = 0; i < path.size(); ++i) {
        if (!path[i].key) {
            steps[i].setIndex(path[i].index);
        } else if (path[i].environ_key) {
            PyObject* text = environ_text(path[i].key);
            if (text) {
                snapshot_value(text, steps[i].initKey(), limits, 1);
                Py_DECREF(text);
            } else {
                steps[i].initKey().setRepr("<?>");
            }
        } else {
            snapshot_value(path[i].key, steps[i].initKey(), limits, 1);
        }
    }
    return op;
}

size_t Delta::bytes() const {
    // A list that never grew (one op) is all this message holds after its
    // root pointer: its size is the ops', without walking them.
    if (ops_ == nullptr) return 0;
    if (grown_) {
        // The message holds holes: count the ops themselves.
        auto ops = ops_.getReader();
        size_t words = 0;
        for (unsigned i = 0; i < size_; ++i) words += ops[i].totalSize().wordCount;
        return words * sizeof(capnp::word);
    }
    size_t words = message_words();
    return words > 0 ? (words - 1) * sizeof(capnp::word) : 0;
}

size_t Delta::message_words() const {
    size_t words = 0;
    for (auto segment : const_cast<ScratchMessage&>(message_).builder().getSegmentsForOutput()) words += segment.size();
    return words;
}

schema::Change::Builder Delta::init_change(ScratchMessage& spare) {
    if (!grown_) {
        change_in_ = &message_.builder();
        auto change = change_in_->initRoot<schema::Change>();
        if (ops_ == nullptr)
            change.initOps(0);
        else
            change.adoptOps(kj::mv(ops_));
        return change;
    }
    change_in_ = &spare.builder();
    auto change = change_in_->initRoot<schema::Change>();
    auto ops = ops_.getReader();
    auto out = change.initOps(size_);
    for (unsigned i = 0; i < size_; ++i) out.setWithCaveats(i, ops[i]);
    return change;
}

// ---- building and releasing -------------------------------------------------

void ValueTree::build(PyObject* root) {
    clear();
    root_obj_ = Py_NewRef(root);
    root_ = build_node(root, nullptr);
    if (!root_) note_if_opaque(root, 0, notes_);
    flush_graveyard();
}

void ValueTree::clear() {
    drop(root_);
    if (root_obj_) bury(root_obj_);
    root_obj_ = nullptr;
    flush_graveyard();
}

void ValueTree::flush_graveyard() {
    // Dropping a reference can run a __del__; do it only once the tree is
    // consistent again, never while walking a container.
    std::vector<PyObject*> dead;
    dead.swap(graveyard_);
    for (PyObject* obj : dead) {
        if (Py_REFCNT(obj) == 1 && !frees_silently(obj)) freed_ = true;
        Py_DECREF(obj);
    }
    // Keep the capacity for the next change (one allocation per change
    // otherwise), unless a __del__ above buried something meanwhile.
    dead.clear();
    if (graveyard_.empty()) graveyard_.swap(dead);
}

std::unique_ptr<Node> ValueTree::build_node(PyObject* obj, Node* parent) {
    const int depth = parent ? parent->depth + 1 : 0;
    Shape shape = shape_of(obj, depth, *limits_);
    if (shape == Shape::kLeaf) return nullptr;
    if (depth >= limits_->max_depth) {
        notes_.emplace("(containers nested deeper than " + std::to_string(limits_->max_depth) + ")",
                       "not compared below that depth");
        return nullptr;
    }
    for (Node* p = parent; p; p = p->parent) {
        if (p->obj == obj) return nullptr;  // a cycle: the container is its own ancestor
    }
    auto n = std::make_unique<Node>();
    n->shape = shape;
    n->depth = depth;
    n->parent = parent;
    n->obj = Py_NewRef(obj);
    fill_node(*n);
    enlist(*n);
    return n;
}

void ValueTree::fill_node(Node& n) {
    auto add_item = [&](PyObject* item) {
        n.items.push_back(Py_NewRef(item));
        n.kids.push_back(build_node(item, &n));
        if (n.kids.back())
            n.kids.back()->index_hint = n.kids.size() - 1;
        else
            note_if_opaque(item, n.depth + 1, notes_);
    };
    switch (n.shape) {
        case Shape::kList:
        case Shape::kTuple: {
            Py_ssize_t size = Py_SIZE(n.obj);
            PyObject* const* items = n.shape == Shape::kList ? reinterpret_cast<PyListObject*>(n.obj)->ob_item
                                                             : reinterpret_cast<PyTupleObject*>(n.obj)->ob_item;
            // Copy the pointers first: building a kid runs no user code, but keep
            // the walk independent of the list's buffer anyway.
            std::vector<PyObject*> snapshot(items, items + size);
            n.items.reserve(snapshot.size());
            n.kids.reserve(snapshot.size());
            for (PyObject* item : snapshot) add_item(item);
            break;
        }
        case Shape::kDict:
        case Shape::kObject:
        case Shape::kEnviron: {
            if (n.shape == Shape::kDict) {
                n.dict = Py_NewRef(n.obj);
            } else if (n.shape == Shape::kObject) {
                n.dict = plain_object_dict(n.obj);
                if (n.dict) own_instance_dict(n.obj, n.dict);
            } else {
                n.dict = environ_data(n.obj);
            }
            if (!n.dict) break;
            n.counter = dicts_->acquire(n.dict);
            n.seen = *n.counter;
            n.writes = dicts_->writes_of(n.dict);
            std::vector<std::pair<PyObject*, PyObject*>> entries;
            entries.reserve(static_cast<size_t>(PyDict_GET_SIZE(n.dict)));
            Py_ssize_t pos = 0;
            PyObject *k, *v;
            while (PyDict_Next(n.dict, &pos, &k, &v)) entries.emplace_back(k, v);
            for (auto& [key, value] : entries) {
                n.keys.push_back(Py_NewRef(key));
                if (n.shape == Shape::kEnviron) {  // bytes values: leaves
                    n.items.push_back(Py_NewRef(value));
                    n.kids.push_back(nullptr);
                } else {
                    add_item(value);
                }
            }
            break;
        }
        case Shape::kSet: {
            auto* s = reinterpret_cast<PySetObject*>(n.obj);
            for (Py_ssize_t slot = 0; slot <= s->mask; ++slot) {
                PyObject* key = s->table[slot].key;
                if (key == nullptr || s->table[slot].hash == -1) continue;  // empty or dummy
                n.items.push_back(Py_NewRef(key));
                n.kids.push_back(nullptr);
                note_if_opaque(key, n.depth + 1, notes_);
            }
            n.fingerprint = set_fingerprint(n.obj);
            break;
        }
        case Shape::kBytearray:
            n.content.assign(PyByteArray_AS_STRING(n.obj), static_cast<size_t>(PyByteArray_GET_SIZE(n.obj)));
            break;
        case Shape::kSequence: {
            auto words = snapshot_canonical(n.obj, *limits_, n.depth);
            n.content.assign(reinterpret_cast<const char*>(words.begin()), words.size() * sizeof(capnp::word));
            n.size = Py_SIZE(n.obj);
            notes_.emplace(type_name(Py_TYPE(n.obj)),
                           "contents compared when its length changes or the watch is checked");
            break;
        }
        case Shape::kLeaf: break;
    }
}

void ValueTree::release_contents(Node& n) {
    for (auto& kid : n.kids) drop(kid);
    n.kids.clear();
    for (PyObject* o : n.items) bury(o);
    for (PyObject* o : n.keys) bury(o);
    n.items.clear();
    n.keys.clear();
    if (n.dict) {
        if (n.counter) dicts_->release(n.dict);
        bury(n.dict);
        n.dict = nullptr;
        n.counter = nullptr;
        n.writes = nullptr;
    }
    n.key_index.reset();
    n.content.clear();
}

void ValueTree::drop(std::unique_ptr<Node>& n) {
    if (!n) return;
    if (n->on_way && n->parent) {
        // Dropped by its parent's diff before update() reached it.
        auto& way = n->parent->way_kids;
        auto it = std::find(way.begin(), way.end(), n.get());
        if (it != way.end()) way.erase(it);
    }
    delist(*n);
    release_contents(*n);
    bury(n->obj);
    n.reset();
}

// ---- probes -----------------------------------------------------------------

void ValueTree::enlist(Node& n) {
    watched_->add(n.obj);
    if (n.dict) watched_->add(n.dict);
    auto link = [&](std::unordered_map<PyObject*, Node*>& index, PyObject* key) {
        auto [it, fresh] = index.emplace(key, &n);
        if (!fresh) {
            n.next_alias = it->second;
            it->second = &n;
        }
    };
    switch (n.shape) {
        case Shape::kList:
        case Shape::kSet:
        case Shape::kBytearray:
        case Shape::kSequence:
            n.probe_slot = static_cast<int>(plain_probes_.size());
            plain_probes_.push_back(&n);
            link(by_object_, n.obj);
            break;
        default:
            if (n.counter) link(by_dict_, n.dict);
            break;
    }
    if (n.shape == Shape::kObject || n.shape == Shape::kSequence) {
        n.object_slot = static_cast<int>(object_nodes_.size());
        object_nodes_.push_back(&n);
    }
}

void ValueTree::delist(Node& n) {
    if (n.probe_slot >= 0) {
        remove_from(plain_probes_, &Node::probe_slot, n);
        unlink_alias(by_object_, n.obj, n);
    } else if (n.counter) {
        unlink_alias(by_dict_, n.dict, n);
    }
    if (n.object_slot >= 0) remove_from(object_nodes_, &Node::object_slot, n);
}

void ValueTree::remove_from(std::vector<Node*>& list, int Node::* slot, Node& n) {
    // Order does not matter: the last one takes its place.
    Node* last = list.back();
    list[static_cast<size_t>(n.*slot)] = last;
    last->*slot = n.*slot;
    list.pop_back();
    n.*slot = -1;
}

void ValueTree::unlink_alias(std::unordered_map<PyObject*, Node*>& index, PyObject* key, Node& n) {
    auto it = index.find(key);
    if (it == index.end()) return;
    for (Node** link = &it->second; *link; link = &(*link)->next_alias) {
        if (*link == &n) {
            *link = n.next_alias;
            break;
        }
    }
    n.next_alias = nullptr;
    if (!it->second) index.erase(it);
}

void ValueTree::add_probes_to(ProbeTable& table) const {
    for (const Node* n : plain_probes_) {
        switch (n->shape) {
            case Shape::kList: table.add_list(n->obj, n->items); break;
            case Shape::kSet: table.add_set(n->obj, n->fingerprint); break;
            case Shape::kBytearray: table.add_bytearray(n->obj, &n->content); break;
            default: table.add_sized(n->obj, n->size); break;
        }
    }
}

// ---- comparing --------------------------------------------------------------

bool ValueTree::same_value(PyObject* old_item, const Node* old_kid, PyObject* new_item, int depth) const {
    if (!old_kid) {
        if (shape_of(new_item, depth, *limits_) != Shape::kLeaf) return false;
        return leaf_equal(old_item, new_item, *limits_, depth);
    }
    // A container replaced by another: equal when the new one holds what the
    // picture of the old one holds.
    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<schema::Value>();
    serialize_node(*old_kid, root);
    auto before = capnp::canonicalize(root.asReader());
    auto after = snapshot_canonical(new_item, *limits_, depth);
    return before.size() == after.size() &&
           std::memcmp(before.begin(), after.begin(), before.size() * sizeof(capnp::word)) == 0;
}

void ValueTree::adopt(Node& n, size_t i, PyObject* now) {
    if (n.items[i] == now) return;
    bury(n.items[i]);
    n.items[i] = Py_NewRef(now);
    drop(n.kids[i]);
    n.kids[i] = n.shape == Shape::kEnviron ? nullptr : build_node(now, &n);
    if (!n.kids[i]) note_if_opaque(now, n.depth + 1, notes_);
}

void ValueTree::mark_changed(Node& n) {
    n.changed = true;
    for (Node* p = &n; p && !p->on_way; p = p->parent) {
        p->on_way = true;
        if (p->parent) p->parent->way_kids.push_back(p);
    }
}

size_t ValueTree::index_in_parent(Node& kid) {
    const auto& kids = kid.parent->kids;
    if (kid.index_hint < kids.size() && kids[kid.index_hint].get() == &kid) return kid.index_hint;
    for (size_t i = 0; i < kids.size(); ++i) {
        ++items_visited_;
        if (kids[i].get() == &kid) return kid.index_hint = i;
    }
    return kids.size();  // not reached: a node on its parent's way is one of its kids
}

void ValueTree::update(Delta& delta) {
    // Find the containers that differ (cheap compares over the flat probe
    // lists), mark the way to them, and visit only that part of the tree:
    // the cost grows with what changed, not with the size of the value.
    if (root_) {
        for (Node* n : plain_probes_) {
            if (node_differs(*n)) mark_changed(*n);
        }
        for (PyObject* dict : dicts_->written()) {
            auto it = by_dict_.find(dict);
            if (it == by_dict_.end()) continue;
            for (Node* n = it->second; n; n = n->next_alias) {
                if (*n->counter != n->seen) mark_changed(*n);
            }
        }
        for (Node* n : object_nodes_) {
            // A same-length deque edit; a swapped __dict__ (one pointer compare).
            if (n->shape == Shape::kSequence || object_dict_swapped(*n)) mark_changed(*n);
        }
        if (root_->on_way) {
            std::vector<PathStep> path;
            if (secret_) {
                // The whole watched value is a secret: one fingerprint, no edits.
                Delta edits;
                in_secret_ = true;
                update_node_body(*root_, path, edits);
                in_secret_ = false;
                if (!edits.empty()) snapshot_redacted(root_obj_, delta.add(path, *limits_).initReplace(), *limits_, 0);
            } else {
                update_node(*root_, path, delta);
            }
        }
    }
    flush_graveyard();
}

void ValueTree::update_node(Node& n, std::vector<PathStep>& path, Delta& delta) {
    if (limits_->redactor && !in_secret_) {
        for (size_t j = 0; j < path.size(); ++j) {
            if (path[j].key && limits_->redacts(path[j].key)) {
                update_secret(n, path, j, delta);
                return;
            }
        }
    }
    update_node_body(n, path, delta);
}

// A change somewhere inside a secret (the value under path[j]): the picture
// is brought up to date as usual, but what is written is one op replacing the
// secret with its new fingerprint; the edits themselves would show its bytes.
void ValueTree::update_secret(Node& n, std::vector<PathStep>& path, size_t j, Delta& delta) {
    Delta edits;
    in_secret_ = true;
    update_node_body(n, path, edits);
    in_secret_ = false;
    if (edits.empty()) return;
    const Node* secret = &n;
    while (secret->depth > static_cast<int>(j) + 1 && secret->parent) secret = secret->parent;
    std::vector<PathStep> to_secret(path.begin(), path.begin() + static_cast<long>(j) + 1);
    snapshot_redacted(secret->obj, delta.add(to_secret, *limits_).initReplace(), *limits_, secret->depth);
}

void ValueTree::update_node_body(Node& n, std::vector<PathStep>& path, Delta& delta) {
    const bool changed = n.changed;
    n.changed = n.on_way = false;
    if (changed) {
        switch (n.shape) {
            case Shape::kList: diff_sequence(n, path, delta); break;  // marked by node_differs()
            case Shape::kDict:
            case Shape::kEnviron:
                if (n.counter && *n.counter != n.seen) diff_dict(n, path, delta);
                break;
            case Shape::kObject: {
                if (object_dict_swapped(n))
                    replace_whole(n, path, delta);
                else if (n.counter && *n.counter != n.seen)
                    diff_dict(n, path, delta);
                break;
            }
            case Shape::kSet:
                if (set_fingerprint(n.obj) != n.fingerprint) diff_set(n, path, delta);
                break;
            case Shape::kBytearray:
                if (static_cast<size_t>(PyByteArray_GET_SIZE(n.obj)) != n.content.size() ||
                    std::memcmp(PyByteArray_AS_STRING(n.obj), n.content.data(), n.content.size()) != 0) {
                    replace_whole(n, path, delta);
                }
                break;
            case Shape::kSequence: {
                auto words = snapshot_canonical(n.obj, *limits_, n.depth);
                std::string_view now(reinterpret_cast<const char*>(words.begin()), words.size() * sizeof(capnp::word));
                if (now != n.content) replace_whole(n, path, delta);
                break;
            }
            case Shape::kTuple:
            case Shape::kLeaf: break;
        }
    }
    // The kids on the way, in their order in the container (the diff above
    // may have dropped some: drop() takes those off the list).
    std::vector<std::pair<size_t, Node*>> way;
    way.reserve(n.way_kids.size());
    for (Node* kid : n.way_kids) {
        size_t i = index_in_parent(*kid);
        if (i < n.kids.size()) way.emplace_back(i, kid);
    }
    n.way_kids.clear();
    std::sort(way.begin(), way.end());
    for (auto [i, kid] : way) {
        PathStep step;
        if (n.dict_backed()) {
            step.key = n.keys[i];
            step.environ_key = n.shape == Shape::kEnviron;
        } else {
            step.index = i;
        }
        path.push_back(step);
        update_node(*kid, path, delta);
        path.pop_back();
    }
}

void ValueTree::diff_sequence(Node& n, std::vector<PathStep>& path, Delta& delta) {
    auto* list = reinterpret_cast<PyListObject*>(n.obj);
    const size_t new_size = static_cast<size_t>(Py_SIZE(list)), old_size = n.items.size();
    size_t p = common_prefix(list->ob_item, n.items.data(), std::min(new_size, old_size));
    size_t s = common_suffix(list->ob_item, new_size, n.items.data(), old_size, std::min(new_size, old_size) - p);
    // The part that differs, copied: what follows may create objects, and the
    // walk stays independent of the list's buffer.
    // (Scratch kept for its capacity: nothing below diffs a list again.)
    std::vector<PyObject*>& middle = scratch_middle_;
    middle.assign(list->ob_item + p, list->ob_item + (new_size - s));
    const size_t first = p;
    auto now = [&](size_t i) { return middle[i - first]; };
    // Items replaced by equal ones (another float 1.0, an equal copy of a
    // nested list) are not a change; the picture just follows the new object.
    while (p < old_size - s && p < new_size - s && same_value(n.items[p], n.kids[p].get(), now(p), n.depth + 1)) {
        adopt(n, p, now(p));
        ++p;
    }
    // The loop above stopped on a pair it found different, unless it ran out:
    // when that same pair is the last one left, it is not compared again.
    const bool stopped_on_p = p < old_size - s && p < new_size - s;
    while (old_size - s > p && new_size - s > p && !(stopped_on_p && old_size - s - 1 == p && new_size - s - 1 == p) &&
           same_value(n.items[old_size - s - 1], n.kids[old_size - s - 1].get(), now(new_size - s - 1), n.depth + 1)) {
        adopt(n, old_size - s - 1, now(new_size - s - 1));
        ++s;
    }
    const size_t old_end = old_size - s, new_end = new_size - s;
    if (p == old_end && p == new_end) return trim_scratch();
    std::vector<PyObject*>& items = scratch_items_;
    std::vector<std::unique_ptr<Node>>& kids = scratch_kids_;
    items.clear();
    kids.clear();
    for (size_t i = p; i < new_end; ++i) {
        items.push_back(Py_NewRef(now(i)));
        kids.push_back(build_node(now(i), &n));
        if (!kids.back()) note_if_opaque(now(i), n.depth + 1, notes_);
    }
    auto splice = delta.add(path, *limits_).initSplice();
    splice.setStart(p);
    splice.setEnd(old_end);
    auto out = splice.initNewItems(static_cast<unsigned>(items.size()));
    for (size_t i = 0; i < items.size(); ++i) serialize_item(items[i], kids[i].get(), n.depth + 1, out[i]);
    for (size_t i = p; i < old_end; ++i) {
        bury(n.items[i]);
        drop(n.kids[i]);
    }
    if (old_end - p == items.size()) {
        // Items replaced in place (a store at an index): nothing moves.
        std::copy(items.begin(), items.end(), n.items.begin() + static_cast<long>(p));
        std::move(kids.begin(), kids.end(), n.kids.begin() + static_cast<long>(p));
    } else {
        n.items.erase(n.items.begin() + p, n.items.begin() + old_end);
        n.kids.erase(n.kids.begin() + p, n.kids.begin() + old_end);
        n.items.insert(n.items.begin() + p, items.begin(), items.end());
        n.kids.insert(n.kids.begin() + p, std::make_move_iterator(kids.begin()), std::make_move_iterator(kids.end()));
    }
    for (size_t i = p; i < p + items.size(); ++i) {
        if (n.kids[i]) n.kids[i]->index_hint = i;
    }
    trim_scratch();
}

void ValueTree::trim_scratch() {
    // A big splice's scratch goes back at once: memory follows what changed.
    constexpr size_t kKept = 1024;
    if (scratch_middle_.capacity() > kKept) std::vector<PyObject*>().swap(scratch_middle_);
    if (scratch_items_.capacity() > kKept) std::vector<PyObject*>().swap(scratch_items_);
    if (scratch_kids_.capacity() > kKept) std::vector<std::unique_ptr<Node>>().swap(scratch_kids_);
    scratch_kids_.clear();  // moved from; nothing to free
}

void ValueTree::dict_set_item(Node& n, size_t i, std::vector<PathStep>& path, Delta& delta) {
    auto entry = delta.add(path, *limits_).initSetItem();
    serialize_key(n.keys[i], n.shape == Shape::kEnviron, entry.initKey());
    serialize_entry_value(n, i, entry.initValue());
}

void ValueTree::dict_compare_value(Node& n, size_t i, PyObject* value, std::vector<PathStep>& path, Delta& delta) {
    ++items_visited_;
    if (n.items[i] == value) return;
    bool same = n.shape == Shape::kEnviron ? leaf_equal(n.items[i], value, *limits_, n.depth + 1)
                                           : same_value(n.items[i], n.kids[i].get(), value, n.depth + 1);
    adopt(n, i, value);
    if (!same) dict_set_item(n, i, path, delta);
}

void ValueTree::dict_append(Node& n, PyObject* key, PyObject* value, std::vector<PathStep>& path, Delta& delta) {
    ++items_visited_;
    n.keys.push_back(Py_NewRef(key));
    n.items.push_back(Py_NewRef(value));
    n.kids.push_back(n.shape == Shape::kEnviron ? nullptr : build_node(value, &n));
    if (n.kids.back())
        n.kids.back()->index_hint = n.kids.size() - 1;
    else
        note_if_opaque(value, n.depth + 1, notes_);
    if (n.key_index && is_plain_key(key)) n.key_index->emplace(key, n.keys.size() - 1);
    dict_set_item(n, n.keys.size() - 1, path, delta);
}

size_t ValueTree::find_key(Node& n, PyObject* key) {
    // `key` is a str or an int; the picture holds the dict's own key objects,
    // which may be other objects equal to it.
    constexpr size_t kScanned = 32;
    if (n.keys.size() <= kScanned) {
        KeyEqual equal;
        for (size_t i = 0; i < n.keys.size(); ++i) {
            if (n.keys[i] == key || (is_plain_key(n.keys[i]) && equal(n.keys[i], key))) return i;
        }
        return n.keys.size();
    }
    if (!n.key_index) {
        n.key_index = std::make_unique<KeyIndex>();
        n.key_index->reserve(n.keys.size());
        for (size_t i = 0; i < n.keys.size(); ++i) {
            if (is_plain_key(n.keys[i])) n.key_index->emplace(n.keys[i], i);
        }
    }
    auto it = n.key_index->find(key);
    return it == n.key_index->end() ? n.keys.size() : it->second;
}

// The usual change to a big dict: a few keys added at the end or replaced.
// The dict watcher kept the last writes (DictWrites); when every write since
// the picture is one of those, only those keys are compared, and the ops
// are the ones the full comparison would write. False when it cannot tell
// (a deletion, a clear, more writes than kept, a key it cannot look up
// without running user code): then the whole dict is compared.
bool ValueTree::diff_dict_at_writes(Node& n, std::vector<PathStep>& path, Delta& delta) {
    const uint64_t now = *n.counter;
    if (!n.writes || now - n.seen > DictWrites::kKept) return false;
    std::array<PyObject*, DictWrites::kKept> added{};
    std::array<size_t, DictWrites::kKept> replaced{};
    size_t n_added = 0, n_replaced = 0;
    KeyEqual equal;
    for (uint64_t c = n.seen + 1; c <= now; ++c) {
        const DictWrites::Write& w = n.writes->ring[c % DictWrites::kKept];
        if (w.count != c || !w.held) return false;  // overwritten, or a key not held (not a str or int)
        if (w.event == PyDict_EVENT_ADDED) {
            added[n_added++] = w.key;
        } else if (w.event == PyDict_EVENT_MODIFIED) {
            bool added_now = false;
            for (size_t a = 0; a < n_added; ++a) added_now = added_now || equal(added[a], w.key);
            if (added_now) continue;  // its value is read when it is appended
            size_t i = find_key(n, w.key);
            if (i == n.keys.size()) return false;
            replaced[n_replaced++] = i;
        } else {
            return false;  // deleted, cleared, cloned: the full comparison
        }
    }
    // Only additions and replacements: the dict is the picture's keys, in
    // order, then the added ones. Its size says whether each happened.
    if (static_cast<size_t>(PyDict_GET_SIZE(n.dict)) != n.keys.size() + n_added) return false;
    // Every key here is a str or an int: looking it up runs no user code.
    // In index order, each once, as the full comparison writes them (a few
    // at most: an insertion sort).
    size_t distinct = 0;
    for (size_t r = 0; r < n_replaced; ++r) {
        size_t i = replaced[r], at = distinct;
        if (std::find(replaced.begin(), replaced.begin() + distinct, i) != replaced.begin() + distinct) continue;
        while (at > 0 && replaced[at - 1] > i) {
            replaced[at] = replaced[at - 1];
            --at;
        }
        replaced[at] = i;
        ++distinct;
    }
    n_replaced = distinct;
    std::array<PyObject*, DictWrites::kKept> added_values{}, replaced_values{};
    auto lookup = [&](PyObject* key) -> PyObject* {
        PyObject* value = PyDict_GetItemWithError(n.dict, key);  // borrowed
        if (!value) PyErr_Clear();
        return value;
    };
    for (size_t a = 0; a < n_added; ++a) {
        if (!(added_values[a] = lookup(added[a]))) return false;
    }
    for (size_t r = 0; r < n_replaced; ++r) {
        if (!(replaced_values[r] = lookup(n.keys[replaced[r]]))) return false;
    }
    for (size_t r = 0; r < n_replaced; ++r) dict_compare_value(n, replaced[r], replaced_values[r], path, delta);
    for (size_t a = 0; a < n_added; ++a) dict_append(n, added[a], added_values[a], path, delta);
    n.seen = now;
    return true;
}

void ValueTree::diff_dict(Node& n, std::vector<PathStep>& path, Delta& delta) {
    if (diff_dict_at_writes(n, path, delta)) return;
    n.seen = *n.counter;
    n.key_index.reset();  // keys may be deleted below
    const bool environ = n.shape == Shape::kEnviron;
    std::vector<std::pair<PyObject*, PyObject*>> now;
    now.reserve(static_cast<size_t>(PyDict_GET_SIZE(n.dict)));
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(n.dict, &pos, &k, &v)) now.emplace_back(k, v);

    auto compare_value = [&](size_t i, PyObject* value) { dict_compare_value(n, i, value, path, delta); };
    auto append = [&](PyObject* key, PyObject* value) { dict_append(n, key, value, path, delta); };

    // The common case: the same keys in the same order, maybe more at the end.
    size_t prefix = 0;
    while (prefix < now.size() && prefix < n.keys.size() && now[prefix].first == n.keys[prefix]) ++prefix;
    for (size_t i = 0; i < prefix; ++i) compare_value(i, now[i].second);
    if (prefix == n.keys.size()) {
        for (size_t i = prefix; i < now.size(); ++i) append(now[i].first, now[i].second);
        return;
    }

    // Keys removed (or re-added, which moves them to the end): delete what is
    // gone, compare what stayed, append what is new. If the keys that stayed
    // are in another order, the dict is replaced whole.
    std::unordered_map<PyObject*, size_t> saved;  // key -> index in the picture
    for (size_t i = prefix; i < n.keys.size(); ++i) saved.emplace(n.keys[i], i);
    std::vector<bool> stays(n.keys.size(), false);
    size_t last_stayer = prefix, first_new = now.size();
    bool in_order = true;
    for (size_t j = prefix; j < now.size(); ++j) {
        auto it = saved.find(now[j].first);
        if (it == saved.end()) {
            if (first_new == now.size()) first_new = j;
            continue;
        }
        if (it->second < last_stayer || first_new < j) in_order = false;
        last_stayer = it->second;
        stays[it->second] = true;
    }
    if (!in_order) {
        replace_whole(n, path, delta);
        return;
    }
    for (size_t i = n.keys.size(); i-- > prefix;) {
        if (stays[i]) continue;
        serialize_key(n.keys[i], environ, delta.add(path, *limits_).initDeleteItem());
        bury(n.keys[i]);
        bury(n.items[i]);
        drop(n.kids[i]);
        n.keys.erase(n.keys.begin() + i);
        n.items.erase(n.items.begin() + i);
        n.kids.erase(n.kids.begin() + i);
    }
    // The picture now holds exactly the keys that stayed, in order.
    size_t i = prefix;
    for (size_t j = prefix; j < now.size(); ++j) {
        if (i < n.keys.size() && now[j].first == n.keys[i]) {
            compare_value(i, now[j].second);
            ++i;
        } else {
            append(now[j].first, now[j].second);
        }
    }
}

void ValueTree::diff_set(Node& n, std::vector<PathStep>& path, Delta& delta) {
    std::unordered_set<PyObject*> before(n.items.begin(), n.items.end());
    std::vector<PyObject*> now;
    auto* s = reinterpret_cast<PySetObject*>(n.obj);
    for (Py_ssize_t slot = 0; slot <= s->mask; ++slot) {
        PyObject* key = s->table[slot].key;
        if (key == nullptr || s->table[slot].hash == -1) continue;
        now.push_back(key);
    }
    std::unordered_set<PyObject*> after(now.begin(), now.end());
    std::vector<PyObject*> removed, added;
    for (PyObject* o : n.items) {
        if (!after.count(o)) removed.push_back(o);
    }
    for (PyObject* o : now) {
        if (!before.count(o)) added.push_back(o);
    }
    // An element swapped for an equal one is no change.
    if (removed.size() * added.size() <= 4096) {
        for (size_t r = removed.size(); r-- > 0;) {
            for (size_t a = 0; a < added.size(); ++a) {
                if (leaf_equal(removed[r], added[a], *limits_, n.depth + 1)) {
                    removed.erase(removed.begin() + r);
                    added.erase(added.begin() + a);
                    break;
                }
            }
        }
    }
    if (!removed.empty()) {
        auto out = delta.add(path, *limits_).initRemoveElements(static_cast<unsigned>(removed.size()));
        for (size_t i = 0; i < removed.size(); ++i) snapshot_value(removed[i], out[i], *limits_, n.depth + 1);
    }
    if (!added.empty()) {
        auto out = delta.add(path, *limits_).initAddElements(static_cast<unsigned>(added.size()));
        for (size_t i = 0; i < added.size(); ++i) snapshot_value(added[i], out[i], *limits_, n.depth + 1);
    }
    for (PyObject* o : n.items) bury(o);
    n.items.clear();
    n.kids.clear();
    for (PyObject* o : now) {
        n.items.push_back(Py_NewRef(o));
        n.kids.push_back(nullptr);
        note_if_opaque(o, n.depth + 1, notes_);
    }
    n.fingerprint = set_fingerprint(n.obj);
}

void ValueTree::replace_whole(Node& n, std::vector<PathStep>& path, Delta& delta) {
    delist(n);
    release_contents(n);
    fill_node(n);
    enlist(n);
    serialize_node(n, delta.add(path, *limits_).initReplace());
}

bool ValueTree::object_dict_swapped(const Node& n) {
    // `obj.__dict__ = other` swaps the dict itself.
    PyObject* dict = plain_object_dict(n.obj);
    Py_XDECREF(dict);  // only compared
    return dict != n.dict;
}

// ---- serializing ------------------------------------------------------------

void ValueTree::serialize(schema::Value::Builder out) const {
    if (secret_ && root_obj_)
        snapshot_redacted(root_obj_, out, *limits_, 0);
    else if (root_)
        serialize_node(*root_, out);
    else if (root_obj_)
        snapshot_value(root_obj_, out, *limits_, 0);
}

kj::Array<capnp::word> ValueTree::canonical() const {
    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<schema::Value>();
    serialize(root);
    return capnp::canonicalize(root.asReader());
}

void ValueTree::serialize_key(PyObject* key, bool environ, schema::Value::Builder out) const {
    if (!environ) {
        snapshot_value(key, out, *limits_, 1);
        return;
    }
    PyObject* text = environ_text(key);
    if (text) {
        snapshot_value(text, out, *limits_, 1);
        Py_DECREF(text);
    } else {
        out.setRepr("<?>");
    }
}

void ValueTree::serialize_entry_value(const Node& n, size_t i, schema::Value::Builder out) const {
    const bool environ = n.shape == Shape::kEnviron;
    if (limits_->redacts(n.keys[i])) {
        // os.environ's values are bytes in _data: the secret is the str the program sees.
        PyObject* shown = environ ? environ_text(n.items[i]) : Py_NewRef(n.items[i]);
        if (shown)
            snapshot_redacted(shown, out, *limits_, n.depth + 1);
        else
            out.setRepr("<?>");
        Py_XDECREF(shown);
        return;
    }
    // os.environ's values are bytes in _data too: shown as the str the program sees.
    if (environ)
        serialize_key(n.items[i], true, out);
    else
        serialize_item(n.items[i], n.kids[i].get(), n.depth + 1, out);
}

void ValueTree::serialize_item(PyObject* item, const Node* kid, int depth, schema::Value::Builder out) const {
    if (kid) {
        serialize_node(*kid, out);
    } else if (shape_of(item, depth, *limits_) != Shape::kLeaf) {
        // A container without a node: one of its own ancestors, or too deep.
        if (depth >= limits_->max_depth)
            out.setTooDeep();
        else
            out.setCycle();
    } else {
        snapshot_value(item, out, *limits_, depth);
    }
}

void ValueTree::serialize_node(const Node& n, schema::Value::Builder out) const {
    const int depth = n.depth + 1;
    switch (n.shape) {
        case Shape::kList:
        case Shape::kTuple: {
            auto list = n.shape == Shape::kList ? out.initList(static_cast<unsigned>(n.items.size()))
                                                : out.initTuple(static_cast<unsigned>(n.items.size()));
            for (size_t i = 0; i < n.items.size(); ++i) serialize_item(n.items[i], n.kids[i].get(), depth, list[i]);
            if (!PyList_CheckExact(n.obj) && !PyTuple_CheckExact(n.obj)) out.setTypeName(type_name(Py_TYPE(n.obj)));
            break;
        }
        case Shape::kDict:
        case Shape::kEnviron:
        case Shape::kObject: {
            capnp::List<schema::Entry>::Builder entries = nullptr;
            if (n.shape == Shape::kObject) {
                auto inst = out.initObject();
                inst.setTypeName(type_name(Py_TYPE(n.obj)));
                entries = inst.initAttributes(static_cast<unsigned>(n.keys.size()));
            } else {
                entries = out.initDict(static_cast<unsigned>(n.keys.size()));
                if (n.shape == Shape::kEnviron)
                    out.setTypeName("os._Environ");
                else if (!PyDict_CheckExact(n.obj))
                    out.setTypeName(type_name(Py_TYPE(n.obj)));
            }
            const bool environ = n.shape == Shape::kEnviron;
            for (size_t i = 0; i < n.keys.size(); ++i) {
                serialize_key(n.keys[i], environ, entries[i].initKey());
                serialize_entry_value(n, i, entries[i].initValue());
            }
            break;
        }
        case Shape::kSet: {
            auto list = PyFrozenSet_Check(n.obj) ? out.initFrozenset(static_cast<unsigned>(n.items.size()))
                                                 : out.initSet(static_cast<unsigned>(n.items.size()));
            for (size_t i = 0; i < n.items.size(); ++i) snapshot_value(n.items[i], list[i], *limits_, depth);
            if (!PyAnySet_CheckExact(n.obj)) out.setTypeName(type_name(Py_TYPE(n.obj)));
            break;
        }
        case Shape::kBytearray:
            out.setBytes(kj::arrayPtr(reinterpret_cast<const kj::byte*>(n.content.data()), n.content.size()));
            out.setTypeName(type_name(Py_TYPE(n.obj)));
            break;
        case Shape::kSequence:
            // Its contents as they are now: a sequence is compared at every update,
            // so between updates the picture and the object agree.
            snapshot_value(n.obj, out, *limits_, n.depth);
            break;
        case Shape::kLeaf: snapshot_value(n.obj, out, *limits_, n.depth); break;
    }
}

}  // namespace spyrec::recorder
