// The recorder's value tree in an embedded interpreter: what update() writes
// as ops for each kind of edit, that equal replacements are no change, and
// that after every update the tree pictures the live value exactly (so a
// keyframe written then equals what the program holds).
#include <gtest/gtest.h>
#include <pybind11/embed.h>

#include "embedded_python.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <random>
#include <string>

#include "dict_registry.h"
#include "snapshot.h"
#include "spyrec.capnp.h"
#include "value_tree.h"
#include "watch.h"

#include "tree_fixture.h"

namespace py = pybind11;
namespace rec = spyrec::recorder;
namespace schema = spyrec::schema;

TEST_F(TreeTest, ListStorePastItemThousandIsOneSplice) {
    watch("V = list(range(5000))");
    auto ops = change("V[4000] = -3");
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_NE(ops[0].find("start = 4000, end = 4001"), std::string::npos) << ops[0];
    EXPECT_NE(ops[0].find("integer = -3"), std::string::npos) << ops[0];
    EXPECT_EQ(pictured(), live());
}

TEST_F(TreeTest, AppendIsAnEmptyRangeSpliceAtTheEnd) {
    watch("V = [1, 2]");
    auto ops = change("V.append(3)");
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_NE(ops[0].find("start = 2, end = 2"), std::string::npos) << ops[0];
}

TEST_F(TreeTest, DictStoreIsOneSetItemWithOnlyTheNewValue) {
    watch("V = {i: 'x' * 200 for i in range(3000)}");
    auto ops = change("V[3000] = 'new'");
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_NE(ops[0].find("setItem"), std::string::npos);
    EXPECT_LT(ops[0].size(), 200u) << "an op carries the edit, not the dict";
}

TEST_F(TreeTest, DeletedKeyIsDeleteItem) {
    watch("V = {'a': 1, 'b': 2, 'c': 3}");
    auto ops = change("del V['b']");
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_NE(ops[0].find("deleteItem = (str = \"b\""), std::string::npos) << ops[0];
    EXPECT_EQ(pictured(), live());
}

TEST_F(TreeTest, NestedEditHasAPathFromTheWatchedValue) {
    watch("V = {'db': {'hosts': ['a']}}");
    auto ops = change("V['db']['hosts'].append('b')");
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_NE(ops[0].find("path = [(key = (str = \"db\""), std::string::npos) << ops[0];
    EXPECT_NE(ops[0].find("(key = (str = \"hosts\""), std::string::npos) << ops[0];
}

TEST_F(TreeTest, EqualReplacementIsNoChange) {
    watch("V = [1.5, [1, 2], 'abc' * 3]");
    EXPECT_TRUE(change("V[0] = float('1.5'); V[1] = [1, 2]; V[2] = 'abcabcabc'[:]").empty());
    // ...but the tree now follows the new nested list.
    auto ops = change("V[1].append(3)");
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_NE(ops[0].find("path = [(index = 1)]"), std::string::npos) << ops[0];
}

TEST_F(TreeTest, ObjectInsideIsComparedByIdentityNotAttributes) {
    watch("class Finder: pass\nV = [Finder()]");
    EXPECT_TRUE(change("V[0].cache = {'x': 1}").empty());
    EXPECT_EQ(change("V[0] = Finder()").size(), 1u);
}

TEST_F(TreeTest, SetAddAndRemoveAreElementOps) {
    watch("V = {1, 2, 3}");
    auto ops = change("V.discard(2); V.add(4)");
    ASSERT_EQ(ops.size(), 2u);
    EXPECT_NE(ops[0].find("removeElements"), std::string::npos) << ops[0];
    EXPECT_NE(ops[1].find("addElements"), std::string::npos) << ops[1];
}

TEST_F(TreeTest, DeleteAndReAddMovesTheKeyToTheEnd) {
    watch("V = {'a': 1, 'b': 2}");
    change("del V['a']; V['a'] = 1");
    EXPECT_EQ(pictured(), live()) << "key order follows the dict";
}

TEST_F(TreeTest, CycleIsPicturedNotFollowed) {
    watch("V = [1]; V.append(V)");
    EXPECT_EQ(pictured(), live());
    change("V.append(2)");
    EXPECT_EQ(pictured(), live());
}

// Random edits of a nested value: after each update the picture equals the
// live value, and an edit never goes unreported.
TEST_F(TreeTest, PictureFollowsRandomEdits) {
    watch("V = {'l': [0, 1, 2], 'd': {'k': [1]}, 's': {1}, 't': (1, [2])}");
    const char* edits[] = {
        "V['l'].insert(0, len(V['l']))",
        "V['l'] and V['l'].pop()",
        "V['l'][:1] = [V['l'][:1]]",
        "V['d']['n%d' % len(V['d'])] = 1",
        "V['d'].pop('k', None)",
        "V['s'].add(len(V['s']) + 5)",
        "V['t'][1].append(0)",
        "V['l'].sort(key=repr)",
        "V['d'] = dict(V['d'])",
        "V['l'].reverse()",
        "V.setdefault('x', []).append(1)",
    };
    std::mt19937 rng(7);
    for (int i = 0; i < 300; ++i) {
        std::string before = pictured();
        auto ops = change(edits[rng() % std::size(edits)]);
        std::string after = live();
        ASSERT_EQ(pictured(), after) << "after edit " << i;
        EXPECT_EQ(ops.empty(), before == after) << "edit " << i << ": ops iff the value changed";
    }
}

// A watch whose path leads to the same object skips resolving it again at a
// change, unless dicts were watched early for a store (before_store): those
// are dropped by resolving again, and must not pile up on the watch.
TEST_F(TreeTest, DictsWatchedEarlyAreDroppedAtTheNextChange) {
    py::exec(R"(
import sys, types
mod = types.ModuleType("spyrec_paths_case")
mod.BIG = {}
sys.modules["spyrec_paths_case"] = mod
never_stored = {"inner": {}}
)",
             ns_);
    std::vector<rec::WatchStep> steps{{true, PyUnicode_FromString("BIG")}};
    rec::Watch w(1, "spyrec_paths_case.BIG", "spyrec_paths_case", steps, &registry_, &watched_, &limits_);
    rec::Delta first;
    ASSERT_EQ(w.update(first), rec::Watch::Outcome::kAppeared);
    PyObject* big = ns_["mod"].attr("BIG").ptr();
    PyObject* early = ns_["never_stored"].ptr();
    PyObject* inner = PyDict_GetItemString(early, "inner");
    w.before_store(big, py::int_(1).ptr(), early);
    EXPECT_TRUE(w.depends_on(inner));
    py::exec("mod.BIG[2] = 0", ns_);
    rec::Delta second;
    EXPECT_EQ(w.update(second), rec::Watch::Outcome::kModified);
    EXPECT_FALSE(w.depends_on(inner));
    py::exec("del sys.modules['spyrec_paths_case']", ns_);
}

// One change of many ops (an update of 1,000 keys): the ops list grows by
// doubling, so the message holds O(n) words of holes, not O(n^2), and the
// ops' size that the keyframe policy reads counts the ops, not the holes.
TEST_F(TreeTest, AChangeOfAThousandOpsCostsItsOpsOnly) {
    watch("V = {}");
    py::exec("V.update({i: i for i in range(1000)})", ns_);
    rec::Delta delta;
    tree_->update(delta);
    ASSERT_EQ(delta.size(), 1000u);
    size_t counted = delta.bytes();
    rec::ScratchMessage spare;
    auto record = delta.init_change(spare);
    size_t ops_words = record.getOps().asReader().totalSize().wordCount;
    EXPECT_LE(counted, ops_words * sizeof(capnp::word));
    EXPECT_GE(counted * 2, ops_words * sizeof(capnp::word));
    // Grown one op at a time, the holes alone were ~1.5 n^2 words (12 MB here).
    EXPECT_LE(delta.message_words(), 4 * ops_words);
}
