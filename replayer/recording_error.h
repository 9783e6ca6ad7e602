// The one error type of the replayer: anything wrong with a recording (missing,
// not a recording, newer format, damaged bytes). what() is always one line, fit
// to print after "spyrec: " with no traceback.
#pragma once
#include <stdexcept>
#include <string>

namespace spyrec::replayer {

class RecordingError : public std::runtime_error {
public:
    explicit RecordingError(const std::string& message) : std::runtime_error(one_line(message)) {}

private:
    static std::string one_line(std::string text) {
        for (char& c : text) {
            if (c == '\n' || c == '\r') c = ' ';
        }
        return text;
    }
};

}  // namespace spyrec::replayer
