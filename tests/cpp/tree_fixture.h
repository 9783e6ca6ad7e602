// The value tree's test fixture: a tree over `ns['V']` in an embedded
// interpreter, with a namespace to mutate it in and a dict registry that
// the dict watcher feeds.
#pragma once
#include <gtest/gtest.h>
#include <pybind11/embed.h>

#include "embedded_python.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <memory>
#include <string>
#include <vector>

#include "dict_registry.h"
#include "snapshot.h"
#include "spyrec.capnp.h"
#include "value_tree.h"

namespace py = pybind11;
namespace rec = spyrec::recorder;
namespace schema = spyrec::schema;

// Unnamed: pybind11's types are hidden, and so must the fixture holding them be.
namespace {

void interpreter() { embedded_python(); }

rec::DictRegistry* g_registry = nullptr;

int bump(PyDict_WatchEvent event, PyObject* dict, PyObject* key, PyObject*) {
    if (g_registry) g_registry->bump(event, dict, key);
    return 0;
}

std::string canonical_bytes(const kj::Array<capnp::word>& words) {
    return std::string(reinterpret_cast<const char*>(words.begin()), words.size() * sizeof(capnp::word));
}

// A tree over `ns['V']`, with a namespace to mutate it in.
class TreeTest : public ::testing::Test {
protected:
    void SetUp() override {
        interpreter();
        ASSERT_TRUE(registry_.open(bump));
        g_registry = &registry_;
        ns_ = py::dict();
        py::exec("import collections", ns_);
    }
    void TearDown() override {
        tree_.reset();
        g_registry = nullptr;
        registry_.close();
    }
    void watch(const char* code) {
        py::exec(code, ns_);
        tree_ = std::make_unique<rec::ValueTree>(&registry_, &watched_, &limits_);
        tree_->build(ns_["V"].ptr());
    }
    // Runs `code`, updates the tree, returns the ops as capnp text.
    std::vector<std::string> change(const char* code) {
        py::exec(code, ns_);
        rec::Delta delta;
        tree_->update(delta);
        rec::ScratchMessage spare;
        auto record = delta.init_change(spare);
        // The record's message holds the record and nothing else: no word
        // left behind by ops that grew or were moved. (A record spanning
        // several segments also leaves each one's tail unused when the next
        // object did not fit there.)
        size_t words = 0, segments = 0;
        for (auto segment : delta.change_message().getSegmentsForOutput()) {
            words += segment.size();
            ++segments;
        }
        size_t record_words = record.asReader().totalSize().wordCount + 1;  // and the root pointer
        if (segments == 1)
            EXPECT_EQ(words, record_words);
        else
            EXPECT_LE(words, 2 * record_words);
        std::vector<std::string> out;
        for (auto op : record.getOps().asReader()) out.push_back(kj::str(op).cStr());
        return out;
    }
    std::string pictured() { return canonical_bytes(tree_->canonical()); }
    std::string live() { return canonical_bytes(rec::snapshot_canonical(ns_["V"].ptr(), limits_)); }

    rec::DictRegistry registry_;
    rec::WatchedContainers watched_;
    rec::SnapshotLimits limits_;
    py::object ns_;
    std::unique_ptr<rec::ValueTree> tree_;
};

}  // namespace
