/* AFL++ persistent shared-memory mode (afl-clang-fast). Given arguments,
 * replays them instead, like the replay binary. */
#include "harness/inproc/inproc.h"

#include <unistd.h>

__AFL_FUZZ_INIT();

int main(int argc, char **argv)
{
    if (argc > 1)
        return hv_replay_main(argc, argv);
#ifdef __AFL_HAVE_MANUAL_CONTROL
    __AFL_INIT();
#endif
    unsigned char *buf = __AFL_FUZZ_TESTCASE_BUF;
    while (__AFL_LOOP(1000000)) {
        int len = __AFL_FUZZ_TESTCASE_LEN;
        LLVMFuzzerTestOneInput(buf, (size_t)len);
    }
    return 0;
}
