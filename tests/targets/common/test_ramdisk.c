/* targets/common/ramdisk.c: bounds, data, discard, cheap reset. */
#include <string.h>

#include "hv_test.h"
#include "targets/common/hv_backend.h"

int main(void)
{
    struct hv_blk *b = hv_ramdisk_create(64 * 1024);
    uint8_t buf[512], out[512];

    CHECK(b != NULL);
    CHECK_EQ(b->size, 64 * 1024);
    memset(buf, 0xa5, sizeof(buf));
    CHECK_EQ(hv_blk_write(b, 4096, buf, sizeof(buf)), 0);
    CHECK_EQ(hv_blk_read(b, 4096, out, sizeof(out)), 0);
    CHECK(memcmp(buf, out, sizeof(buf)) == 0);
    /* the last sector is addressable, one byte more is not */
    CHECK_EQ(hv_blk_write(b, 64 * 1024 - 512, buf, 512), 0);
    CHECK_EQ(hv_blk_write(b, 64 * 1024 - 511, buf, 512), -1);
    CHECK_EQ(hv_blk_read(b, UINT64_MAX - 10, out, 512), -1);
    CHECK_EQ(hv_blk_discard(b, 4096, 256), 0);
    CHECK_EQ(hv_blk_read(b, 4096, out, 512), 0);
    CHECK_EQ(out[0], 0);
    CHECK_EQ(out[255], 0);
    CHECK_EQ(out[256], 0xa5);
    CHECK_EQ(hv_blk_flush(b), 0);
    b->ops->reset(b);
    CHECK_EQ(hv_blk_read(b, 4096, out, 512), 0);
    CHECK_EQ(out[256], 0);
    CHECK_EQ(hv_blk_read(b, 64 * 1024 - 512, out, 512), 0);
    CHECK_EQ(out[0], 0);
    b->read_only = true;
    CHECK_EQ(hv_blk_write(b, 0, buf, 1), -1);
    b->ops->destroy(b);

    /* more dirty chunks than the reset list holds: reset still zeroes all */
    b = hv_ramdisk_create(4 << 20);
    for (uint64_t c = 0; c < 600; c++)
        CHECK_EQ(hv_blk_write(b, c * 4096 + 7, buf, 1), 0);
    b->ops->reset(b);
    for (uint64_t c = 0; c < 600; c++) {
        CHECK_EQ(hv_blk_read(b, c * 4096 + 7, out, 1), 0);
        if (out[0] != 0) {
            CHECK_EQ(out[0], 0);
            break;
        }
    }
    /* and after that, the short list works again */
    CHECK_EQ(hv_blk_write(b, 8192, buf, 1), 0);
    b->ops->reset(b);
    CHECK_EQ(hv_blk_read(b, 8192, out, 1), 0);
    CHECK_EQ(out[0], 0);
    b->ops->destroy(b);
    return hv_test_done("test_ramdisk");
}
