#include "engine/journal/dead_letter.hpp"

#include "engine/core/json_writer.hpp"

namespace seismo::journal {

dead_letter::dead_letter(const std::string& path) : path_(path) {
    if (!path.empty()) out_ = output_file(path, true);
}

void dead_letter::head(core::nanos recv_ts, std::string_view feed, std::uint32_t frame_no,
                       core::reject_reason reason, std::string_view detail) {
    line_.clear();
    line_ += R"({"recv_ts":)";
    core::append_json_time(line_, recv_ts);
    line_ += R"(,"feed":)";
    core::append_json_string(line_, feed);
    if (frame_no != 0) {
        line_ += R"(,"frame_no":)";
        core::append_uint(line_, frame_no);
    }
    line_ += R"(,"reason":")";
    line_ += core::to_string(reason);
    line_ += R"(","detail":)";
    core::append_json_string(line_, detail);
}

void dead_letter::frame(core::nanos recv_ts, std::string_view feed, std::uint32_t frame_no,
                        core::reject_reason reason, std::string_view detail,
                        std::string_view frame) {
    if (!out_.is_open()) return;
    head(recv_ts, feed, frame_no, reason, detail);
    line_ += R"(,"frame":)";
    core::append_json_string(line_, frame);
    line_ += "}\n";
    out_.write(line_);
}

void dead_letter::tick(core::nanos recv_ts, std::string_view feed, std::uint32_t frame_no,
                       core::reject_reason reason, std::string_view detail,
                       std::string_view tick_json) {
    if (!out_.is_open()) return;
    head(recv_ts, feed, frame_no, reason, detail);
    line_ += R"(,"tick":)";
    line_ += tick_json;
    line_ += "}\n";
    out_.write(line_);
}

void dead_letter::reopen() {
    if (path_.empty()) return;
    out_.close();
    out_ = output_file(path_, true);
}

} // namespace seismo::journal
