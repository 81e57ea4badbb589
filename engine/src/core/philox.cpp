// Philox is header-only for inlining into kernels; this unit keeps a known-answer check of the
// implementation next to it (the Random123 test vector), used by tst_ops.
#include "core/philox.h"

namespace ckpt::philox {

bool self_test() {
    // Random123 kat_vectors: philox4x32 10 rounds, counter = key = 0.
    Block r = philox4x32_10(0, 0, 0);
    return r[0] == 0x6627e8d5u && r[1] == 0xe169c58du && r[2] == 0xbc57ac4cu && r[3] == 0x9b00dbd8u;
}

}  // namespace ckpt::philox
