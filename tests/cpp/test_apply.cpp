// apply(): each op kind on each container, and hostile ops (paths that lead
// nowhere, indices out of range, ops of the wrong shape) as RecordingErrors.
#include <gtest/gtest.h>

#include <cmath>

#include "apply.h"
#include "recording_error.h"
#include "render.h"
#include "value_builders.h"

using namespace spyrec::replayer;
using namespace spyrec::testing;

namespace {

std::string applied(Value v, const std::vector<Op>& ops) {
    apply(v, ops, "change 1/2");
    return repr(v, 1000);
}

std::string error_of(Value v, const Op& o) {
    try {
        apply(v, o, "change 1/2");
    } catch (const RecordingError& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected a RecordingError";
    return "";
}

}  // namespace

TEST(Same, RefsAreEqualByIdAndTypeNotRepr) {
    EXPECT_TRUE(same(Ref("m.Finder", 7, "a"), Ref("m.Finder", 7, "b")));
    EXPECT_FALSE(same(Ref("m.Finder", 7), Ref("m.Finder", 8)));
    EXPECT_FALSE(same(Ref("m.Finder", 7), Ref("m.Other", 7)));
    EXPECT_FALSE(same(Ref("m.Finder", 7, "x"), Obj("m.Finder", {})));
}

TEST(Same, StructuralAndNanEqualsNan) {
    EXPECT_TRUE(same(D({{S("a"), L({I(1), F(NAN)})}}), D({{S("a"), L({I(1), F(NAN)})}})));
    EXPECT_FALSE(same(F(0.0), F(-0.0)));
    EXPECT_FALSE(same(D({{S("a"), I(1)}, {S("b"), I(2)}}), D({{S("b"), I(2)}, {S("a"), I(1)}})));
}

TEST(Apply, SetItemAppendsANewKeyAndReplacesInPlace) {
    Value d = D({{S("a"), I(1)}, {S("b"), I(2)}});
    EXPECT_EQ(applied(d, {SetItem({}, S("c"), I(3))}), "{'a': 1, 'b': 2, 'c': 3}");
    EXPECT_EQ(applied(d, {SetItem({}, S("a"), I(9))}), "{'a': 9, 'b': 2}");
}

TEST(Apply, DeleteItemRemovesTheKey) {
    EXPECT_EQ(applied(D({{S("a"), I(1)}, {S("b"), I(2)}}), {DelItem({}, S("a"))}), "{'b': 2}");
}

TEST(Apply, ObjectAttributesAreStrKeys) {
    Value o = Obj("app.Config", {{"name", S("x")}});
    EXPECT_EQ(applied(o, {SetItem({}, S("name"), S("y")), SetItem({}, S("port"), I(80))}),
              "app.Config(name='y', port=80)");
    EXPECT_EQ(applied(o, {DelItem({}, S("name"))}), "app.Config()");
}

TEST(Apply, SpliceInsertsRemovesAndReplacesRanges) {
    Value l = L({I(0), I(1), I(2), I(3)});
    EXPECT_EQ(applied(l, {Splice({}, 0, 0, {S("a")})}), "['a', 0, 1, 2, 3]");
    EXPECT_EQ(applied(l, {Splice({}, 4, 4, {S("z")})}), "[0, 1, 2, 3, 'z']");
    EXPECT_EQ(applied(l, {Splice({}, 1, 3, {})}), "[0, 3]");
    EXPECT_EQ(applied(l, {Splice({}, 1, 3, {S("x")})}), "[0, 'x', 3]");
    EXPECT_EQ(applied(l, {Splice({}, 1, 2, {S("x"), S("y"), S("z")})}), "[0, 'x', 'y', 'z', 2, 3]");
    EXPECT_EQ(applied(l, {Splice({}, 0, 4, {I(3), I(2), I(1), I(0)})}), "[3, 2, 1, 0]");  // sort()
    EXPECT_EQ(applied(T({I(1)}), {Splice({}, 1, 1, {I(2)})}), "(1, 2)");
}

TEST(Apply, SetMembersAddAndRemoveByEquality) {
    Value s = Set({S("a"), S("b")});
    EXPECT_EQ(applied(s, {AddEl({}, {S("c")}), RemoveEl({}, {S("a")})}), "{'b', 'c'}");
    EXPECT_EQ(applied(Set({Ref("m.F", 1), Ref("m.F", 2)}), {RemoveEl({}, {Ref("m.F", 2, "label")})}),
              "{<m.F object #1>}");
}

TEST(Apply, ReplaceAtAPathOrTheWholeValue) {
    Value v = D({{S("db"), D({{S("host"), S("a")}})}, {S("l"), L({I(1), L({I(2)})})}});
    EXPECT_EQ(applied(v, {Replace({Key(S("db")), Key(S("host"))}, S("b"))}), "{'db': {'host': 'b'}, 'l': [1, [2]]}");
    EXPECT_EQ(applied(v, {Splice({Key(S("l")), Ix(1)}, 1, 1, {I(3)})}), "{'db': {'host': 'a'}, 'l': [1, [2, 3]]}");
    EXPECT_EQ(applied(v, {Replace({}, I(5))}), "5");
}

TEST(Apply, OpsApplyInOrder) {
    EXPECT_EQ(applied(L({}),
                      {Splice({}, 0, 0, {D({})}), SetItem({Ix(0)}, S("k"), I(1)), Replace({Ix(0), Key(S("k"))}, I(2))}),
              "[{'k': 2}]");
}

TEST(ApplyHostile, PathsThatLeadNowhere) {
    Value v = D({{S("l"), L({I(1)})}, {S("n"), I(3)}});
    EXPECT_EQ(error_of(v, Replace({Key(S("missing"))}, I(1))),
              "damaged recording: change 1/2: an op's path key 'missing' is not there");
    EXPECT_EQ(error_of(v, Replace({Key(S("l")), Ix(1)}, I(1))),
              "damaged recording: change 1/2: an op's path index 1 is out of range (1 items)");
    EXPECT_EQ(error_of(v, Replace({Key(S("l")), Ix(UINT64_MAX)}, I(1))),
              "damaged recording: change 1/2: an op's path index 18446744073709551615 is out of range (1 items)");
    EXPECT_EQ(error_of(v, Replace({Ix(0)}, I(1))), "damaged recording: change 1/2: an op's path indexes a dict");
    EXPECT_EQ(error_of(v, Replace({Key(S("n")), Key(S("x"))}, I(1))),
              "damaged recording: change 1/2: an op's path looks up a key in a value that is not a container");
    EXPECT_EQ(error_of(Ref("m.F", 1), Replace({Key(S("x"))}, I(1))),
              "damaged recording: change 1/2: an op's path looks up a key in a value that is not a container");
}

TEST(ApplyHostile, OpsOfTheWrongShape) {
    EXPECT_EQ(error_of(L({}), SetItem({}, S("k"), I(1))), "damaged recording: change 1/2: a setItem op on a list");
    EXPECT_EQ(error_of(Set({}), DelItem({}, S("k"))), "damaged recording: change 1/2: a deleteItem op on a set");
    EXPECT_EQ(error_of(D({}), Splice({}, 0, 0, {})), "damaged recording: change 1/2: a splice op on a dict");
    EXPECT_EQ(error_of(L({}), AddEl({}, {I(1)})), "damaged recording: change 1/2: an addElements op on a list");
    EXPECT_EQ(error_of(S("x"), RemoveEl({}, {I(1)})),
              "damaged recording: change 1/2: a removeElements op on a value that is not a container");
}

TEST(ApplyHostile, RangesAndMembersThatAreNotThere) {
    Value l = L({I(0), I(1)});
    EXPECT_EQ(error_of(l, Splice({}, 1, 3, {})), "damaged recording: change 1/2: a splice op of [1:3] on 2 items");
    EXPECT_EQ(error_of(l, Splice({}, 2, 1, {})), "damaged recording: change 1/2: a splice op of [2:1] on 2 items");
    EXPECT_EQ(error_of(l, Splice({}, UINT64_MAX, UINT64_MAX, {})),
              "damaged recording: change 1/2: a splice op of [18446744073709551615:18446744073709551615] on 2 items");
    EXPECT_EQ(error_of(D({}), DelItem({}, S("k"))),
              "damaged recording: change 1/2: a deleteItem op of key 'k', which is not there");
    EXPECT_EQ(error_of(Set({I(1)}), RemoveEl({}, {I(2)})),
              "damaged recording: change 1/2: a removeElements op of 2, which is not there");
}
