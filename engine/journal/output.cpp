#include "engine/journal/output.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <unistd.h>

namespace seismo::journal {

output_file::output_file(const std::string& path, bool append) : path_(path) {
    if (path == "-") {
        fd_ = 1;
    } else {
        fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC),
                     0644);
        if (fd_ < 0) throw std::runtime_error(path + ": " + std::strerror(errno));
    }
    buf_.reserve(k_flush_at + 4096);
}

output_file::~output_file() {
    try {
        close();
    } catch (...) { // NOLINT(bugprone-empty-catch): a destructor must not throw; close() reports
    }
}

output_file::output_file(output_file&& o) noexcept
    : fd_(o.fd_), path_(std::move(o.path_)), buf_(std::move(o.buf_)) {
    o.fd_ = -1;
}

output_file& output_file::operator=(output_file&& o) noexcept {
    if (this != &o) {
        try {
            close();
        } catch (...) { // NOLINT(bugprone-empty-catch)
        }
        fd_ = o.fd_;
        path_ = std::move(o.path_);
        buf_ = std::move(o.buf_);
        o.fd_ = -1;
    }
    return *this;
}

void output_file::flush() {
    if (fd_ < 0) {
        buf_.clear();
        return;
    }
    const char* p = buf_.data();
    std::size_t n = buf_.size();
    while (n > 0) {
        const ssize_t w = ::write(fd_, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            buf_.clear();
            throw std::runtime_error(path_ + ": " + std::strerror(errno));
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    buf_.clear();
}

void output_file::close() {
    if (fd_ < 0) return;
    flush();
    if (fd_ > 2) ::close(fd_);
    fd_ = -1;
}

} // namespace seismo::journal
