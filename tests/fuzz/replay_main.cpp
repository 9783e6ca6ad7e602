// Replays fuzz inputs (the committed corpus and the crashers) through a fuzz
// target without libFuzzer, so the regression test runs in the ordinary
// GCC ctest build, under ASan and UBSan: `fuzz_replay_<target> FILE_OR_DIR...`.
// Exit 0 when every input ran; 1 when there was nothing to run (a
// regression test that replays nothing cannot fail).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fs = std::filesystem;

static void run_file(const fs::path& p, int& count) {
    std::ifstream in(p, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    ++count;
}

int main(int argc, char** argv) {
    int count = 0;
    for (int i = 1; i < argc; ++i) {
        fs::path p(argv[i]);
        if (!fs::exists(p)) continue;
        if (fs::is_directory(p)) {
            for (const auto& entry : fs::directory_iterator(p)) {
                if (entry.is_regular_file() && entry.path().filename().string()[0] != '.')
                    run_file(entry.path(), count);
            }
        } else {
            run_file(p, count);
        }
    }
    std::printf("fuzz_replay: %d inputs ran clean\n", count);
    return count > 0 ? 0 : 1;
}
