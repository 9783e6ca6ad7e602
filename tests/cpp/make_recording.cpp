// Writes format-2 recordings with the fixture writer, for the pytest suite
// (tests/python/test_format2.py) before and besides the recorder:
//   make_recording big DIR CHANGES ITEMS ITEM_BYTES
//       app.BIG: a list of ITEMS strings of ITEM_BYTES each; change n stores n
//       at index 0 (a keyframe every 256 changes, as the recorder writes them)
//   make_recording cli DIR
//       os.environ (TZ set, changed, deleted), a watch that was never found,
//       one with an opaque note, culprit code and source
//   make_recording format1 DIR
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fixture_writer.h"
#include "value_builders.h"

using namespace spyrec::testing;
using W = FixtureWriter;

namespace {

void big(const std::string& dir, uint64_t changes, uint64_t items, uint64_t item_bytes) {
    // The map must hold the keyframes: ~1 + changes/256 copies of the value.
    W w(dir, size_t((changes / 256 + 2) * items * (item_bytes + 64) + (64u << 20)));
    w.header();
    w.format(2);  // as a spyrec before format 3 (redaction) wrote it: still read
    w.code(1, "/src/big.py", "<module>", std::string(8, '\0'));
    Value list = V(Kind::List);
    for (uint64_t i = 0; i < items; ++i) list.items.push_back(S(std::string(item_bytes, char('a' + i % 26))));
    w.watch(1, "app.BIG", value_fn(list));
    for (uint64_t seq = 1; seq <= changes; ++seq) {
        ChangeSpec c;
        c.seq = seq;
        c.stack = {{1, 2, 1}};
        c.ops = {Splice({}, 0, 1, {I(int64_t(seq))})};
        list.items[0] = I(int64_t(seq));
        if (seq % 256 == 0) c.keyframe = value_fn(list);
        w.change(c);
        if (seq % 1000 == 0) w.commit();
    }
    w.ending(s::Ending::How::EXITED, 0, changes, 0);
}

void cli(const std::string& dir) {
    W w(dir);
    w.header();
    w.format(2);  // as a spyrec before format 3 (redaction) wrote it: still read
    std::string bytecode(8, '\0');
    bytecode[2] = static_cast<char>(W::kStoreSubscr);
    w.code(1, "fixture/app.py", "<module>", bytecode);
    w.source("fixture/app.py", "import os\nos.environ['TZ'] = 'UTC'\n");
    w.watch(1, "os.environ", value_fn(D({{S("HOME"), S("/home/user")}})));
    WatchNotes never;
    never.ever_resolved = false;
    never.unresolved_reason = "`__main__` has no SETINGS";
    w.watch(2, "__main__.SETINGS", {}, 0, never);
    WatchNotes opaque;
    opaque.opaque = {{"numpy.ndarray", "rebinding only", "['arr']"}};
    w.watch(3, "app.STATE", value_fn(D({{S("arr"), Ref("numpy.ndarray", 0x51, "")}})), 0, opaque);
    auto change = [&](uint64_t seq, Op op) {
        ChangeSpec c;
        c.seq = seq;
        c.stack = {{1, 2, 2}};
        c.opcode = W::kStoreSubscr;
        c.ops = {std::move(op)};
        w.change(c);
    };
    change(1, SetItem({}, S("TZ"), S("UTC")));
    change(2, SetItem({}, S("HOME"), S("/x")));
    change(3, SetItem({}, S("TZ"), S("Europe/Paris")));
    change(4, DelItem({}, S("TZ")));
    w.ending(s::Ending::How::EXITED, 0, 4, 0);
}

}  // namespace

int main(int argc, char** argv) {
    std::string mode = argc > 2 ? argv[1] : "";
    try {
        if (mode == "big" && argc == 6) {
            big(argv[2], std::strtoull(argv[3], nullptr, 10), std::strtoull(argv[4], nullptr, 10),
                std::strtoull(argv[5], nullptr, 10));
        } else if (mode == "cli" && argc == 3) {
            cli(argv[2]);
        } else if (mode == "format1" && argc == 3) {
            W w(argv[2]);
            w.header();
            w.format(1);
        } else {
            std::fprintf(stderr, "usage: make_recording (big DIR CHANGES ITEMS ITEM_BYTES | cli DIR | format1 DIR)\n");
            return 2;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make_recording: %s\n", e.what());
        return 1;
    }
    return 0;
}
