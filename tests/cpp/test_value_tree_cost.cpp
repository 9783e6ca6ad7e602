// What a change to a big watched value costs the value tree: the dict
// entries it compares and the kids it searches grow with what changed, not
// with the size of the value (docs/value-model.md, "How the recorder finds a
// change in proportion to what changed"). And whatever shortcut it takes,
// the picture stays the live value and the ops are the ones a full
// comparison writes.
#include "tree_fixture.h"

#include <memory>
#include <string>
#include <vector>

namespace {

rec::DictRegistry* g_blind = nullptr;

// A dict watcher that keeps no key of the writes it sees: a tree fed by it
// always compares a written dict whole.
int bump_blind(PyDict_WatchEvent event, PyObject* dict, PyObject*, PyObject*) {
    if (g_blind) g_blind->bump(event, dict, nullptr);
    return 0;
}

// The ops a full comparison writes for `code` run after `setup`, in a
// namespace of their own.
std::vector<std::string> full_comparison_ops(const char* setup, const char* code) {
    rec::DictRegistry registry;
    EXPECT_TRUE(registry.open(bump_blind));
    g_blind = &registry;
    auto watched = std::make_unique<rec::WatchedContainers>();
    rec::SnapshotLimits limits;
    py::dict ns;
    py::exec(setup, ns);
    std::vector<std::string> out;
    {
        rec::ValueTree tree(&registry, watched.get(), &limits);
        tree.build(ns["V"].ptr());
        py::exec(code, ns);
        rec::Delta delta;
        tree.update(delta);
        rec::ScratchMessage spare;
        auto record = delta.init_change(spare);
        for (auto op : record.getOps().asReader()) out.push_back(kj::str(op).cStr());
    }
    g_blind = nullptr;
    registry.close();
    return out;
}

class TreeCostTest : public TreeTest {};

}  // namespace

TEST_F(TreeCostTest, AKeyAddedToABigDictIsTheOnlyEntryCompared) {
    watch("V = {i: i for i in range(10000)}");
    size_t before = tree_->items_visited();
    auto ops = change("V[10000] = 'new'");
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_NE(ops[0].find("setItem"), std::string::npos) << ops[0];
    EXPECT_LE(tree_->items_visited() - before, 1u);
    EXPECT_EQ(pictured(), live());
}

TEST_F(TreeCostTest, AKeyReplacedUnderAnEqualStrIsTheOnlyEntryCompared) {
    watch("V = {str(i): i for i in range(10000)}");
    change("V[''.join(['5', '0', '0', '0'])] = -1");  // builds the key index once
    size_t before = tree_->items_visited();
    auto ops = change("V[''.join(['7', '0', '0', '0'])] = -2; V['3'] = -3");
    ASSERT_EQ(ops.size(), 2u);
    EXPECT_NE(ops[0].find("str = \"3\""), std::string::npos) << "in the dict's order, as a full comparison" << ops[0];
    EXPECT_NE(ops[1].find("str = \"7000\""), std::string::npos) << ops[1];
    EXPECT_LE(tree_->items_visited() - before, 2u);
    EXPECT_EQ(pictured(), live());
}

TEST_F(TreeCostTest, AWriteInsideOneOfManyNestedDictsVisitsOnlyItsWay) {
    watch("V = {i: {'a': i} for i in range(10000)}");
    size_t before = tree_->items_visited();
    auto ops = change("V[9999]['a'] = -1; V[5000]['b'] = 1");
    ASSERT_EQ(ops.size(), 2u);
    EXPECT_NE(ops[0].find("integer = 5000"), std::string::npos) << "in the dict's order" << ops[0];
    EXPECT_NE(ops[1].find("integer = 9999"), std::string::npos) << ops[1];
    EXPECT_LE(tree_->items_visited() - before, 2u);
    EXPECT_EQ(pictured(), live());
}

TEST_F(TreeCostTest, ANestedDictAddedToABigDictCostsItself) {
    watch("V = {i: {'a': i} for i in range(10000)}");
    size_t before = tree_->items_visited();
    for (int i = 0; i < 100; ++i) change("V[len(V)] = {'a': 0}");
    change("V[10050]['a'] = 1");
    EXPECT_LE(tree_->items_visited() - before, 101u);
    EXPECT_EQ(pictured(), live());
}

// Each of these defeats the shortcut; the full comparison then gives what
// it always gave.
TEST_F(TreeCostTest, WritesTheShortcutCannotFollowAreComparedWhole) {
    const char* setup = "V = {str(i): i for i in range(100)}; V[True] = 't'; V[2.5] = 'f'";
    const char* codes[] = {
        "del V['7']; V['7'] = 7",              // deleted, then added again at the end
        "for i in range(20): V[str(i)] = -i",  // more writes than are kept
        "V[1] = 'one'",                        // an int key stored as True
        "V[2.5] = 'g'",                        // a key that is not a str or an int
        "V.clear(); V['x'] = 1",               // cleared
        "V.update({'a': 1, '5': 5, 'b': 2})",  // added and replaced in one call
        "V['n'] = 1; V['n'] = 2",              // added, then replaced: one setItem
    };
    for (const char* code : codes) {
        watch(setup);
        auto ops = change(code);
        EXPECT_EQ(ops, full_comparison_ops(setup, code)) << code;
        EXPECT_EQ(pictured(), live()) << code;
    }
}
