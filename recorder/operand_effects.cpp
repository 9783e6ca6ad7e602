#include "operand_effects.h"

#include <string_view>

namespace spyrec::recorder {

std::array<OperandRule, 256> OperandEffects::rules_by_name(const std::vector<std::string>& opnames) {
    std::array<OperandRule, 256> rules{};
    for (size_t op = 0; op < opnames.size() && op < 256; ++op) {
        std::string_view n = opnames[op];
        OperandRule r = OperandRule::kNone;
        if (n == "STORE_SUBSCR")
            r = OperandRule::kSubscrStore;
        else if (n == "DELETE_SUBSCR")
            r = OperandRule::kSubscrDelete;
        else if (n == "STORE_SLICE")
            r = OperandRule::kSliceStore;
        else if (n == "BINARY_OP")
            r = OperandRule::kInplaceBinary;  // only its in-place forms get events
        else if (n == "FOR_ITER")
            r = OperandRule::kIterStep;
        else if (n == "SEND")
            r = OperandRule::kSend;
        else if (n == "UNPACK_SEQUENCE" || n == "UNPACK_EX")
            r = OperandRule::kUnpack;
        else if (n == "LIST_EXTEND" || n == "SET_UPDATE")
            r = OperandRule::kExtend;
        else if (n == "CALL_FUNCTION_EX")
            r = OperandRule::kCallUnpack;
        rules[op] = r;
    }
    return rules;
}

bool OperandEffects::init(const std::array<OperandRule, 256>& rules, const CleanCalls* calls) {
    rules_ = rules;
    calls_ = calls;
    return calls_ != nullptr;
}

}  // namespace spyrec::recorder
