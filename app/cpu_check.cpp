// Refuses to start on a CPU without the instructions the build targets (SEISMO_AVX2), with a
// message instead of an illegal-instruction crash. Runs before main() and before other
// static initialisers that might already use them.
#include <cstdio>
#include <cstdlib>

#if defined(SEISMO_AVX2)
namespace {
__attribute__((constructor(101))) void seismo_cpu_check() {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("bmi") ||
        !__builtin_cpu_supports("bmi2") || !__builtin_cpu_supports("popcnt")) {
        std::fputs("seismo: this build needs an x86-64 CPU with AVX2, BMI1/2 and POPCNT "
                   "(rebuild with -DSEISMO_AVX2=OFF for older CPUs)\n",
                   stderr);
        std::_Exit(1);
    }
}
} // namespace
#endif
