// Value rendering (repr text, JSON tree) and structural diffs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "diff.h"
#include "render.h"
#include "value_builders.h"

using namespace spyrec::replayer;
using namespace spyrec::testing;
using Lines = std::vector<std::string>;

// ---- repr ----------------------------------------------------------------

TEST(Repr, FloatsMatchPython) {
    EXPECT_EQ(float_repr(0.1), "0.1");
    EXPECT_EQ(float_repr(100.0), "100.0");
    EXPECT_EQ(float_repr(100000.0), "100000.0");
    EXPECT_EQ(float_repr(1.5), "1.5");
    EXPECT_EQ(float_repr(0.0001), "0.0001");
    EXPECT_EQ(float_repr(0.00001), "1e-05");
    EXPECT_EQ(float_repr(1e16), "1e+16");
    EXPECT_EQ(float_repr(1234567890123456.0), "1234567890123456.0");
    EXPECT_EQ(float_repr(1.5e300), "1.5e+300");
    EXPECT_EQ(float_repr(-0.0), "-0.0");
    EXPECT_EQ(float_repr(0.0), "0.0");
    EXPECT_EQ(float_repr(-2.5), "-2.5");
    EXPECT_EQ(float_repr(std::nan("")), "nan");
    EXPECT_EQ(float_repr(-std::numeric_limits<double>::infinity()), "-inf");
    EXPECT_EQ(float_repr(5e-324), "5e-324");
}

TEST(Repr, StringsQuoteAndEscapeLikePython) {
    EXPECT_EQ(str_repr("animals"), "'animals'");
    EXPECT_EQ(str_repr("it's"), "\"it's\"");
    EXPECT_EQ(str_repr("both ' and \""), "'both \\' and \"'");
    EXPECT_EQ(str_repr("a\\b\n\t\r"), "'a\\\\b\\n\\t\\r'");
    EXPECT_EQ(str_repr(std::string("\x01\x7f", 2)), "'\\x01\\x7f'");
    EXPECT_EQ(str_repr("caf\xc3\xa9"), "'caf\xc3\xa9'");  // printable: kept
    EXPECT_EQ(str_repr("\xc2\xa0"), "'\\xa0'");           // NBSP: escaped
    EXPECT_EQ(str_repr("\xe2\x80\xa8"), "'\\u2028'");
    EXPECT_EQ(str_repr("\xed\xa0\x80"), "'\\ud800'");  // a lone surrogate
    EXPECT_EQ(str_repr("\xff"), "'\\xff'");            // not UTF-8: shown as a byte
}

TEST(Repr, BytesLikePython) {
    EXPECT_EQ(bytes_repr(std::string("a\x00\xff'", 4)), "b\"a\\x00\\xff'\"");
    EXPECT_EQ(bytes_repr("x\n"), "b'x\\n'");
}

TEST(Repr, Containers) {
    EXPECT_EQ(repr(StrList({"a", "b"})), "['a', 'b']");
    EXPECT_EQ(repr(T({I(1)})), "(1,)");
    EXPECT_EQ(repr(T({})), "()");
    EXPECT_EQ(repr(Set({})), "set()");
    EXPECT_EQ(repr(Items(Kind::FrozenSet, {I(1)})), "frozenset({1})");
    EXPECT_EQ(repr(D({{S("k"), None()}, {I(2), B(true)}})), "{'k': None, 2: True}");
    EXPECT_EQ(repr(Obj("app.Config", {{"host", S("h")}, {"port", I(80)}})), "app.Config(host='h', port=80)");
    EXPECT_EQ(repr(Big("123456789012345678901234567890")), "123456789012345678901234567890");
    EXPECT_EQ(repr(L({V(Kind::Cycle), V(Kind::TooDeep)})), "[<cycle>, <...>]");
}

TEST(Repr, TruncatedAndSubclass) {
    Value v = StrList({"a"});
    v.truncated = 3;
    EXPECT_EQ(repr(v), "['a', <3 more>]");
    Value d = D({{S("a"), I(1)}});
    d.subclass = "collections.OrderedDict";
    EXPECT_EQ(repr(d), "collections.OrderedDict({'a': 1})");
}

TEST(Repr, IsBoundedAndCutsAtCharacterBoundary) {
    std::vector<std::string> many(1000, "\xc3\xa9\xc3\xa9\xc3\xa9");
    std::string text = repr(StrList(many), 50);
    EXPECT_LE(text.size(), 53u);
    EXPECT_EQ(text.substr(text.size() - 3), "...");
    // No partial UTF-8 sequence before the "...".
    auto last = static_cast<unsigned char>(text[text.size() - 4]);
    EXPECT_TRUE(last < 0x80 || last == 0xa9) << text;
}

// ---- JSON ----------------------------------------------------------------

TEST(Json, ScalarsAndReprStrings) {
    EXPECT_EQ(to_json(None()).kind, Json::Kind::Null);
    EXPECT_EQ(to_json(Big("-99999999999999999999")).kind, Json::Kind::BigInt);
    Json bad_big = to_json(Big("12x"));
    EXPECT_EQ(bad_big.kind, Json::Kind::Str);
    EXPECT_EQ(bad_big.text, "12x");
    Json nan = to_json(F(std::nan("")));
    EXPECT_EQ(nan.kind, Json::Kind::Str);
    EXPECT_EQ(nan.text, "nan");
    Json f = to_json(F(2.5));
    EXPECT_EQ(f.kind, Json::Kind::Float);
    EXPECT_EQ(to_json(Bytes("hi")).text, "b'hi'");
    // Markers are objects, never strings a value could hold too.
    Json cycle = to_json(V(Kind::Cycle));
    ASSERT_EQ(cycle.kind, Json::Kind::Object);
    ASSERT_EQ(cycle.members.size(), 1u);
    EXPECT_EQ(cycle.members[0].key, "__cycle__");
    EXPECT_TRUE(cycle.members[0].value.boolean);
    EXPECT_EQ(to_json(V(Kind::TooDeep)).members[0].key, "__too_deep__");
    Value cut = S("abc");
    cut.truncated = 7;
    Json text = to_json(cut);
    ASSERT_EQ(text.kind, Json::Kind::Object);
    EXPECT_EQ(text.members[0].key, "__text__");
    EXPECT_EQ(text.members[0].value.text, "abc");
    EXPECT_EQ(text.members[1].key, "__more__");
    EXPECT_EQ(text.members[1].value.integer, 7);
    EXPECT_EQ(to_json(S("<cycle>")).kind, Json::Kind::Str);
}

TEST(Json, ContainersBecomeListsAndStrKeyedDicts) {
    Json t = to_json(T({I(1), S("x")}));
    ASSERT_EQ(t.kind, Json::Kind::Array);
    ASSERT_EQ(t.items.size(), 2u);
    EXPECT_EQ(t.items[1].text, "x");

    Value truncated = Set({I(1)});
    truncated.truncated = 4;
    Json s = to_json(truncated);
    ASSERT_EQ(s.items.size(), 2u);
    ASSERT_EQ(s.items[1].kind, Json::Kind::Object);
    EXPECT_EQ(s.items[1].members[0].key, "__more__");
    EXPECT_EQ(s.items[1].members[0].value.integer, 4);

    Json d = to_json(D({{S("a"), I(1)}, {I(2), I(3)}, {T({I(1), I(2)}), I(4)}}));
    ASSERT_EQ(d.kind, Json::Kind::Object);
    ASSERT_EQ(d.members.size(), 3u);
    EXPECT_EQ(d.members[0].key, "a");
    EXPECT_EQ(d.members[1].key, "2");
    EXPECT_EQ(d.members[2].key, "(1, 2)");

    // The program's own key that spells a marker's name is shown as its repr.
    Json spelled = to_json(D({{S("__cycle__"), B(true)}, {S("__more__"), I(3)}, {S("__class__"), S("x")}}));
    ASSERT_EQ(spelled.members.size(), 3u);
    EXPECT_EQ(spelled.members[0].key, "'__cycle__'");
    EXPECT_EQ(spelled.members[1].key, "'__more__'");
    EXPECT_EQ(spelled.members[2].key, "'__class__'");
    EXPECT_EQ(to_json(D({{S("__init__"), I(1)}})).members[0].key, "__init__");
    // ... and so is a key that spells an escaped one, so the two stay apart.
    EXPECT_EQ(to_json(D({{S("'__more__'"), I(1)}})).members[0].key, "\"'__more__'\"");

    Json o = to_json(Obj("app.Config", {{"debug", B(false)}}));
    ASSERT_EQ(o.members.size(), 2u);
    EXPECT_EQ(o.members[0].key, "__class__");
    EXPECT_EQ(o.members[0].value.text, "app.Config");
    EXPECT_EQ(o.members[1].key, "debug");
    EXPECT_EQ(o.members[1].value.kind, Json::Kind::Bool);
}

// ---- diff ----------------------------------------------------------------

TEST(Diff, ListInsertAtZeroIsOneAddedLine) {
    Value before = StrList({"/usr/lib/python3.12", "/site"});
    Value after = StrList({"animals", "/usr/lib/python3.12", "/site"});
    EXPECT_EQ(diff(before, after), (Lines{"+ [0] 'animals'"}));
}

TEST(Diff, ListRemovalUsesOldIndex) {
    EXPECT_EQ(diff(StrList({"a", "b", "c", "x"}), StrList({"a", "b", "c"})), (Lines{"- [3] 'x'"}));
    EXPECT_EQ(diff(StrList({"a", "x", "b"}), StrList({"a", "b"})), (Lines{"- [1] 'x'"}));
}

TEST(Diff, SameLengthListChangesPerIndex) {
    EXPECT_EQ(diff(StrList({"a", "b", "c"}), StrList({"a", "x", "c"})), (Lines{"~ [1]: 'b' -> 'x'"}));
}

TEST(Diff, DifferentLengthsAlignByLcs) {
    // Remove "b", insert "y" at the end: the common a, c, d stay quiet.
    EXPECT_EQ(diff(StrList({"a", "b", "c", "d"}), StrList({"a", "c", "d", "y", "z"})),
              (Lines{"- [1] 'b'", "+ [3] 'y'", "+ [4] 'z'"}));
}

TEST(Diff, DictAddRemoveChange) {
    Value before = D({{S("a"), I(1)}, {S("b"), I(2)}, {S("c"), I(3)}});
    Value after = D({{S("a"), I(1)}, {S("c"), I(30)}, {S("d"), I(4)}});
    EXPECT_EQ(diff(before, after), (Lines{"- ['b'] 2", "~ ['c']: 3 -> 30", "+ ['d'] 4"}));
}

TEST(Diff, NestedPaths) {
    Value before = D({{S("db"), D({{S("host"), S("a")}, {S("ports"), L({I(1), I(2)})}})}});
    Value after = D({{S("db"), D({{S("host"), S("b")}, {S("ports"), L({I(1), I(2), I(3)})}})}});
    EXPECT_EQ(diff(before, after), (Lines{"~ ['db']['host']: 'a' -> 'b'", "+ ['db']['ports'][2] 3"}));
}

TEST(Diff, ObjectAttributes) {
    Value before = Obj("app.Config", {{"name", S("a")}, {"debug", B(false)}});
    Value after = Obj("app.Config", {{"name", S("b")}, {"debug", B(false)}, {"extra", I(1)}});
    EXPECT_EQ(diff(before, after), (Lines{"~ .name: 'a' -> 'b'", "+ .extra 1"}));
    EXPECT_EQ(diff(before, Obj("app.Other", {})), (Lines{"~ app.Config(name='a', debug=False) -> app.Other()"}));
}

TEST(Diff, Sets) {
    Value before = D({{S("s"), Set({S("x"), S("y")})}});
    Value after = D({{S("s"), Set({S("y"), S("z")})}});
    EXPECT_EQ(diff(before, after), (Lines{"- ['s'] {'x'}", "+ ['s'] {'z'}"}));
    EXPECT_EQ(diff(Set({I(1)}), Set({I(1), I(2)})), (Lines{"+ {2}"}));
}

TEST(Diff, ScalarsAndKindChanges) {
    EXPECT_EQ(diff(S("a"), S("b")), (Lines{"~ 'a' -> 'b'"}));
    EXPECT_EQ(diff(StrList({"a"}), T({S("a")})), (Lines{"~ ['a'] -> ('a',)"}));
    EXPECT_TRUE(diff(F(std::nan("")), F(std::nan(""))).empty());
    EXPECT_TRUE(diff(StrList({"a"}), StrList({"a"})).empty());
}

TEST(Diff, AppearedAndVanished) {
    EXPECT_EQ(diff(std::nullopt, std::optional<Value>(S("x"))), (Lines{"+ 'x'"}));
    EXPECT_EQ(diff(std::optional<Value>(I(3)), std::nullopt), (Lines{"- 3"}));
}

TEST(Diff, ReorderedDictIsStillAChange) {
    Value before = D({{S("a"), I(1)}, {S("b"), I(2)}});
    Value after = D({{S("b"), I(2)}, {S("a"), I(1)}});
    EXPECT_EQ(diff(before, after), (Lines{"~ {'a': 1, 'b': 2} -> {'b': 2, 'a': 1}"}));
}

TEST(Diff, HugeUnalignableListsFallBackToReplaced) {
    std::vector<Value> a, b;
    for (int i = 0; i < 3000; ++i) a.push_back(I(i));
    for (int i = 0; i < 3001; ++i) b.push_back(I(-i - 1));
    EXPECT_EQ(diff(L(a), L(b)), (Lines{"~ replaced (3000 items -> 3001 items)"}));
}

TEST(Diff, LargeAppendTrimsCommonEndsInsteadOfGivingUp) {
    std::vector<Value> a;
    for (int i = 0; i < 5000; ++i) a.push_back(I(i));
    std::vector<Value> b = a;
    b.insert(b.begin() + 2500, S("new"));
    EXPECT_EQ(diff(L(a), L(b)), (Lines{"+ [2500] 'new'"}));
}

TEST(Diff, StopsAfterLineLimit) {
    std::vector<Value> a, b;
    for (int i = 0; i < 1000; ++i) {
        a.push_back(I(i));
        b.push_back(I(i + 1000000));
    }
    Lines lines = diff(L(a), L(b));
    ASSERT_EQ(lines.size(), kMaxDiffLines + 1);
    EXPECT_EQ(lines.front(), "~ [0]: 0 -> 1000000");
    EXPECT_EQ(lines.back(), "... more differences not shown");
}
