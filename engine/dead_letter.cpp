#include "engine/dead_letter.hpp"

#include "engine/core/json_writer.hpp"

namespace seismo::engine {

dead_letter::dead_letter(const std::string& path) {
    if (!path.empty()) out_ = output_file(path, true);
}

void dead_letter::write(core::nanos recv_ts, std::string_view feed, std::uint64_t position,
                        feeds::reject_reason reason, std::string_view detail,
                        std::string_view frame) {
    if (!out_.is_open()) return;
    line_.clear();
    line_ += R"({"recv_ts":)";
    core::append_json_time(line_, recv_ts);
    line_ += R"(,"feed":)";
    core::append_json_string(line_, feed);
    if (position != 0) {
        line_ += R"(,"line":)";
        core::append_uint(line_, position);
    }
    line_ += R"(,"reason":")";
    line_ += feeds::to_string(reason);
    line_ += R"(","detail":)";
    core::append_json_string(line_, detail);
    line_ += R"(,"frame":)";
    core::append_json_string(line_, frame);
    line_ += "}\n";
    out_.write(line_);
}

} // namespace seismo::engine
