#pragma once
// Names the calling thread (at most 15 characters, as Linux keeps them), so that `top -H`,
// `ps -L`, perf and gdb show which of seismo's threads is which.

#include <pthread.h>

namespace seismo::core {

inline void name_this_thread(const char* name) noexcept {
    (void)pthread_setname_np(pthread_self(), name);
}

} // namespace seismo::core
