/* Standalone replay: run inputs (files, or every file in a folder) from the
 * device reset state, as the fuzz engines do. A finding aborts with its
 * report; a clean run exits 0. */
#include "harness/inproc/inproc.h"

int main(int argc, char **argv)
{
    return hv_replay_main(argc, argv);
}
