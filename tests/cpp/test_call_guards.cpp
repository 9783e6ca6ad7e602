// find_global_callees (recorder/call_guards.h): which CALLs call a global
// loaded right before them, on the bytecode of the Python running the tests.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "call_guards.h"
#include "embedded_python.h"
#include "stack_depth.h"

namespace py = pybind11;
using spyrec::recorder::BytecodeFlow;
using spyrec::recorder::CalleeScanTable;

namespace {

// `f` (defined by `source`) as the searches see it.
struct Scanned {
    explicit Scanned(const char* source) {
        embedded_python();
        py::dict scope;
        py::exec(source, scope);
        code = scope["f"].attr("__code__");
        EXPECT_TRUE(spyrec::recorder::load_bytecode_flow(flow));
        EXPECT_TRUE(table.load());
        std::vector<int16_t> depths;
        EXPECT_TRUE(spyrec::recorder::compute_stack_depths(code.ptr(), flow, depths));
        callees = spyrec::recorder::find_global_callees(code.ptr(), depths, flow, table);
    }
    py::object code;
    BytecodeFlow flow;
    CalleeScanTable table;
    std::vector<int32_t> callees;
};

// The names the CALLs of `f` (defined by `source`) call, in offset order;
// "-" for a CALL whose callable is not a global loaded for it.
std::vector<std::string> callees(const char* source) {
    Scanned f(source);
    const std::vector<int32_t>& found = f.callees;
    py::object code = f.code;
    py::module_ dis = py::module_::import("dis");
    py::tuple names = code.attr("co_names");
    std::vector<std::string> out;
    for (py::handle ins : dis.attr("get_instructions")(code)) {
        std::string op = py::str(ins.attr("opname"));
        if (op != "CALL" && op != "CALL_KW") continue;
        int32_t index = found.at(ins.attr("offset").cast<size_t>() / 2);
        out.push_back(index < 0 ? "-" : names[static_cast<size_t>(index)].cast<std::string>());
    }
    return out;
}

using Names = std::vector<std::string>;

TEST(GlobalCallees, NestedCallsAndOperatorsBetweenLoadAndCall) {
    EXPECT_EQ(callees("def f(x):\n    return g(1, h(x) + 2, x.y, [x], -x)\n"), (Names{"h", "g"}));
}

TEST(GlobalCallees, KeywordCalls) { EXPECT_EQ(callees("def f(x):\n    g(x, k=h(x))\n"), (Names{"h", "g"})); }

TEST(GlobalCallees, NotAGlobal) {
    EXPECT_EQ(callees("def f(x, k):\n    x.m(1)\n    k(2)\n    (lambda: 0)()\n"), (Names{"-", "-", "-"}));
}

TEST(GlobalCallees, AJumpBetweenLoadAndCallRefuses) {
    EXPECT_EQ(callees("def f(x, c):\n    g(x if c else 0)\n    g(c and x)\n"), (Names{"-", "-"}));
}

TEST(GlobalCallees, ACallableChosenByAJumpRefuses) { EXPECT_EQ(callees("def f(x):\n    (g or h)(x)\n"), (Names{"-"})); }

TEST(GlobalCallees, TheResultOfAGlobalsCallIsNotTheGlobal) {
    EXPECT_EQ(callees("def f(x):\n    g(x)(x)\n"), (Names{"g", "-"}));
}

}  // namespace

namespace {

// What made the iterator of each FOR_ITER of `f`, in offset order: "constant",
// the global a CALL called ("-" for a call of something else), or "?".
std::vector<std::string> loop_sources(const char* source) {
    Scanned f(source);
    py::object code = f.code;
    const std::vector<int32_t>& callees = f.callees;
    std::vector<int32_t> sources = spyrec::recorder::find_loop_sources(code.ptr(), f.flow, f.table);
    py::tuple names = code.attr("co_names");
    std::vector<std::string> out;
    for (py::handle ins : py::module_::import("dis").attr("get_instructions")(code)) {
        if (std::string(py::str(ins.attr("opname"))) != "FOR_ITER") continue;
        int32_t s = sources.at(ins.attr("offset").cast<size_t>() / 2);
        if (s == spyrec::recorder::kLoopConstant) {
            out.push_back("constant");
        } else if (s >= 0) {
            int32_t index = callees.at(static_cast<size_t>(s));
            out.push_back(index < 0 ? "-" : names[static_cast<size_t>(index)].cast<std::string>());
        } else {
            out.push_back("?");
        }
    }
    return out;
}

TEST(LoopSources, ACallOfAGlobal) {
    EXPECT_EQ(loop_sources("def f(n, xs):\n    for i in range(len(xs)):\n        pass\n    for x in list(xs):\n"
                           "        pass\n"),
              (Names{"range", "list"}));
}

TEST(LoopSources, ConstantsButNotListsOrTuplesBuiltThere) {
    // A built list or tuple is freed, with its items, when its iterator runs out.
    EXPECT_EQ(loop_sources("def f(a, b):\n    for x in (1, 2):\n        pass\n    for x in [a, b]:\n        pass\n"
                           "    for x in a, b:\n        pass\n    for c in 'abc':\n        pass\n"),
              (Names{"constant", "?", "?", "constant"}));
}

TEST(LoopSources, AnythingElseIsUnknown) {
    EXPECT_EQ(loop_sources("def f(xs, o):\n    for x in xs:\n        pass\n    for x in o.items():\n        pass\n"
                           "    for x in (xs if o else range(3)):\n        pass\n"),
              (Names{"?", "-", "?"}));
}

TEST(LoopSources, NestedLoops) {
    EXPECT_EQ(loop_sources("def f(n):\n    for i in range(n):\n        for j in range(i):\n            pass\n"),
              (Names{"range", "range"}));
}

}  // namespace
