#pragma once
// One step of a spin-wait: tells the CPU this is a wait loop (the sibling hyper-thread gets the
// core, and leaving the loop does not flush the pipeline on a memory-order mis-speculation).

namespace seismo::core {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

} // namespace seismo::core
