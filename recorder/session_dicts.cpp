// Exact culprits from the dict watcher: CPython calls it during a mutation
// of a watched dict, in the thread and frame that make it, before the dict
// changes. The culprit is kept until the next check compares the watches
// that depend on that dict.
#include "session.h"

#include "session_helpers.h"

namespace spyrec::recorder {

namespace {

// Whether the store about to happen frees nothing that can run code: it adds
// a key, or the value it replaces or deletes stays alive (another reference)
// or frees silently. Looked up only under a plain key, which runs no user code.
bool store_frees_nothing(PyDict_WatchEvent event, PyObject* dict, PyObject* key) {
    if (event == PyDict_EVENT_ADDED) return true;
    if (event != PyDict_EVENT_MODIFIED && event != PyDict_EVENT_DELETED) return false;  // cleared, cloned
    if (!key || !is_plain_key(key) || PyErr_Occurred()) return false;
    PyObject* old = PyDict_GetItemWithError(dict, key);  // borrowed
    if (!old) {
        PyErr_Clear();
        return true;
    }
    return Py_REFCNT(old) > 1 || frees_silently(old);
}

}  // namespace

// The C callback CPython's dict watcher calls.
int on_dict_watcher_event(PyDict_WatchEvent event, PyObject* dict, PyObject* key, PyObject* new_value) {
    Session* s = Session::active();
    return s ? s->on_dict_event(event, dict, key, new_value) : 0;
}

int Session::on_dict_event(PyDict_WatchEvent event, PyObject* dict, PyObject* key, PyObject* new_value) {
    if (event == PyDict_EVENT_DEALLOCATED) return 0;
    if (busy() || stopped_ || floor_) {  // floor(): callbacks.cpp
        dicts_.bump(event, dict, key);
        return 0;
    }
    bool fresh;
    ThreadState* t = thread_state(&fresh);
    PyObject* raw_code = nullptr;
    int offset = 0;
    bool known = current_instruction(&raw_code, &offset);
    PyRef owned_code = PyRef::steal(raw_code);
    PyObject* code = owned_code.get();
    if (known) {
        CodeInfo* info = codes_.get(code);
        while (offset > 0 && info->opcode_at(offset) == kCacheOpcode) offset -= 2;
    }
    // Changes made before this mutation belong to earlier instructions:
    // settle them first, so two mutations by two instructions stay two
    // changes. One instruction storing several keys (dict.update) is one
    // change; the same instruction storing the same key again is running
    // again (a loop with no other event), so that settles too.
    bool same_execution = false;
    if (known && !dict_culprits_.empty()) {
        const DictCulprit& last = dict_culprits_.back();
        if (last.thread == t && last.code.get() == code && last.offset == offset) {
            same_execution = true;
            for (const auto& c : dict_culprits_) {
                if (c.dict == dict && c.key == key) same_execution = false;
            }
        }
    }
    // What the thread's own state says may have changed, as at any event: a
    // store by a pure instruction (STORE_NAME of a loop variable) after a
    // clean one compares nothing here, so no watched list is compared whole.
    if (!same_execution) check_watches(t);
    // From here on, what the thread does is this store's doing or later: its
    // frame's shadow offset names it. (It may still name an instruction
    // before a disabled CALL, rule 8; and a value this store drops may be
    // freed by spyrec's own check later, whose second pass blames it here.)
    if (known) {
        ShadowFrame* top = t->top();
        if (top && top->code == code) top->offset = offset;
    }
    dicts_.bump(event, dict, key);
    // Unless the next event compares everything already (then no lookup):
    if (!(t->dirty && !t->dirty_target)) {
        if (!store_frees_nothing(event, dict, key)) {
            // The value replaced or deleted may be freed when the store
            // finishes, and its finalizer or a C weakref callback may change
            // anything.
            t->dirty = true;
            t->dirty_target = nullptr;
        } else if (!t->dirty) {
            // The next event compares this dict's watches: a check aimed at
            // the dict looks at no list (no list is it) and at the written dicts.
            t->dirty = true;
            t->dirty_target = dict;
        }
    }
    if (known) {
        DictCulprit culprit{t, std::move(owned_code), offset, dict, key};
        ShadowFrame* top = t->top();
        if (top && top->code != code && operands_readable_) {
            culprit.caller_code = top->code;
            culprit.caller_offset = running_offset_of(top->code);  // rounded to its instruction when recorded
        }
        dict_culprits_.push_back(std::move(culprit));
    }
    if (new_value && (event == PyDict_EVENT_ADDED || event == PyDict_EVENT_MODIFIED)) {
        SavedError saved;
        ColdSection cold(*this);
        probe_table_stale_ = true;
        for (auto& w : watches_) {
            if (w->depends_on(dict)) w->before_store(dict, key, new_value);
        }
    }
    return 0;
}

void Session::forget_dict_culprits() {
    dict_culprits_.clear();  // their code objects are released with them
}

const Session::DictCulprit* Session::dict_culprit_for(const Watch& w) const {
    for (size_t i = dict_culprits_.size(); i-- > 0;) {
        if (w.depends_on(dict_culprits_[i].dict)) return &dict_culprits_[i];
    }
    return nullptr;
}

}  // namespace spyrec::recorder
